/**
 * `vpm chat import` against transcripts the real clients write: Codex CLI and Aider (versions pinned
 * in scripts/install-tools.sh, installed by it and by .ci/run) run non-interactively in temp git
 * repos, against a local HTTP server on 127.0.0.1 that answers their OpenAI-compatible API
 * (Codex: the Responses API over SSE; Aider: chat completions through litellm) with scripted
 * replies, one of which makes the agent run a shell command. Claude Code's licence does not suit CI,
 * so its part uses fixtures written from its public documentation of the session JSONL format.
 * A client that cannot run fails its test with the reason; nothing here skips.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { createServer, type Server } from 'node:http';
import { existsSync, mkdirSync, readFileSync, readdirSync, truncateSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT, tempDir, vpm, vpmJson } from '../helpers/cli.js';

const installScript = readFileSync(join(REPO_ROOT, 'scripts', 'install-tools.sh'), 'utf8');
const pin = (name: string): string => {
  const m = new RegExp(`^${name}="([^"]+)"`, 'm').exec(installScript);
  if (!m?.[1]) throw new Error(`${name} not found in scripts/install-tools.sh`);
  return m[1];
};
const TOOLS = process.env.VPM_TOOLS_CACHE ?? join(homedir(), '.cache', 'vpm-tools');
const CODEX = join(TOOLS, `codex-${pin('CODEX_VERSION')}`, 'node_modules', '.bin', 'codex');
const AIDER = join(TOOLS, `aider-${pin('AIDER_VERSION')}`, 'bin', 'aider');

function requireClient(bin: string, name: string): void {
  if (!existsSync(bin)) {
    throw new Error(`${name} is not installed at ${bin}: run bash scripts/install-tools.sh (CI runs it from .ci/run)`);
  }
}

/** A scripted OpenAI-compatible server: `reply` maps each parsed request body to the response it sends. */
async function startServer(
  reply: (path: string, body: any, res: import('node:http').ServerResponse) => void,
): Promise<{ server: Server; base: string; requests: any[] }> {
  const requests: any[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      let parsed: any = {};
      try {
        parsed = body ? JSON.parse(body) : {};
      } catch {
        /* not JSON: answered by the script as an empty body */
      }
      requests.push({ path: req.url, body: parsed });
      reply(req.url ?? '', parsed, res);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as { port: number }).port;
  return { server, base: `http://127.0.0.1:${port}/v1`, requests };
}

async function gitRepo(): Promise<string> {
  const dir = tempDir('vpm-import-repo-');
  await execa('git', ['init', '-q'], { cwd: dir });
  await execa('git', ['config', 'user.email', 'test@example.com'], { cwd: dir });
  await execa('git', ['config', 'user.name', 'test'], { cwd: dir });
  return dir;
}

function chatEntries(repo: string): any[] {
  const logs = join(repo, 'logs');
  if (!existsSync(logs)) return [];
  return readdirSync(logs)
    .filter((f) => /^\d{4}-\d{2}-\d{2}\.jsonl$/.test(f))
    .flatMap((f) => readFileSync(join(logs, f), 'utf8').trim().split('\n').filter(Boolean))
    .map((l) => JSON.parse(l));
}

function cutToLines(file: string, keep: number): void {
  const lines = readFileSync(file, 'utf8').split('\n');
  const bytes = Buffer.byteLength(`${lines.slice(0, keep).join('\n')}\n`);
  truncateSync(file, bytes);
}

// ---------------------------------------------------------------------------------------------
describe('chat import: real Codex CLI', () => {
  let srv: Awaited<ReturnType<typeof startServer>>;
  const sse = (res: import('node:http').ServerResponse, events: any[]) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    for (const ev of events) res.write(`event: ${ev.type}\ndata: ${JSON.stringify(ev)}\n\n`);
    res.end();
  };
  beforeAll(async () => {
    let n = 0;
    srv = await startServer((path, body, res) => {
      if (!path.endsWith('/responses')) {
        res.writeHead(404).end('{}');
        return;
      }
      n++;
      const input: any[] = body.input ?? [];
      const last = input[input.length - 1] ?? {};
      const lastUser = [...input].reverse().find((i) => i.type === 'message' && i.role === 'user');
      const userText = JSON.stringify(lastUser?.content ?? '');
      const usage = { input_tokens: 1, output_tokens: 1, total_tokens: 2 };
      let item: any;
      if (last.type === 'function_call_output') {
        item = {
          type: 'message',
          role: 'assistant',
          id: `msg_done_${n}`,
          content: [{ type: 'output_text', text: 'The greeting ran and exited with 3.' }],
        };
      } else if (userText.includes('greeting')) {
        // The scripted reply that makes Codex run a shell command (its exec_command tool).
        item = {
          type: 'function_call',
          id: `fc_${n}`,
          call_id: `call_${n}`,
          name: 'exec_command',
          arguments: JSON.stringify({ cmd: 'echo hello-from-codex; exit 3' }),
        };
      } else {
        item = {
          type: 'message',
          role: 'assistant',
          id: `msg_second_${n}`,
          content: [{ type: 'output_text', text: 'Second answer: nothing to run.' }],
        };
      }
      sse(res, [
        { type: 'response.created', response: { id: `resp_${n}` } },
        { type: 'response.output_item.done', item },
        { type: 'response.completed', response: { id: `resp_${n}`, usage } },
      ]);
    });
  });
  afterAll(() => srv?.server.close());

  it('imports every turn and the command with its exit code; re-run adds 0; a second run adds only its turns; truncation does not duplicate', async () => {
    requireClient(CODEX, 'Codex CLI');
    const version = (await execa(CODEX, ['--version'])).stdout.trim();
    console.log(`client: ${version} (pinned ${pin('CODEX_VERSION')})`);
    const repo = await gitRepo();
    const home = tempDir('vpm-import-home-');
    const codexHome = join(home, '.codex');
    mkdirSync(codexHome);
    const env = { HOME: home, CODEX_HOME: codexHome, VPM_MOCK_KEY: 'local-test-key' };
    const provider = `model_providers.mock={name="mock",base_url="${srv.base}",wire_api="responses",env_key="VPM_MOCK_KEY"}`;
    // danger-full-access: the container runs as root without the kernel features Codex's sandbox
    // needs; approval "never" comes with exec mode, so nothing waits for a human.
    const codexArgs = [
      '--skip-git-repo-check',
      '-s',
      'danger-full-access',
      '-c',
      'model_provider=mock',
      '-c',
      'model=gpt-mock',
      '-c',
      provider,
    ];
    const run1 = await execa(CODEX, ['exec', ...codexArgs, 'please run the greeting'], {
      cwd: repo,
      env,
      input: '',
      reject: false,
      timeout: 120_000,
    });
    expect(run1.exitCode, `codex exec failed: ${run1.stderr}`).toBe(0);

    const vpmEnv = { HOME: home, CODEX_HOME: codexHome };
    const first = await vpmJson(['chat', 'import', '--from', 'codex'], { cwd: repo, env: vpmEnv });
    expect(first.result.exitCode, String(first.result.stderr)).toBe(0);
    expect(first.json.files).toHaveLength(1);
    const rollout: string = first.json.files[0].file;
    expect(rollout).toMatch(/sessions\/\d{4}\/\d{2}\/\d{2}\/rollout-.*\.jsonl$/);
    let entries = chatEntries(repo);
    expect(entries.map((e) => e.role)).toEqual(['user', 'tool', 'assistant']);
    expect(entries[0].text).toBe('please run the greeting');
    expect(entries[1].meta).toMatchObject({
      command: 'echo hello-from-codex; exit 3',
      exit_code: 3,
      source: { tool: 'codex', file: rollout },
    });
    expect(entries[1].text).toContain('hello-from-codex');
    expect(entries[2].text).toBe('The greeting ran and exited with 3.');
    expect(entries[0].meta.source.session_id).toMatch(/^[0-9a-f-]{36}$/);

    const again = await vpmJson(['chat', 'import', '--from', 'codex'], { cwd: repo, env: vpmEnv });
    expect(again.json.totals.imported).toBe(0);
    expect(chatEntries(repo)).toHaveLength(3);

    // A second real run in the same session appends its turns to the same rollout file.
    const run2 = await execa(CODEX, ['exec', ...codexArgs, 'resume', '--last', 'a second question'], {
      cwd: repo,
      env,
      input: '',
      reject: false,
      timeout: 120_000,
    });
    expect(run2.exitCode, `codex exec resume failed: ${run2.stderr}`).toBe(0);
    const second = await vpmJson(['chat', 'import', '--from', 'codex'], { cwd: repo, env: vpmEnv });
    expect(second.json.totals.imported, JSON.stringify(second.json)).toBe(2);
    entries = chatEntries(repo);
    expect(entries.slice(3).map((e) => [e.role, e.text])).toEqual([
      ['user', 'a second question'],
      ['assistant', 'Second answer: nothing to run.'],
    ]);

    const dry = await vpmJson(['chat', 'import', '--from', 'codex', '--dry-run', rollout], { cwd: repo, env: vpmEnv });
    expect(dry.json).toMatchObject({ dry_run: true, totals: { imported: 0 } });

    // Truncated (cut to its first lines): detected, read again from the start, nothing duplicated.
    cutToLines(rollout, 12);
    const afterCut = await vpmJson(['chat', 'import', '--from', 'codex'], { cwd: repo, env: vpmEnv });
    expect(afterCut.json.files[0].status).toBe('reread');
    expect(afterCut.json.totals.imported).toBe(0);
    expect(chatEntries(repo)).toHaveLength(5);
    expect(new Set(chatEntries(repo).map((e) => e.id)).size).toBe(5);
  }, 300_000);
});

// ---------------------------------------------------------------------------------------------
describe('chat import: real Aider', () => {
  let srv: Awaited<ReturnType<typeof startServer>>;
  beforeAll(async () => {
    let n = 0;
    srv = await startServer((_path, body, res) => {
      n++;
      const msgs: any[] = body.messages ?? [];
      const lastUser = [...msgs].reverse().find((m) => m.role === 'user');
      const text = JSON.stringify(lastUser?.content ?? '');
      // The first scripted reply suggests a shell command, which Aider runs when the user says yes.
      const content = text.includes('greeting')
        ? 'I will run the greeting.\n\n```bash\necho hello-from-aider\n```\n'
        : 'Second answer: nothing to run.';
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          id: `chatcmpl-${n}`,
          object: 'chat.completion',
          created: 1,
          model: 'gpt-mock',
          choices: [{ index: 0, finish_reason: 'stop', message: { role: 'assistant', content } }],
          usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
        }),
      );
    });
  });
  afterAll(() => srv?.server.close());

  it('imports every turn and the command it ran; re-run adds 0; a second run adds only its turns; truncation does not duplicate', async () => {
    requireClient(AIDER, 'Aider');
    const version = (await execa(AIDER, ['--version'], { env: { HOME: tempDir() } })).stdout.trim();
    console.log(`client: ${version} (pinned ${pin('AIDER_VERSION')})`);
    const repo = await gitRepo();
    const home = tempDir('vpm-import-home-');
    const env = { HOME: home, OPENAI_API_KEY: 'local-test-key', AIDER_ANALYTICS: 'false' };
    const aiderArgs = (message: string) => [
      '--model',
      'openai/gpt-mock',
      '--openai-api-base',
      srv.base,
      '--no-stream',
      '--edit-format',
      'diff',
      '--no-check-update',
      '--no-show-model-warnings',
      '--no-analytics',
      '--no-auto-commits',
      '--no-gitignore',
      '--no-pretty',
      '--no-fancy-input',
      '--no-show-release-notes',
      '--message',
      message,
    ];
    // Answers on stdin: "yes" to running the suggested command and to adding its output.
    const run1 = await execa(AIDER, aiderArgs('please run the greeting'), {
      cwd: repo,
      env,
      input: 'y\ny\ny\ny\n',
      reject: false,
      timeout: 180_000,
    });
    expect(run1.exitCode, `aider failed: ${run1.stderr}\n${run1.stdout}`).toBe(0);
    const history = join(repo, '.aider.chat.history.md');
    expect(readFileSync(history, 'utf8')).toContain('> Running echo hello-from-aider');

    const first = await vpmJson(['chat', 'import', '--from', 'aider'], { cwd: repo });
    expect(first.result.exitCode, String(first.result.stderr)).toBe(0);
    let entries = chatEntries(repo);
    expect(entries.map((e) => e.role)).toEqual(['user', 'assistant', 'tool']);
    expect(entries[0].text).toBe('please run the greeting');
    expect(entries[1].text).toContain('echo hello-from-aider');
    // Aider 0.86 writes the command it ran, not its exit status, to the chat history.
    expect(entries[2].meta).toMatchObject({ command: 'echo hello-from-aider', source: { tool: 'aider', file: history } });

    expect((await vpmJson(['chat', 'import', '--from', 'aider'], { cwd: repo })).json.totals.imported).toBe(0);

    const run2 = await execa(AIDER, aiderArgs('a second question'), { cwd: repo, env, input: 'y\ny\n', reject: false, timeout: 180_000 });
    expect(run2.exitCode, `aider failed: ${run2.stderr}`).toBe(0);
    const second = await vpmJson(['chat', 'import', '--from', 'aider'], { cwd: repo });
    expect(second.json.totals.imported, JSON.stringify(second.json)).toBe(2);
    entries = chatEntries(repo);
    expect(entries.slice(3).map((e) => [e.role, e.text])).toEqual([
      ['user', 'a second question'],
      ['assistant', 'Second answer: nothing to run.'],
    ]);

    cutToLines(history, 20);
    const afterCut = await vpmJson(['chat', 'import', '--from', 'aider'], { cwd: repo });
    expect(afterCut.json.files[0].status).toBe('reread');
    expect(afterCut.json.totals.imported).toBe(0);
    expect(chatEntries(repo)).toHaveLength(5);
  }, 400_000);
});

// ---------------------------------------------------------------------------------------------
describe('chat import: Claude Code fixtures', () => {
  // Written from Claude Code's public documentation of its session files (~/.claude/projects/<cwd
  // with non-alphanumerics as "-">/<session>.jsonl; records user / assistant with Anthropic
  // Messages content blocks text / tool_use / tool_result, and summary), not by the client itself.
  const session = '5b9d2c1e-0000-4000-8000-000000000001';
  const rec = (o: object) => JSON.stringify(o);
  const fixture = [
    rec({ type: 'summary', summary: 'Canary for hello aborted on p95', leafUuid: 'u-4' }),
    rec({
      type: 'user',
      uuid: 'u-1',
      sessionId: session,
      timestamp: '2026-01-02T03:04:05.000Z',
      message: { role: 'user', content: 'run the tests' },
    }),
    rec({
      type: 'assistant',
      uuid: 'u-2',
      sessionId: session,
      timestamp: '2026-01-02T03:04:06.000Z',
      message: {
        id: 'msg_01',
        role: 'assistant',
        content: [
          { type: 'text', text: 'Running them now.' },
          { type: 'tool_use', id: 'toolu_01', name: 'Bash', input: { command: 'npm test' } },
        ],
      },
    }),
    rec({
      type: 'user',
      uuid: 'u-3',
      sessionId: session,
      timestamp: '2026-01-02T03:04:09.000Z',
      message: {
        role: 'user',
        content: [{ type: 'tool_result', tool_use_id: 'toolu_01', is_error: true, content: 'Exit code 1\n2 tests failed' }],
      },
    }),
    rec({ type: 'mystery-record', uuid: 'x-1' }),
    '{"type":"user", this line is cut',
    rec({
      type: 'assistant',
      uuid: 'u-4',
      sessionId: session,
      timestamp: '2026-01-02T03:04:10.000Z',
      message: {
        id: 'msg_02',
        role: 'assistant',
        content: [{ type: 'text', text: 'Two tests fail; the token is ghp_0123456789abcdefghijklmnopqrstuvwxyzAB' }],
      },
    }),
  ];

  function setup(): { repo: string; home: string; file: string } {
    const repo = tempDir('vpm-import-claude-');
    mkdirSync(join(repo, '.git'));
    const home = tempDir('vpm-import-home-');
    const dir = join(home, '.claude', 'projects', repo.replace(/[^A-Za-z0-9]/g, '-'));
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `${session}.jsonl`);
    writeFileSync(file, `${fixture.join('\n')}\n`);
    return { repo, home, file };
  }

  it('imports user/assistant/tool_use+tool_result/summary; reports the unknown record type and the malformed line; masks secrets', async () => {
    const { repo, home, file } = setup();
    const r = await vpmJson(['chat', 'import', '--from', 'claude-code'], { cwd: repo, env: { HOME: home } });
    expect(r.result.exitCode, String(r.result.stderr)).toBe(0);
    expect(r.json.files[0]).toMatchObject({ file, unknown: { 'mystery-record': 1 }, malformed: [{ line: 6 }] });
    expect(String(r.result.stderr)).toContain(`${file}:6`);
    const entries = chatEntries(repo);
    expect(entries.map((e) => e.role)).toEqual(['system', 'user', 'assistant', 'tool', 'assistant']);
    expect(entries[0].text).toBe('Summary: Canary for hello aborted on p95');
    expect(entries[3].meta).toMatchObject({
      command: 'npm test',
      exit_code: 1,
      source: { tool: 'claude-code', tool_use_id: 'toolu_01', line: 4 },
    });
    expect(entries[4].text).not.toContain('ghp_0123456789');
    expect(entries[1].session).toBe(`claude-code-${session}`);

    const human = await vpm(['chat', 'import', '--from', 'claude-code'], { cwd: repo, env: { HOME: home } });
    expect(String(human.stdout)).toContain('imported 0 turn(s)');
    expect(chatEntries(repo)).toHaveLength(5);
  });

  it('concurrent imports never duplicate a turn', async () => {
    const { repo, home } = setup();
    const runs = await Promise.all(
      [0, 1, 2, 3].map(() => vpmJson(['chat', 'import', '--from', 'claude-code'], { cwd: repo, env: { HOME: home } })),
    );
    for (const r of runs) expect(r.result.exitCode, String(r.result.stderr)).toBe(0);
    expect(runs.reduce((n, r) => n + r.json.totals.imported, 0)).toBe(5);
    const ids = chatEntries(repo).map((e) => e.id);
    expect(ids).toHaveLength(5);
    expect(new Set(ids).size).toBe(5);
  });

  it('a killed import (entries written, ids and cursor not) does not duplicate on the next run', async () => {
    const { repo, home } = setup();
    await vpmJson(['chat', 'import', '--from', 'claude-code'], { cwd: repo, env: { HOME: home } });
    // As if killed right after appending: the id list and the cursor are lost.
    writeFileSync(join(repo, 'logs', 'import-ids.txt'), '');
    const state = JSON.parse(readFileSync(join(repo, 'logs', 'import-state.json'), 'utf8'));
    delete state.log;
    state.files = {};
    writeFileSync(join(repo, 'logs', 'import-state.json'), JSON.stringify(state));
    const again = await vpmJson(['chat', 'import', '--from', 'claude-code'], { cwd: repo, env: { HOME: home } });
    expect(again.json.totals).toMatchObject({ imported: 0, duplicates: 5 });
    expect(chatEntries(repo)).toHaveLength(5);
  });

  it('vpm loop --import imports from every tool whose transcripts exist before the other stages', async () => {
    const { repo, home } = setup();
    const r = await vpmJson(['loop', '--import'], { cwd: repo, env: { HOME: home }, timeoutMs: 120_000 });
    const stage = r.json.stages?.find((s: any) => s.stage === 'chat import') ?? r.json.details?.stages?.[0];
    expect(stage, JSON.stringify(r.json)).toMatchObject({ stage: 'chat import', status: 'ok' });
    expect(stage.data.totals.imported).toBe(5);
  });
});
