import { describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { createServer, type Server } from 'node:http';
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT, tempDir, vpm, vpmJson, VPM_BIN } from '../helpers/cli.js';

const today = () => new Date().toISOString().slice(0, 10);

function seedChat(cwd: string, count: number, offset = 0): void {
  mkdirSync(join(cwd, 'logs'), { recursive: true });
  const lines: string[] = [];
  for (let i = 0; i < count; i++) {
    const n = offset + i;
    lines.push(
      JSON.stringify({
        v: 1,
        id: `chat_20260101T000000Z_${n.toString(16).padStart(6, '0')}`,
        ts: new Date(Date.UTC(2026, 0, 1, 0, 0, 0, n % 1000)).toISOString(),
        session: 's1',
        role: n % 2 ? 'assistant' : 'user',
        text: `Turn ${n}: we decided to ship build ${n % 97}. 次に canary を確認します。 See reports/run${n % 13}.json.`,
      }),
    );
  }
  appendFileSync(join(cwd, 'logs', '2026-01-01.jsonl'), `${lines.join('\n')}\n`);
}

describe('memory loop under concurrency and crashes', () => {
  it('8 processes × 500 concurrent appends → exactly 4,000 valid lines, none lost or torn', async () => {
    const cwd = tempDir();
    // Each worker process appends 500 entries, 10 at a time, through the same code paths as `vpm chat
    // append` and (every third entry) `vpm chat import`'s batch append, which share the day file's lock.
    const worker = `
      const { appendChatEntry, appendChatEntries } = await import(${JSON.stringify(join(REPO_ROOT, 'dist/memory/chat-log.js'))});
      const [cwd, wid] = process.argv.slice(1);
      let next = 0;
      async function lane() {
        while (next < 500) {
          const i = next++;
          const turn = { role: 'user', text: 'w' + wid + '-' + i + ' ' + 'x'.repeat(i % 7 === 0 ? 70000 : 40) };
          if (i % 3 === 0) await appendChatEntries(cwd, [{ ...turn, id: 'chat_20260101T000000Z_w' + wid + 'i' + i }], new Date(), {});
          else await appendChatEntry(cwd, turn, new Date(), {});
        }
      }
      await Promise.all(Array.from({ length: 10 }, lane));
    `;
    await Promise.all(
      Array.from({ length: 8 }, (_, w) =>
        execa(process.execPath, ['--input-type=module', '-e', worker, cwd, String(w)], { timeout: 240_000 }),
      ),
    );
    const lines = readFileSync(join(cwd, 'logs', `${today()}.jsonl`), 'utf8').split('\n');
    expect(lines.pop()).toBe('');
    expect(lines).toHaveLength(4000);
    const seen = new Set<string>();
    for (const line of lines) {
      const e = JSON.parse(line);
      seen.add(e.text.split(' ')[0]);
    }
    expect(seen.size).toBe(4000);
    expect(existsSync(join(cwd, 'logs', `${today()}.jsonl.lock`)), 'a lock left behind').toBe(false);
  }, 300_000);

  it('concurrent real `vpm chat append` processes lose nothing', async () => {
    const cwd = tempDir();
    await Promise.all(
      Array.from({ length: 8 }, async (_, w) => {
        for (let i = 0; i < 10; i++) {
          const r = await vpm(['chat', 'append', '--text', `p${w}-${i}`], { cwd });
          expect(r.exitCode).toBe(0);
        }
      }),
    );
    const lines = readFileSync(join(cwd, 'logs', `${today()}.jsonl`), 'utf8')
      .trim()
      .split('\n');
    expect(new Set(lines.map((l) => JSON.parse(l).text)).size).toBe(80);
  }, 300_000);

  it('SIGKILL at random moments of `vpm summary` (60 trials) never leaves memory.json unparsable', async () => {
    const cwd = tempDir();
    seedChat(cwd, 500);
    // One whole run first: memory.json exists, so every kill below lands on a rewrite of it (the case
    // that could corrupt it), and the kills are spread over as long as a run takes on this machine
    // right now, so they hit reading, summarising and writing alike however loaded it is.
    const started = performance.now();
    const first = await vpm(['summary'], { cwd });
    expect(first.exitCode, String(first.stderr)).toBe(0);
    const runMs = performance.now() - started;
    let killedMidRun = 0;
    for (let trial = 0; trial < 60; trial++) {
      seedChat(cwd, 300, 500 + trial * 300);
      const child = execa(process.execPath, [VPM_BIN, '--cwd', cwd, 'summary'], { reject: false });
      await new Promise((r) => setTimeout(r, Math.random() * runMs * 1.5));
      child.kill('SIGKILL');
      if ((await child).signal === 'SIGKILL') killedMidRun++;
      const memory = JSON.parse(readFileSync(join(cwd, 'memory.json'), 'utf8'));
      expect(memory.version).toBe(1);
    }
    // Most kills land before the run is over (the rest after it ended, which is fine too).
    expect(killedMidRun).toBeGreaterThan(0);
    // The next run after all the kills recovers: stale locks of dead processes are reclaimed at once.
    const r = await vpm(['summary'], { cwd });
    expect(r.exitCode, String(r.stderr)).toBe(0);
    const memory = JSON.parse(readFileSync(join(cwd, 'memory.json'), 'utf8'));
    expect(memory.cursor.file).toBe('2026-01-01.jsonl');
  }, 300_000);
});

describe('OpenAI-compatible provider against a local HTTP server', () => {
  async function startServer(
    handler: (body: any, res: import('node:http').ServerResponse, auth?: string) => void,
  ): Promise<{ server: Server; url: string; requests: any[] }> {
    const requests: any[] = [];
    const server = createServer((req, res) => {
      let data = '';
      req.on('data', (c) => (data += c));
      req.on('end', () => {
        const body = JSON.parse(data);
        requests.push({ path: req.url, body, auth: req.headers.authorization });
        handler(body, res, req.headers.authorization);
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as import('node:net').AddressInfo).port;
    return { server, url: `http://127.0.0.1:${port}/v1`, requests };
  }

  it('uses the endpoint, enforces the cap on its output and keeps the key out of logs', async () => {
    const { server, url, requests } = await startServer((_body, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(
        JSON.stringify({ choices: [{ message: { content: '要約🚀'.repeat(300) } }], usage: { prompt_tokens: 123, completion_tokens: 45 } }),
      );
    });
    try {
      const cwd = tempDir();
      const key = 'sk-test-abcdefghijklmnopqrstuvwxyz123456';
      await vpm(['chat', 'append', '--text', 'please summarise this.'], { cwd });
      const { result, json } = await vpmJson(['summary'], {
        cwd,
        env: { VPM_SUMMARY_PROVIDER: 'openai', VPM_LLM_BASE_URL: url, VPM_LLM_MODEL: 'test-model', VPM_LLM_API_KEY: key },
      });
      expect(result.exitCode).toBe(0);
      expect(requests).toHaveLength(1);
      expect(requests[0].path).toBe('/v1/chat/completions');
      expect(requests[0].body.model).toBe('test-model');
      expect(requests[0].auth).toBe(`Bearer ${key}`);
      expect(json.created.provider).toBe('openai');
      expect(json.created.chars).toBe(400);
      const log = readFileSync(join(cwd, 'logs', 'vpm.log.jsonl'), 'utf8');
      expect(log).toContain('"token_in":123');
      expect(log).not.toContain(key);
    } finally {
      server.close();
    }
  });

  it('falls back to the extractive summariser on timeout', async () => {
    const { server, url } = await startServer(() => {
      /* never answers */
    });
    try {
      const cwd = tempDir();
      await vpm(['chat', 'append', '--text', 'The deploy failed. We decided to roll back.'], { cwd });
      const { result, json } = await vpmJson(['summary', '--provider', 'openai'], {
        cwd,
        env: { VPM_LLM_BASE_URL: url, VPM_LLM_TIMEOUT_MS: '300' },
      });
      expect(result.exitCode).toBe(0);
      expect(json.created.provider).toBe('extractive');
      expect(json.created.fallback).toEqual({
        from: 'openai',
        reason: `cannot reach the LLM provider at ${url}/chat/completions: no answer within 300 ms (timeout)`,
      });
      expect(json.created.summary).toBe('The deploy failed. We decided to roll back.');
      expect(result.stderr).toMatch(/using the extractive summariser/);
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });
});

describe('vpm state patch', () => {
  function stateRepo(): string {
    const cwd = tempDir();
    mkdirSync(join(cwd, 'STATE'));
    writeFileSync(
      join(cwd, 'STATE', 'current_state.md'),
      '---\nphase: S1\nupdated_at: "2026-01-01T00:00:00.000Z"\n---\n\n# Current state\n\n## C\n\nnow\n\n## G\n\n- G-1: one\n- G-2: two\n\n## δ\n\nnext\n\n## Notes\n\nkeep me\n',
    );
    return cwd;
  }

  it('applies an RFC 6902 patch with --yes, shows the diff and records the change in memory', async () => {
    const cwd = stateRepo();
    writeFileSync(
      join(cwd, 'p.json'),
      JSON.stringify([
        { op: 'add', path: '/goals/-', value: { id: 'G-3', text: 'north star' } },
        { op: 'replace', path: '/phase', value: 'S2' },
      ]),
    );
    const r = await vpm(['state', 'patch', 'p.json', '--yes'], { cwd });
    expect(r.exitCode, String(r.stderr)).toBe(0);
    expect(r.stderr).toContain('+- G-3: north star');
    const md = readFileSync(join(cwd, 'STATE', 'current_state.md'), 'utf8');
    expect(md).toContain('- G-3: north star');
    expect(md).toContain('phase: "S2"');
    expect(md).toContain('keep me');
    const show = await vpmJson(['state', 'show'], { cwd });
    expect(show.json.goals.map((g: any) => g.id)).toEqual(['G-1', 'G-2', 'G-3']);
    const memory = JSON.parse(readFileSync(join(cwd, 'memory.json'), 'utf8'));
    expect(memory.entries[0].kind).toBe('state_patch');
    expect(memory.entries[0].summary).toContain('add /goals/-');
  });

  it.each([
    [
      [{ op: 'replace', path: '/phase', value: 'S1\nS2' }],
      'STATE/current_state.md after the patch is invalid:\n  phase: must be a single line',
    ],
    [[{ op: 'move', from: '/nope', path: '/x' }], 'patch operation 0 (move /x) cannot apply: from /nope does not exist'],
    [
      [{ op: 'test', path: '/phase', value: 'S9' }],
      'patch operation 0 (test /phase) cannot apply: the value at /phase is not the one the test expects',
    ],
    [[{ op: 'remove', path: '/goals/7' }], 'patch operation 0 (remove /goals/7) cannot apply: /goals/7 does not exist'],
  ])('a patch it cannot apply (%j) says why in words, exit 2, STATE unchanged', async (ops, message) => {
    const cwd = stateRepo();
    const before = readFileSync(join(cwd, 'STATE', 'current_state.md'), 'utf8');
    writeFileSync(join(cwd, 'p.json'), JSON.stringify(ops));
    const r = await vpmJson(['state', 'patch', 'p.json', '--yes'], { cwd });
    expect(r.result.exitCode).toBe(2);
    expect(r.json.error.message).toBe(message);
    expect(readFileSync(join(cwd, 'STATE', 'current_state.md'), 'utf8')).toBe(before);
  });

  it('without --yes and without a TTY fails fast with exit 2 and changes nothing; --dry-run shows the diff', async () => {
    const cwd = stateRepo();
    const before = readFileSync(join(cwd, 'STATE', 'current_state.md'), 'utf8');
    writeFileSync(join(cwd, 'p.json'), JSON.stringify([{ op: 'replace', path: '/phase', value: 'S9' }]));
    const r = await vpm(['state', 'patch', 'p.json'], { cwd });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/--yes/);
    const dry = await vpm(['state', 'patch', 'p.json', '--dry-run'], { cwd });
    expect(dry.exitCode).toBe(0);
    expect(dry.stdout).toContain('+phase: "S9"');
    expect(readFileSync(join(cwd, 'STATE', 'current_state.md'), 'utf8')).toBe(before);
  });

  it('refuses a patch that would duplicate a goal id, and state check catches duplicates', async () => {
    const cwd = stateRepo();
    const before = readFileSync(join(cwd, 'STATE', 'current_state.md'), 'utf8');
    writeFileSync(join(cwd, 'p.json'), JSON.stringify([{ op: 'add', path: '/goals/-', value: { id: 'G-1', text: 'dup' } }]));
    const r = await vpm(['state', 'patch', 'p.json', '--yes'], { cwd });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/goals\.2\.id: duplicate goal id G-1/);
    expect(readFileSync(join(cwd, 'STATE', 'current_state.md'), 'utf8')).toBe(before);
    writeFileSync(join(cwd, 'STATE', 'current_state.md'), before.replace('- G-2: two', '- G-1: two'));
    expect((await vpm(['state', 'check'], { cwd })).exitCode).toBe(2);
    writeFileSync(join(cwd, 'bad.json'), JSON.stringify([{ op: 'replace', path: '/nope/x', value: 1 }]));
    writeFileSync(join(cwd, 'STATE', 'current_state.md'), before);
    const bad = await vpm(['state', 'patch', 'bad.json', '--yes'], { cwd });
    expect(bad.exitCode).toBe(2);
  });
});
