import { describe, expect, it } from 'vitest';
import { existsSync, readFileSync, writeFileSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Lexer } from 'marked';
import { tempDir, vpm, vpmJson } from '../helpers/cli.js';

const segmenter = new Intl.Segmenter('und', { granularity: 'grapheme' });
const graphemeCount = (s: string) => [...segmenter.segment(s)].length;
const today = () => new Date().toISOString().slice(0, 10);

describe('memory loop in a fresh repo', () => {
  it('chat append ×3 → summary → digest produces the log, memory, digest and nav diagram', async () => {
    const cwd = tempDir();
    const texts = [
      'Let us deploy hello with a canary. We decided to gate on p95 latency.',
      'カナリアを開始しました🚀 結果は reports/canary/hello/run1.json に保存しました。次に guard を実行します。',
      'Great. TODO: open an issue if the guard fails?',
    ];
    const roles = ['user', 'assistant', 'user'];
    for (let i = 0; i < 3; i++) {
      const r = await vpm(['chat', 'append', '--role', roles[i], '--text', texts[i]], { cwd });
      expect(r.exitCode, String(r.stderr)).toBe(0);
    }
    const logFile = join(cwd, 'logs', `${today()}.jsonl`);
    const lines = readFileSync(logFile, 'utf8').trimEnd().split('\n');
    expect(lines).toHaveLength(3);
    lines.forEach((l, i) => {
      const e = JSON.parse(l);
      expect(e).toMatchObject({ v: 1, role: roles[i], text: texts[i], session: today() });
      expect(e.id).toMatch(/^chat_\d{8}T\d{6}Z_\d{3}[0-9a-f]{8}$/);
      expect(e.ts).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    });

    const first = await vpmJson(['summary'], { cwd });
    expect(first.result.exitCode).toBe(0);
    expect(first.json.created.source.count).toBe(3);
    const memory = JSON.parse(readFileSync(join(cwd, 'memory.json'), 'utf8'));
    expect(memory.version).toBe(1);
    expect(memory.entries).toHaveLength(1);
    expect(memory.entries[0].chars).toBe(graphemeCount(memory.entries[0].summary));
    expect(memory.entries[0].chars).toBeLessThanOrEqual(400);

    // A second summary with no new chat adds nothing and exits 0.
    const second = await vpmJson(['summary'], { cwd });
    expect(second.result.exitCode).toBe(0);
    expect(second.json.created).toBeNull();
    expect(JSON.parse(readFileSync(join(cwd, 'memory.json'), 'utf8')).entries).toHaveLength(1);

    // One more turn and summary: the newest entry comes first and covers only the new turn.
    await vpm(['chat', 'append', '--text', 'guard passed.'], { cwd });
    await vpm(['summary'], { cwd });
    const mem2 = JSON.parse(readFileSync(join(cwd, 'memory.json'), 'utf8'));
    expect(mem2.entries).toHaveLength(2);
    expect(mem2.entries[0].source.count).toBe(1);
    expect(mem2.entries[0].summary).toBe('guard passed.');
    expect(mem2.entries[0].created_at >= mem2.entries[1].created_at).toBe(true);

    const digest = await vpmJson(['digest'], { cwd });
    expect(digest.result.exitCode).toBe(0);
    const md = readFileSync(join(cwd, 'docs', 'sessions', `${today()}_digest.md`), 'utf8');
    expect(md).toContain('We decided to gate on p95 latency.');
    expect(md).toContain('reports/canary/hello/run1.json');
    expect(md).toMatch(/## Open items\n\n(- .*\n)*- TODO: open an issue/);
    const nav = readFileSync(join(cwd, 'diagrams', 'src', `${today()}_nav.md`), 'utf8');
    expect(nav.match(/```mermaid\nflowchart LR\n[\s\S]*?\n```/)).not.toBeNull();

    // Same input → byte-identical output.
    await vpm(['digest'], { cwd });
    expect(readFileSync(join(cwd, 'docs', 'sessions', `${today()}_digest.md`), 'utf8')).toBe(md);
    expect(readFileSync(join(cwd, 'diagrams', 'src', `${today()}_nav.md`), 'utf8')).toBe(nav);
  });

  it('chat text with Markdown/Mermaid metacharacters cannot break the digest or the diagram', async () => {
    const cwd = tempDir();
    const evil = [
      '```mermaid\ngraph TD; A-->B\n``` ] --> | # heading [link](http://x) <script>alert(1)</script> *bold* _i_ \\',
      '"]; click S0 call evil() %% comment\nend\n## G fake section --> reports/x.json | `vpm run` ]]',
      '- item\n1. ordered > quote ~~strike~~ &amp; `` double `` ticks',
    ];
    for (const text of evil) expect((await vpm(['chat', 'append', '--text', text], { cwd })).exitCode).toBe(0);
    await vpm(['summary'], { cwd });
    expect((await vpm(['digest'], { cwd })).exitCode).toBe(0);

    const md = readFileSync(join(cwd, 'docs', 'sessions', `${today()}_digest.md`), 'utf8');
    const tokens = new Lexer().lex(md);
    // Structure is exactly: title, metadata list, then eight sections each holding one list.
    const headings = tokens.filter((t) => t.type === 'heading').map((t) => (t as any).text);
    expect(headings).toEqual([
      `Session digest — ${today()}`,
      'Summaries',
      'Decisions',
      'Commands',
      'Evidence',
      'Open items',
      'Goals',
      'SLO facts',
      'Reports',
    ]);
    expect(tokens.filter((t) => t.type === 'code')).toHaveLength(0);
    expect(tokens.filter((t) => t.type === 'html')).toHaveLength(0);
    const lists = tokens.filter((t) => t.type === 'list') as any[];
    expect(lists).toHaveLength(9);
    for (const list of lists) {
      expect(list.ordered).toBe(false);
      for (const item of list.items) expect(item.tokens.every((t: any) => t.type === 'text')).toBe(true);
    }

    const nav = readFileSync(join(cwd, 'diagrams', 'src', `${today()}_nav.md`), 'utf8');
    const fences = nav.match(/^```/gm) ?? [];
    expect(fences).toHaveLength(2);
    const body = /```mermaid\n([\s\S]*?)\n```/.exec(nav)![1].split('\n');
    expect(body[0]).toBe('flowchart LR');
    // Every line is either a node declaration with a quoted, entity-escaped label, or an edge between ids.
    for (const line of body.slice(1)) {
      const label = '(?:[^"[\\]|`<>{}();#:=-]|#\\d+;)*';
      expect(line).toMatch(new RegExp(`^ {2}(?:[STF]\\d+(?:\\["${label}"\\]|\\[\\("${label}"\\)\\])|[STF]\\d+ --> [STF]\\d+)$`));
    }
  });

  it('rejects bad input with a clear message and exit 2, losing nothing', async () => {
    const cwd = tempDir();
    let r = await vpm(['chat', 'append', '--text', '   '], { cwd });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/chat text is empty/);
    r = await vpm(['chat', 'append', '--role', 'robot', '--text', 'x'], { cwd });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/robot/);
    r = await vpm(['chat', 'append'], { cwd, input: '' });
    expect(r.exitCode).toBe(2);
    r = await vpm(['chat', 'append'], { cwd, input: 'x'.repeat(1024 * 1024 + 10) });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/1 MiB/);
    expect(existsSync(join(cwd, 'logs', `${today()}.jsonl`))).toBe(false);

    // Malformed config: every problem with its dot path.
    writeFileSync(join(cwd, 'vpm.config.yaml'), 'summary:\n  provider: magic\n  max_entries: -1\ntest:\n  command: ""\n');
    await vpm(['chat', 'append', '--text', 'kept'], { cwd });
    r = await vpm(['summary'], { cwd });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/summary\.provider/);
    expect(r.stderr).toMatch(/summary\.max_entries/);
    expect(r.stderr).toMatch(/test\.command/);
    writeFileSync(join(cwd, 'vpm.config.yaml'), 'summary: [unclosed\n');
    r = await vpm(['summary'], { cwd });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/not valid YAML/);
    writeFileSync(join(cwd, 'vpm.config.yaml'), 'summary:\n  provider: extractive\n');

    // A corrupt memory.json is reported and never overwritten.
    writeFileSync(join(cwd, 'memory.json'), '{"version":1,"entries":[');
    r = await vpm(['summary'], { cwd });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/memory\.json is corrupt/);
    expect(readFileSync(join(cwd, 'memory.json'), 'utf8')).toBe('{"version":1,"entries":[');
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace without --debug
  });

  it('masks an API key pasted into chat in the chat log, memory and the structured log', async () => {
    const cwd = tempDir();
    const key = 'sk-proj-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789';
    const gh = 'ghp_0123456789abcdefghijABCDEFGHIJ012345';
    await vpm(['chat', 'append', '--text', `my key is ${key} and token ${gh}`, '--meta', `{"auth":"Bearer ${key}"}`], { cwd });
    await vpm(['summary'], { cwd });
    await vpm(['chat', 'append', '--role', 'nope', '--text', key], { cwd });
    for (const file of [join('logs', `${today()}.jsonl`), 'memory.json', join('logs', 'vpm.log.jsonl')]) {
      const text = readFileSync(join(cwd, file), 'utf8');
      expect(text, file).not.toContain(key);
      expect(text, file).not.toContain(gh);
    }
    expect(readFileSync(join(cwd, 'logs', `${today()}.jsonl`), 'utf8')).toContain('my key is ***');
  });

  it('writes one vpm.request log line per command with the documented fields', async () => {
    const cwd = tempDir();
    await vpm(['chat', 'append', '--text', 'hello there. decided.'], { cwd });
    await vpm(['summary'], { cwd });
    await vpm(['chat', 'append', '--role', 'bad', '--text', 'x'], { cwd });
    const lines = readFileSync(join(cwd, 'logs', 'vpm.log.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.map((l) => l.msg)).toEqual(['vpm.request', 'vpm.request']);
    expect(lines[0]).toMatchObject({ command: 'chat append', ok: true, retryable: false });
    expect(lines[0].req_id).toMatch(/^req_/);
    expect(typeof lines[0].step_latency_ms).toBe('number');
    expect(lines[1]).toMatchObject({ command: 'summary', ok: true });
    expect(lines[1].token_in).toBeGreaterThan(0);
    expect(lines[1].token_out).toBeGreaterThan(0);
    expect(lines[1].compress_ratio).toBeGreaterThan(0);
    // commander rejects the bad role before any command runs: usage error, exit 2, nothing logged as ok.
    expect(readdirSync(join(cwd, 'logs'))).toContain('vpm.log.jsonl');
  });

  it('--json output of each memory command is exactly one JSON document', async () => {
    const cwd = tempDir();
    mkdirSync(join(cwd, 'STATE'));
    writeFileSync(
      join(cwd, 'STATE', 'current_state.md'),
      '---\nphase: S1\nupdated_at: "2026-01-01T00:00:00.000Z"\n---\n\n# Current state\n\n## C\n\nnow\n\n## G\n\n- G-1: one\n- G-2: two\n\n## δ\n\nnext\n',
    );
    // The loop's healthcheck stage runs the project's tests: give this repo a trivial test command.
    writeFileSync(join(cwd, 'vpm.config.yaml'), 'test:\n  command: node -e 0\n');
    const commands = [
      ['chat', 'append', '--text', 'json please'],
      ['summary'],
      ['digest'],
      ['state', 'show'],
      ['state', 'check'],
      ['loop', '--text', 'again'],
    ];
    for (const args of commands) {
      const { result, json } = await vpmJson(args, { cwd });
      expect(result.exitCode, args.join(' ')).toBe(0);
      expect(json).toBeTypeOf('object');
    }
    // Errors under --json are one JSON document too.
    const { result, json } = await vpmJson(['chat', 'append', '--text', ''], { cwd });
    expect(result.exitCode).toBe(2);
    expect(json.error.exit_code).toBe(2);
  });

  it('loop stops at the first failing stage and names it', async () => {
    const cwd = tempDir();
    writeFileSync(join(cwd, 'memory.json'), 'not json');
    const r = await vpm(['loop', '--text', 'a turn'], { cwd });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/loop stopped at stage 'summary'/);
    // The chat stage before it did run; the digest after it did not.
    expect(readFileSync(join(cwd, 'logs', `${today()}.jsonl`), 'utf8')).toContain('a turn');
    expect(existsSync(join(cwd, 'docs'))).toBe(false);
  });
});
