/**
 * `vpm checkpoint NAME` and `vpm checkpoint list` against real git repositories, through the built
 * CLI (`node bin/vpm.js`), as a user or a CI step runs them.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { vpm, vpmJson } from '../helpers/cli.ts';
import { makeGitRepo, type TempRepo } from '../helpers/gitrepo.ts';

const repos: TempRepo[] = [];
function repo(opts?: Parameters<typeof makeGitRepo>[0]): TempRepo {
  const r = makeGitRepo(opts);
  repos.push(r);
  return r;
}
afterEach(() => {
  for (const r of repos.splice(0)) r.cleanup();
});

describe('vpm checkpoint NAME', () => {
  it('commits tracked edits, deletions and untracked files (not ignored ones) as CHECKPOINT <NAME>', async () => {
    const r = repo({ gitignore: ['/logs/', '*.tmp'] });
    const before = r.head();
    r.write('src/index.js', 'export const answer = 43;\n');
    r.remove('docs/guide.md');
    r.write('src/new/feature.js', 'export const feature = true;\n');
    r.write('scratch.tmp', 'ignored\n');

    const res = await vpm(['checkpoint', 'S4_before_big_change'], { cwd: r.dir });
    expect(res.exitCode, String(res.stderr)).toBe(0);
    const hash = r.head();
    expect(res.stdout).toBe(`checkpoint ${hash}`);
    expect(r.git('log', '-1', '--format=%s').trim()).toBe('CHECKPOINT S4_before_big_change');
    expect(r.git('rev-parse', 'HEAD~1').trim()).toBe(before);
    const tree = r.git('ls-tree', '-r', '--name-only', 'HEAD').split('\n');
    expect(tree).toContain('src/new/feature.js');
    expect(tree).not.toContain('docs/guide.md');
    expect(tree).not.toContain('scratch.tmp');
    expect(r.git('show', 'HEAD:src/index.js')).toBe('export const answer = 43;\n');
    // Everything is committed; only the ignored file is left outside.
    expect(r.git('status', '--porcelain')).toBe('');
    expect(r.read('logs/last_checkpoint.txt')).toBe(`${hash}\n`);
    expect(r.git('rev-parse', 'refs/vpm/checkpoints/S4_before_big_change').trim()).toBe(hash);
  });

  it('creates an empty commit when nothing changed, so the checkpoint always exists', async () => {
    const r = repo({ gitignore: ['/logs/'] });
    const before = r.head();
    const { result, json } = await vpmJson(['checkpoint', 'clean_tree'], { cwd: r.dir });
    expect(result.exitCode).toBe(0);
    expect(json.hash).toBe(r.head());
    expect(json.hash).not.toBe(before);
    expect(json.empty).toBe(true);
    expect(r.git('rev-parse', 'HEAD^{tree}')).toBe(r.git('rev-parse', 'HEAD~1^{tree}'));
  });

  it('works in a repository without any commit yet', async () => {
    const r = repo();
    r.git('update-ref', '-d', 'HEAD');
    r.git('rm', '-r', '-q', '--cached', '.');
    const res = await vpm(['checkpoint', 'first'], { cwd: r.dir });
    expect(res.exitCode, String(res.stderr)).toBe(0);
    expect(r.git('rev-list', '--count', 'HEAD').trim()).toBe('1');
  });

  it('--json prints exactly one JSON document describing the checkpoint', async () => {
    const r = repo();
    const { result, json } = await vpmJson(['checkpoint', 'S1'], { cwd: r.dir });
    expect(result.exitCode).toBe(0);
    expect(json).toMatchObject({ name: 'S1', ref: 'refs/vpm/checkpoints/S1', subject: 'CHECKPOINT S1', hash: r.head(), replaced: null });
  });

  it('re-using a name moves the ref and says which commit it pointed at', async () => {
    const r = repo();
    const first = (await vpmJson(['checkpoint', 'again'], { cwd: r.dir })).json.hash;
    r.write('README.md', 'changed\n');
    const { json } = await vpmJson(['checkpoint', 'again'], { cwd: r.dir });
    expect(json.replaced).toBe(first);
    expect(r.git('rev-parse', 'refs/vpm/checkpoints/again').trim()).toBe(json.hash);
  });

  it.each([
    ['a/b', 'contains "/"'],
    ['bad..name', 'check-ref-format'],
    ['has space', 'check-ref-format'],
    ['ends.lock', 'check-ref-format'],
    ['x@{y', 'check-ref-format'],
  ])('refuses the name %j with exit 2 and commits nothing', async (name, why) => {
    const r = repo();
    r.write('README.md', 'edited\n');
    const before = r.head();
    const res = await vpm(['checkpoint', name], { cwd: r.dir });
    expect(res.exitCode).toBe(2);
    expect(res.stderr).toContain('invalid checkpoint name');
    expect(res.stderr).toContain(why);
    expect(r.head()).toBe(before);
    expect(r.git('status', '--porcelain')).toContain('README.md');
    expect(r.gitStatus('for-each-ref', 'refs/vpm').stdout).toBe('');
  });

  it('requires a NAME (exit 2)', async () => {
    const r = repo();
    const res = await vpm(['checkpoint'], { cwd: r.dir });
    expect(res.exitCode).toBe(2);
    expect(res.stderr).toContain('missing checkpoint NAME');
  });

  it('refuses outside a git repository (exit 2: a usage error, like git)', async () => {
    const r = repo();
    r.remove('.git');
    const res = await vpm(['checkpoint', 'x'], { cwd: r.dir });
    expect(res.exitCode).toBe(2);
    expect(res.stderr).toContain('not inside a git repository');
  });

  it('refuses during a merge (exit 3) without committing', async () => {
    const r = repo();
    r.git('checkout', '-q', '-b', 'side');
    r.write('README.md', 'side\n');
    r.commitAll('side');
    r.git('checkout', '-q', 'main');
    r.write('README.md', 'main\n');
    r.commitAll('main');
    expect(r.gitStatus('merge', 'side').status).not.toBe(0);
    const before = r.head();
    const res = await vpm(['checkpoint', 'mid_merge'], { cwd: r.dir });
    expect(res.exitCode).toBe(3);
    expect(res.stderr).toContain('a merge is in progress');
    expect(r.head()).toBe(before);
  });

  it('--summary-file writes the JSON summary and its one-line .txt companion', async () => {
    const r = repo({ gitignore: ['/logs/'] });
    const res = await vpm(['checkpoint', 'S2', '--summary-file', 'logs/last_run_summary.json'], { cwd: r.dir });
    expect(res.exitCode).toBe(0);
    const summary = JSON.parse(readFileSync(join(r.dir, 'logs/last_run_summary.json'), 'utf8'));
    expect(summary).toMatchObject({ phase: 'checkpoint', step: r.head(), done: true, step_count: 1, end_reason: 'checkpoint S2 created' });
    const txt = readFileSync(join(r.dir, 'logs/last_run_summary.txt'), 'utf8');
    expect(txt).toMatch(new RegExp(`^phase=checkpoint step=${r.head()} done=true .*\\n$`));
    expect(txt.trim().split('\n')).toHaveLength(1);
  });

  it('--summary-file records a refusal too', async () => {
    const r = repo({ gitignore: ['/logs/'] });
    const res = await vpm(['checkpoint', 'a/b', '--summary-file', 'logs/s.json'], { cwd: r.dir });
    expect(res.exitCode).toBe(2);
    const summary = JSON.parse(r.read('logs/s.json'));
    expect(summary).toMatchObject({ phase: 'checkpoint', done: false, step: null });
    expect(summary.end_reason).toMatch(/^usage: invalid checkpoint name/);
  });
});

describe('vpm checkpoint list', () => {
  it('lists checkpoints newest first with name, hash, date and subject; --json too', async () => {
    const r = repo();
    const a = (await vpmJson(['checkpoint', 'alpha'], { cwd: r.dir })).json.hash;
    r.git('commit', '-q', '--allow-empty', '-m', 'later', '--date', '2030-01-01T00:00:00Z');
    // Make the second checkpoint strictly newer than the first (commit dates have 1 s resolution).
    const b = (await vpmJson(['checkpoint', 'beta'], { cwd: r.dir, env: { GIT_COMMITTER_DATE: '2031-01-01T00:00:00Z' } })).json.hash;

    const { result, json } = await vpmJson(['checkpoint', 'list'], { cwd: r.dir });
    expect(result.exitCode).toBe(0);
    expect(json.map((c: { name: string }) => c.name)).toEqual(['beta', 'alpha']);
    expect(json[0]).toEqual({
      name: 'beta',
      hash: b,
      ref: 'refs/vpm/checkpoints/beta',
      date: '2031-01-01T00:00:00.000Z',
      subject: 'CHECKPOINT beta',
    });
    expect(json[1]).toMatchObject({ name: 'alpha', hash: a, subject: 'CHECKPOINT alpha' });
    expect(json[1].date).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);

    const human = await vpm(['checkpoint', 'list'], { cwd: r.dir });
    const lines = String(human.stdout).split('\n');
    expect(lines[0]).toMatch(/^NAME\s+COMMIT\s+DATE\s+SUBJECT$/);
    expect(lines[1]).toMatch(new RegExp(`^beta\\s+${b.slice(0, 12)}\\s+2031-01-01T00:00:00.000Z\\s+CHECKPOINT beta$`));
  });

  it('prints [] with --json when there are none', async () => {
    const r = repo();
    const { result, json } = await vpmJson(['checkpoint', 'list'], { cwd: r.dir });
    expect(result.exitCode).toBe(0);
    expect(json).toEqual([]);
  });
});

describe('vpm checkpoint in a repository whose .gitignore lacks the entries for vpm runtime state', () => {
  const ALL_RUNTIME_IGNORED = [
    '/logs/',
    '/memory.json',
    '/.ops/',
    '/reports/healthcheck/',
    '/reports/codex_runs/',
    '/codex/inbox/_done/',
    '/codex/inbox/_failed/',
  ];

  it('commits the user files but not logs/, .ops/ or memory.json, says so once suggesting vpm init, and later vpm commands leave git status as it was', async () => {
    const r = repo(); // no .gitignore at all
    const before = r.head();
    for (const args of [['chat', 'append', '--text', 'hello from the agent'], ['freeze', 'on', '--reason', 'x'], ['summary']]) {
      const res = await vpm(args, { cwd: r.dir });
      expect(res.exitCode, `vpm ${args.join(' ')}: ${res.stderr}`).toBe(0);
    }
    expect(r.exists('logs') && r.exists('.ops/deploy_freeze.json') && r.exists('memory.json')).toBe(true);
    r.write('src/index.js', 'export const answer = 43;\n');
    r.write('src/feature.js', 'export const feature = true;\n');

    const res = await vpm(['checkpoint', 'a'], { cwd: r.dir });
    expect(res.exitCode, String(res.stderr)).toBe(0);
    const tree = r.git('ls-tree', '-r', '--name-only', 'HEAD').trim().split('\n');
    expect(tree).toContain('src/feature.js');
    expect(r.git('show', 'HEAD:src/index.js')).toBe('export const answer = 43;\n');
    expect(tree.filter((p) => /^(logs|\.ops)\//.test(p) || p === 'memory.json')).toEqual([]);
    expect(r.git('rev-parse', 'HEAD~1').trim()).toBe(before);

    const stderr = String(res.stderr);
    const warnings = stderr.split('\n').filter((l) => l.includes('left out of the checkpoint'));
    expect(warnings).toEqual([
      "warning: vpm's own runtime state was left out of the checkpoint: logs/, memory.json, .ops/ (.gitignore has no entries for them); run vpm init to add the entries",
    ]);
    expect(stderr.match(/memory\.json/g)).toHaveLength(1);
    expect(r.exists('.gitignore')).toBe(false); // the user's .gitignore is not created or changed
    expect(r.read('.git/info/exclude')).not.toMatch(/logs|\.ops|memory\.json/);

    // Only vpm's state is outside git now; more vpm commands change nothing git reports…
    const status = r.git('status', '--porcelain');
    expect(status.trim().split('\n').sort()).toEqual(['?? .ops/', '?? logs/', '?? memory.json']);
    for (const args of [['chat', 'append', '--text', 'and another turn'], ['freeze', 'off'], ['summary']]) {
      const again = await vpm(args, { cwd: r.dir });
      expect(again.exitCode, `vpm ${args.join(' ')}: ${again.stderr}`).toBe(0);
      expect(r.git('status', '--porcelain'), `after vpm ${args.join(' ')}`).toBe(status);
    }
    // …so switching commits is not blocked by vpm's files.
    expect(r.gitStatus('checkout', '-q', before).status).toBe(0);
  });

  it('--json carries the warning and the left-out paths; codex/inbox/_done, _failed, reports/healthcheck and reports/codex_runs stay out, queued jobs and top-level reports go in', async () => {
    const r = repo();
    r.write('codex/inbox/ask_1.json', '{"queued":true}\n');
    r.write('codex/inbox/_done/ask_0.json', '{"done":true}\n');
    r.write('codex/inbox/_failed/bad.json', '{}\n');
    r.write('codex/inbox/_failed/bad.error.json', '{"reason":"x"}\n');
    r.write('reports/coverage.json', '{"ratio":1}\n');
    r.write('reports/healthcheck/hc_1/coverage.json', '{"ratio":1}\n');
    r.write('reports/codex_runs/phase_state.json', '{"job_index":1}\n');

    const { result, json } = await vpmJson(['checkpoint', 'b'], { cwd: r.dir });
    expect(result.exitCode, String(result.stderr)).toBe(0);
    const tree = r.git('ls-tree', '-r', '--name-only', 'HEAD').trim().split('\n');
    expect(tree).toEqual(expect.arrayContaining(['codex/inbox/ask_1.json', 'reports/coverage.json']));
    expect(tree.filter((p) => /^(codex\/inbox\/_(done|failed)|reports\/(healthcheck|codex_runs))\//.test(p))).toEqual([]);
    expect(json.left_out).toEqual(['logs/', 'reports/healthcheck/', 'reports/codex_runs/', 'codex/inbox/_done/', 'codex/inbox/_failed/']);
    expect(json.warning).toContain('run vpm init');
    expect(
      String(result.stderr)
        .split('\n')
        .filter((l) => l.startsWith('warning:')),
    ).toHaveLength(1);
  });

  it('changes to runtime state that is already tracked stay out of the commit too, and are named', async () => {
    const r = repo();
    r.write('memory.json', '{"version":1,"entries":[]}\n');
    const tracked = r.commitAll('someone committed memory.json');
    r.write('memory.json', '{"version":1,"entries":["new"]}\n');
    r.write('README.md', '# changed\n');
    const { result, json } = await vpmJson(['checkpoint', 'c'], { cwd: r.dir });
    expect(result.exitCode, String(result.stderr)).toBe(0);
    expect(r.git('show', 'HEAD:README.md')).toBe('# changed\n');
    expect(r.git('show', 'HEAD:memory.json')).toBe(r.git('show', `${tracked}:memory.json`));
    expect(json.left_out).toEqual(['logs/', 'memory.json']);
  });

  it('keeps tracked runtime state out even when .gitignore ignores its directory now (git refuses exclude pathspecs there)', async () => {
    const r = repo();
    r.write('logs/2026-01-01.jsonl', '{"old":true}\n');
    const tracked = r.commitAll('logs committed by an older vpm');
    r.write('.gitignore', ALL_RUNTIME_IGNORED.join('\n') + '\n');
    r.write('logs/2026-01-01.jsonl', '{"old":true}\n{"new":true}\n');
    r.write('logs/2026-01-02.jsonl', '{}\n');
    const { result, json } = await vpmJson(['checkpoint', 'd'], { cwd: r.dir });
    expect(result.exitCode, String(result.stderr)).toBe(0);
    expect(r.git('show', 'HEAD:.gitignore')).toContain('/logs/');
    expect(r.git('show', 'HEAD:logs/2026-01-01.jsonl')).toBe(r.git('show', `${tracked}:logs/2026-01-01.jsonl`));
    expect(r.gitStatus('cat-file', '-e', 'HEAD:logs/2026-01-02.jsonl').status).not.toBe(0);
    expect(json.left_out).toEqual(['logs/']);
  });

  it('says nothing when .gitignore already has the entries', async () => {
    const r = repo({ gitignore: ALL_RUNTIME_IGNORED });
    r.write('logs/2026-01-01.jsonl', '{}\n');
    r.write('.ops/deploy_freeze.json', '{}\n');
    const { result, json } = await vpmJson(['checkpoint', 'quiet'], { cwd: r.dir });
    expect(result.exitCode, String(result.stderr)).toBe(0);
    expect(json.left_out).toEqual([]);
    expect(json.warning).toBeNull();
    expect(String(result.stderr)).not.toContain('warning');
    expect(r.git('status', '--porcelain')).toBe('');
  });
});
