/**
 * Issue 16: the whole secret corpus through each channel vpm stores or prints, via the built CLI;
 * afterwards a scan of every file vpm wrote in the repo, and of stdout and stderr, finds none of
 * the raw secrets. Files the test itself wrote as input (a patch file, the queued job) are not
 * vpm's output and are left out of the scan.
 */
import { describe, expect, it } from 'vitest';
import { mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { tempDir, vpm } from '../helpers/cli.js';
import { CORPUS, chars } from '../helpers/secret-corpus.js';

const ALL = CORPUS.map(([name, text]) => `about ${name}: ${text}`).join('\n\n');

function filesUnder(dir: string, skip: Set<string>): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (name === '.git' || skip.has(p)) continue;
    if (statSync(p).isDirectory()) out.push(...filesUnder(p, skip));
    else out.push(p);
  }
  return out;
}

/** Every raw secret found in what vpm wrote or printed, as "where: shape". */
function leaks(cwd: string, printed: string, inputs: string[] = [], corpus = CORPUS): string[] {
  const skip = new Set(inputs.map((i) => join(cwd, i)));
  const found: string[] = [];
  const places: Array<[string, string]> = [
    ['stdout/stderr', printed],
    ...filesUnder(cwd, skip).map((f) => [relative(cwd, f), readFileSync(f, 'utf8')] as [string, string]),
  ];
  for (const [where, text] of places) {
    // Files hold the text JSON-escaped, stdout may too: compare against both forms.
    for (const [name, , secret] of corpus) {
      const escaped = JSON.stringify(secret).slice(1, -1);
      if (text.includes(secret) || text.includes(escaped)) found.push(`${where}: ${name}`);
    }
  }
  return found;
}

const printed = (r: { stdout: unknown; stderr: unknown }) => `${String(r.stdout)}\n${String(r.stderr)}`;

describe('no raw secret in anything vpm writes or prints', () => {
  it('chat text (stdin) and --meta', async () => {
    const cwd = tempDir();
    const r1 = await vpm(['chat', 'append', '--role', 'user'], { cwd, input: ALL });
    expect(r1.exitCode, String(r1.stderr)).toBe(0);
    // Secrets as object keys too: every other entry is keyed by the text holding the secret.
    const meta = Object.fromEntries(CORPUS.map(([name, text, secret], i) => [i % 2 ? text : `k${i}`, { name, text, password: secret }]));
    const r2 = await vpm(['--json', 'chat', 'append', '--text', 'with meta', '--meta', JSON.stringify(meta)], { cwd });
    expect(r2.exitCode, String(r2.stderr)).toBe(0);
    const r3 = await vpm(['summary'], { cwd });
    expect(r3.exitCode, String(r3.stderr)).toBe(0);
    expect(leaks(cwd, printed(r1) + printed(r2) + printed(r3)).join('\n')).toBe('');
  });

  it('state patch: STATE, the printed diff, the memory note', async () => {
    const cwd = tempDir();
    mkdirSync(join(cwd, 'STATE'));
    writeFileSync(
      join(cwd, 'STATE', 'current_state.md'),
      '---\nphase: S1\nupdated_at: "2026-01-01T00:00:00.000Z"\n---\n\n# Current state\n\n## C\n\nnow\n\n## G\n\n- G-1: one\n\n## δ\n\nnext\n',
    );
    writeFileSync(
      join(cwd, 'p.json'),
      JSON.stringify([
        { op: 'replace', path: '/current', value: ALL },
        { op: 'replace', path: '/phase', value: CORPUS[0]![2] },
      ]),
    );
    const r = await vpm(['--json', 'state', 'patch', 'p.json', '--yes'], { cwd });
    expect(r.exitCode, String(r.stderr)).toBe(0);
    expect(readFileSync(join(cwd, 'STATE', 'current_state.md'), 'utf8')).toContain('***');
    expect(leaks(cwd, printed(r), ['p.json']).join('\n')).toBe('');
  });

  it('freeze reason: .ops/deploy_freeze.json, the audit log, stdout', async () => {
    const cwd = tempDir();
    const r = await vpm(['--json', 'freeze', 'on', '--reason', ALL], { cwd });
    expect(r.exitCode, String(r.stderr)).toBe(0);
    const r2 = await vpm(['freeze', 'status'], { cwd });
    expect(leaks(cwd, printed(r) + printed(r2)).join('\n')).toBe('');
  });

  it('job argv, payload and step output: run.log, steps, job copy, summaries, stdout', async () => {
    const cwd = tempDir('vpm-runner-');
    mkdirSync(join(cwd, 'codex', 'inbox'), { recursive: true });
    // node runs code from its arguments, so even a default-allow policy needs it allowlisted (issue 15).
    writeFileSync(
      join(cwd, 'vpm.config.json'),
      JSON.stringify({ execution_policy: { default_action: 'allow', allowlist: ['node print.js'] } }),
    );
    const job = {
      id: 'j1',
      kind: 'exec',
      created_at: '2026-01-01T00:00:00.000Z',
      source: 'test',
      payload: { note: ALL, password: chars(12, undefined, 77) },
      steps: [{ name: 'print', argv: ['node', 'print.js', ALL] }],
    };
    writeFileSync(join(cwd, 'codex', 'inbox', 'j1.json'), JSON.stringify(job));
    writeFileSync(join(cwd, 'print.js'), 'process.stdout.write(process.argv[2]); process.stderr.write(process.argv[2]);\n');
    const r = await vpm(['--json', 'run', '--exec', '--summary-file', 'out/s.json'], { cwd });
    expect(r.exitCode, String(r.stderr)).toBe(0);
    expect(readFileSync(join(cwd, 'reports', 'codex_runs', 'j1', 'run.log'), 'utf8')).toContain('***');
    expect(leaks(cwd, printed(r), ['codex/inbox/_done/j1.json', 'vpm.config.json']).join('\n')).toBe('');
  });

  it('config errors: a YAML syntax error on a line holding a token', async () => {
    const cwd = tempDir();
    // One line per shape that fits on a line, as a YAML double-quoted scalar (JSON is YAML).
    const oneLine = CORPUS.filter(([, text]) => !text.includes('\n'));
    const lines = oneLine.map(([, text], i) => `k${i}: ${JSON.stringify(text)}`).join('\n');
    writeFileSync(join(cwd, 'vpm.config.yaml'), `${lines}\ntoken: ${CORPUS[0]![2]} [broken\n  - : :\n`);
    const r = await vpm(['--json', 'run'], { cwd });
    expect(r.exitCode).not.toBe(0);
    const r2 = await vpm(['run'], { cwd });
    expect(String(r2.stderr)).toMatch(/vpm\.config\.yaml/);
    expect(leaks(cwd, printed(r) + printed(r2), ['vpm.config.yaml'], oneLine).join('\n')).toBe('');
  });

  it('an error message holding the value of a secret env var', async () => {
    const cwd = tempDir();
    const value = `plain-${chars(20, undefined, 90)}`;
    const r = await vpm(['--json', 'chat', 'append', '--session', `${value}!`, '--text', 'x'], {
      cwd,
      env: { VPM_LLM_API_KEY: value, MY_DB_PASSWORD: `${value}x` },
    });
    expect(r.exitCode).toBe(2);
    expect(printed(r)).not.toContain(value);
    expect(printed(r)).toContain('***');
  });

  it('healthcheck output: a long key block whose BEGIN line scrolled out of the kept tail', async () => {
    const cwd = tempDir();
    const body = Array.from({ length: 300 }, (_, i) =>
      chars(64, 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/', 1000 + i),
    );
    writeFileSync(
      join(cwd, 'keys.js'),
      `console.log(${JSON.stringify(['-----BEGIN PRIVATE KEY-----', ...body].join('\n'))}); process.exit(1);\n`,
    );
    const r = await vpm(['--json', 'healthcheck', '--test-cmd', `${process.execPath} keys.js`], { cwd });
    expect(r.exitCode).not.toBe(0);
    const corpus = body.map((line, i) => [`key line ${i}`, line, line] as [string, string, string]);
    expect(leaks(cwd, printed(r), ['keys.js'], corpus).join('\n')).toBe('');
  });
});
