/**
 * `vpm rollback` against real git repositories, through the built CLI (`node bin/vpm.js`): what it
 * restores, what it refuses, what it keeps, how it is undone, the test run after it, remotes, and
 * the confirmation rules.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { PassThrough } from 'node:stream';
import { vpm, vpmJson } from '../helpers/cli.ts';
import { cloneOf, makeExecutable, makeGitRepo, modeOf, type TempRepo } from '../helpers/gitrepo.ts';
import { join } from 'node:path';
import { existsSync, mkdirSync, readFileSync, readdirSync, realpathSync, utimesSync } from 'node:fs';
import { spawnSync } from 'node:child_process';

const repos: TempRepo[] = [];
function repo(opts?: Parameters<typeof makeGitRepo>[0]): TempRepo {
  const r = makeGitRepo(opts);
  repos.push(r);
  return r;
}
afterEach(() => {
  for (const r of repos.splice(0)) r.cleanup();
});

const STATE = ['logs', 'memory.json', '.ops', 'reports'];
const NODE = JSON.stringify(process.execPath);
/** A test command that passes and leaves a marker, so a test can tell that it ran. */
const passingTest = (marker: string) => `${NODE} -e "require('fs').writeFileSync('${marker}', 'ran')"`;
const failingTest = `${NODE} -e "console.log('2 tests failed'); process.exit(3)"`;

async function checkpoint(r: TempRepo, name: string): Promise<string> {
  const res = await vpm(['checkpoint', name], { cwd: r.dir });
  expect(res.exitCode, String(res.stderr)).toBe(0);
  return String(res.stdout).replace(/^checkpoint /, '');
}

/** Work after a checkpoint: a tracked edit, a deletion, new files and a mode change, committed. */
function doWork(r: TempRepo): void {
  r.write('src/index.js', 'export const answer = "broken";\n');
  r.remove('docs/guide.md');
  r.write('src/new/feature.js', 'export const feature = 1;\n');
  r.write('notes.txt', 'new top-level file\n');
  makeExecutable(join(r.dir, 'src/util/math.js'));
  r.commitAll('work after the checkpoint');
}

/** vpm's state written after the checkpoint. */
function writeState(r: TempRepo, tag: string): Record<string, string> {
  const state = {
    'logs/2026-01-01.jsonl': `{"text":"${tag}"}\n`,
    'memory.json': `{"version":1,"tag":"${tag}"}\n`,
    '.ops/deploy_freeze.json': `{"frozen":true,"tag":"${tag}"}\n`,
    'reports/coverage.json': `{"tag":"${tag}"}\n`,
  };
  for (const [p, c] of Object.entries(state)) r.write(p, c);
  return state;
}

/** Copies of vpm state files a rollback set aside and did not clean up (there should be none). */
function leftoverStateCopies(r: TempRepo): string[] {
  const dir = join(r.dir, '.git', 'vpm');
  return existsSync(dir) ? readdirSync(dir).filter((name) => name.startsWith('rollback-state-')) : [];
}

/** Runs a printed undo command the way a user pastes it into a POSIX shell. */
function runInShell(r: TempRepo, command: string): void {
  const res = spawnSync('sh', ['-c', command], { cwd: r.dir, encoding: 'utf8' });
  expect(res.status, res.stderr).toBe(0);
}

describe('vpm rollback: what it restores', () => {
  it('restores the exact tree of the checkpoint (edits, deletions, new files, modes) and prints rollback <hash>', async () => {
    const r = repo();
    const cp = await checkpoint(r, 'S1');
    const atCheckpoint = r.files(STATE);
    const mathMode = modeOf(join(r.dir, 'src/util/math.js'));
    doWork(r);
    const workHead = r.head();
    expect(r.files(STATE)).not.toEqual(atCheckpoint);

    const res = await vpm(['rollback', '--yes', '--no-test'], { cwd: r.dir });
    expect(res.exitCode, String(res.stderr)).toBe(0);
    expect(res.stdout).toBe(`rollback ${cp}`);
    expect(r.head()).toBe(cp);
    expect(r.files(STATE)).toEqual(atCheckpoint);
    expect(modeOf(join(r.dir, 'src/util/math.js'))).toBe(mathMode);
    expect(r.git('status', '--porcelain', '--', ...STATE.map((p) => `:(exclude)${p}`))).toBe('');
    expect(r.git('symbolic-ref', '--short', 'HEAD').trim()).toBe('main');
    expect(res.stderr).toContain('refs/vpm/pre-rollback/');
    expect(workHead).not.toBe(cp);
  });

  it('rolls back to an older checkpoint by name with --to, across later checkpoints', async () => {
    const r = repo();
    const s1 = await checkpoint(r, 'S1');
    const atS1 = r.files(STATE);
    doWork(r);
    r.write('more.txt', 'more\n');
    await checkpoint(r, 'S2');
    const { result, json } = await vpmJson(['rollback', '--to', 'S1', '--yes', '--no-test'], { cwd: r.dir });
    expect(result.exitCode).toBe(0);
    expect(json).toMatchObject({
      ok: true,
      rollback: s1,
      target: s1,
      checkpoints: ['S1'],
      source: 'to',
      allowed_because: 'ancestor',
      commits_undone: 2,
    });
    expect(r.head()).toBe(s1);
    expect(r.files(STATE)).toEqual(atS1);
  });

  it('accepts a commit hash with --to when it is an ancestor of HEAD', async () => {
    const r = repo();
    const initial = r.head();
    doWork(r);
    const res = await vpm(['rollback', '--to', initial.slice(0, 10), '--yes', '--no-test'], { cwd: r.dir });
    expect(res.exitCode, String(res.stderr)).toBe(0);
    expect(res.stdout).toBe(`rollback ${initial}`);
    expect(r.head()).toBe(initial);
  });

  it('git clean -fd runs: files untracked at the checkpoint are removed (here: ignored later, not at the checkpoint)', async () => {
    const r = repo();
    const cp = await checkpoint(r, 'S1');
    r.write('.gitignore', 'build/\n');
    r.commitAll('ignore build output');
    r.write('build/out.js', 'generated\n');
    const { result, json } = await vpmJson(['rollback', '--yes', '--no-test'], { cwd: r.dir });
    expect(result.exitCode).toBe(0);
    expect(r.head()).toBe(cp);
    expect(r.exists('build/out.js')).toBe(false);
    expect(json.removed).toEqual(['build/']);
    // Kept, not deleted: the undo command brings it back.
    runInShell(r, json.undo_command);
    expect(r.read('build/out.js')).toBe('generated\n');
  });

  it('untracked files do not make the tree dirty: they leave it as git clean -fd would take them, kept in .git/vpm/untracked/<ts>/', async () => {
    const r = repo({ gitignore: ['node_modules/'] });
    const cp = await checkpoint(r, 'S1');
    const atCheckpoint = r.files(STATE);
    doWork(r);
    const workHead = r.head();
    const untracked: Record<string, string> = {
      'src/scratch.js': 'in a tracked directory\n',
      'tmp/deep/out.txt': 'in a new directory\n',
      'weird "name"\nü.txt': 'a name git quotes\n',
    };
    for (const [p, c] of Object.entries(untracked)) r.write(p, c);
    mkdirSync(join(r.dir, 'empty-dir'));
    r.write('node_modules/dep/index.js', 'ignored\n');
    r.write('nested/README.md', 'a repository of its own\n');
    r.git('-C', 'nested', 'init', '-q');
    const beforeRollback = r.files([...STATE, 'nested/.git']);

    const { result, json } = await vpmJson(['rollback', '--yes', '--no-test'], { cwd: r.dir });
    expect(result.exitCode, String(result.stderr)).toBe(0);
    expect(r.head()).toBe(cp);
    // The tree is the checkpoint's; ignored files and a nested repository stay, as with git clean -fd.
    expect(r.files([...STATE, 'node_modules', 'nested'])).toEqual(atCheckpoint);
    expect(r.exists('empty-dir')).toBe(false);
    expect(r.read('node_modules/dep/index.js')).toBe('ignored\n');
    expect(r.read('nested/README.md')).toBe('a repository of its own\n');
    expect([...json.removed].sort()).toEqual(['empty-dir/', 'src/scratch.js', 'tmp/', 'weird "name"\nü.txt']);
    expect(result.stderr).toContain('moved 3 untracked path(s) out of the tree'); // the empty directory is just removed

    // Nothing is lost: the files sit next to the pre-rollback ref, under the same name, with a script
    // that puts them back.
    const stamp = json.pre_rollback_ref.replace('refs/vpm/pre-rollback/', '');
    expect(json.untracked_saved_to).toBe(join(realpathSync(r.dir), '.git', 'vpm', 'untracked', stamp));
    const keptContents = readdirSync(json.untracked_saved_to, { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile() && e.name !== 'restore.sh')
      .map((e) => readFileSync(join(e.parentPath, e.name), 'utf8'))
      .sort();
    expect(keptContents).toEqual(Object.values(untracked).sort());

    // The printed undo command brings back the commits and the untracked files.
    expect(json.undo_command).toBe(`git reset --hard ${json.pre_rollback_ref} && sh ${join(json.untracked_saved_to, 'restore.sh')}`);
    runInShell(r, json.undo_command);
    expect(r.head()).toBe(workHead);
    expect(r.files([...STATE, 'nested/.git'])).toEqual(beforeRollback);
    // An empty directory holds nothing to keep (git does not track directories): it stays removed.
    expect(r.exists('empty-dir')).toBe(false);
  });

  it('run from inside an untracked directory: its contents are taken out, the directory (and those above it) stays, as git keeps its cwd', async () => {
    const r = repo();
    await checkpoint(r, 'S1');
    r.write('feature/sub/deep/f.txt', 'deep\n');
    r.write('feature/sub/g.txt', 'g\n');
    r.write('feature/other.txt', 'other\n');
    const here = join(r.dir, 'feature', 'sub');
    const { result, json } = await vpmJson(['rollback', '--yes', '--no-test'], { cwd: here });
    expect(result.exitCode, String(result.stderr)).toBe(0);
    // the shell's directory is still in the tree (empty), nothing of it or beside it is left
    expect(readdirSync(here)).toEqual([]);
    expect(readdirSync(join(r.dir, 'feature'))).toEqual(['sub']);
    expect(json.untracked.sort()).toEqual(['feature/other.txt', 'feature/sub/deep/', 'feature/sub/g.txt']);
    // the undo puts every file back
    const undo = spawnSync('sh', ['-c', json.undo_command], { cwd: r.dir, encoding: 'utf8' });
    expect(undo.status, undo.stderr).toBe(0);
    expect(readFileSync(join(r.dir, 'feature/sub/deep/f.txt'), 'utf8')).toBe('deep\n');
    expect(readFileSync(join(r.dir, 'feature/other.txt'), 'utf8')).toBe('other\n');
  });

  it("an untracked file where the checkpoint has a file of the same name is kept, and the checkpoint's version is written", async () => {
    const r = repo();
    const cp = await checkpoint(r, 'S1');
    const guide = r.read('docs/guide.md');
    doWork(r); // deletes docs/guide.md in a commit
    const workHead = r.head();
    r.write('docs/guide.md', 'an untracked draft at the same path\n');
    const { result, json } = await vpmJson(['rollback', '--yes', '--no-test'], { cwd: r.dir });
    expect(result.exitCode, String(result.stderr)).toBe(0);
    expect(r.head()).toBe(cp);
    expect(r.read('docs/guide.md')).toBe(guide);
    expect(json.removed).toEqual(['docs/']); // wholly untracked, as git clean -fd names it
    runInShell(r, json.undo_command);
    expect(r.head()).toBe(workHead);
    expect(r.read('docs/guide.md')).toBe('an untracked draft at the same path\n');
  });

  it('leaves ignored files alone (git clean without -x)', async () => {
    const r = repo({ gitignore: ['node_modules/'] });
    await checkpoint(r, 'S1');
    r.write('node_modules/dep/index.js', 'dep\n');
    doWork(r);
    const res = await vpm(['rollback', '--yes', '--no-test'], { cwd: r.dir });
    expect(res.exitCode, String(res.stderr)).toBe(0);
    expect(r.read('node_modules/dep/index.js')).toBe('dep\n');
  });
});

describe('vpm rollback: how the reset is done', () => {
  it('moves the branch like git reset: ORIG_HEAD is the old HEAD and the reflog records the move', async () => {
    const r = repo();
    const cp = await checkpoint(r, 'S1');
    doWork(r);
    const workHead = r.head();
    const res = await vpm(['rollback', '--yes', '--no-test'], { cwd: r.dir });
    expect(res.exitCode, String(res.stderr)).toBe(0);
    expect(r.git('rev-parse', 'ORIG_HEAD').trim()).toBe(workHead);
    expect(r.git('reflog', '-1', '--format=%H %gs', 'main').trim()).toBe(`${cp} reset: moving to ${cp}`);
  });

  it('a file touched since it was committed (same content, new mtime) does not stop the rollback', async () => {
    const r = repo();
    const cp = await checkpoint(r, 'S1');
    const atCheckpoint = r.files(STATE);
    doWork(r);
    // The index's stat data no longer matches, so git's own two-way reset refuses this path ("not
    // uptodate"); the tree is still clean, and the rollback must go through.
    const touched = join(r.dir, 'src/index.js');
    utimesSync(touched, new Date('2020-01-01T00:00:00Z'), new Date('2020-01-01T00:00:00Z'));
    const res = await vpm(['rollback', '--yes', '--no-test'], { cwd: r.dir });
    expect(res.exitCode, String(res.stderr)).toBe(0);
    expect(r.head()).toBe(cp);
    expect(r.files(STATE)).toEqual(atCheckpoint);
    expect(r.git('status', '--porcelain', '--', ...STATE.map((p) => `:(exclude)${p}`))).toBe('');
  });

  it('outside the usual flags the full CLI answers: --help, an unknown flag, a flag missing its value', async () => {
    const r = repo();
    await checkpoint(r, 'S1');
    doWork(r);
    const head = r.head();
    const help = await vpm(['rollback', '--help'], { cwd: r.dir });
    expect(help.exitCode).toBe(0);
    expect(help.stdout).toContain('Usage: vpm rollback [options]');
    const unknown = await vpm(['rollback', '--yes', '--no-test', '--force'], { cwd: r.dir });
    expect(unknown.exitCode).toBe(2);
    expect(unknown.stderr).toContain("unknown option '--force'");
    // commander takes the next word as the value, as it does for every command: --yes is --to's.
    const swallowed = await vpm(['rollback', '--to', '--yes', '--no-test'], { cwd: r.dir });
    expect(swallowed.exitCode).toBe(2);
    expect(swallowed.stderr).toContain('needs confirmation, but it cannot ask');
    expect(r.head()).toBe(head);
  });

  it('short -y and flags before the command work as in the full CLI', async () => {
    const r = repo();
    const cp = await checkpoint(r, 'S1');
    doWork(r);
    const res = await vpm(['--json', 'rollback', '-y', '--no-test'], { cwd: r.dir });
    expect(res.exitCode, String(res.stderr)).toBe(0);
    expect(JSON.parse(String(res.stdout))).toMatchObject({ ok: true, rollback: cp, test: { status: 'skipped' } });
  });
});

describe('vpm rollback: vpm state survives', () => {
  it('untracked, not ignored: logs/, memory.json, .ops/, reports/ written after the checkpoint survive', async () => {
    const r = repo();
    await checkpoint(r, 'S1');
    doWork(r);
    const state = writeState(r, 'after');
    const res = await vpm(['rollback', '--yes', '--no-test'], { cwd: r.dir });
    expect(res.exitCode, String(res.stderr)).toBe(0);
    for (const [p, c] of Object.entries(state)) expect(r.read(p), p).toBe(c);
  });

  it('gitignored: they survive too', async () => {
    const r = repo({ gitignore: ['/logs/', '/memory.json', '/.ops/', '/reports/'] });
    await checkpoint(r, 'S1');
    doWork(r);
    const state = writeState(r, 'after');
    const res = await vpm(['rollback', '--yes', '--no-test'], { cwd: r.dir });
    expect(res.exitCode, String(res.stderr)).toBe(0);
    for (const [p, c] of Object.entries(state)) expect(r.read(p), p).toBe(c);
  });

  it('tracked in git, nothing uncommitted: the versions committed after the checkpoint are kept; an edit to one both commits share stays', async () => {
    const r = repo();
    writeState(r, 'at-checkpoint');
    r.write('reports/shared.json', '{"same":true}\n');
    await checkpoint(r, 'S1');
    doWork(r);
    const committed = writeState(r, 'committed-later');
    r.write('.ops/added-later.json', '{}\n');
    r.commitAll('state committed after the checkpoint');
    r.write('reports/shared.json', '{"same":false}\n'); // tracked, equal in both commits, edited now

    const { result, json } = await vpmJson(['rollback', '--yes', '--no-test'], { cwd: r.dir });
    expect(result.exitCode, String(result.stderr)).toBe(0);
    for (const [p, c] of Object.entries(committed)) expect(r.read(p), p).toBe(c);
    expect(r.read('.ops/added-later.json')).toBe('{}\n');
    expect(r.read('reports/shared.json')).toBe('{"same":false}\n');
    expect(json.kept_state).toEqual(expect.arrayContaining([...Object.keys(committed), '.ops/added-later.json']));
    expect(json.kept_state).not.toContain('reports/shared.json'); // the reset never touched it
    expect(r.read('src/index.js')).toBe('export const answer = 42;\n');
    expect(leftoverStateCopies(r)).toEqual([]);
  });

  it('tracked in git: their latest contents are kept although the checkpoint has older versions (and absent ones stay absent)', async () => {
    const r = repo();
    writeState(r, 'at-checkpoint');
    r.write('.ops/only-at-checkpoint.json', '{}\n');
    // Committed by hand (a checkpoint leaves vpm state out), so the checkpoint's tree has it.
    r.commitAll('state committed before the checkpoint');
    await checkpoint(r, 'S1');
    r.remove('.ops/only-at-checkpoint.json');
    doWork(r); // commits the removal
    const committed = writeState(r, 'committed-later');
    r.commitAll('state committed after the checkpoint');
    const uncommitted = { ...committed, 'memory.json': '{"version":1,"tag":"uncommitted"}\n', 'logs/new.jsonl': 'new\n' };
    for (const [p, c] of Object.entries(uncommitted)) r.write(p, c);

    const { result, json } = await vpmJson(['rollback', '--yes', '--no-test'], { cwd: r.dir });
    expect(result.exitCode, String(result.stderr)).toBe(0);
    for (const [p, c] of Object.entries(uncommitted)) expect(r.read(p), p).toBe(c);
    expect(r.exists('.ops/only-at-checkpoint.json')).toBe(false);
    expect(json.kept_state).toEqual(expect.arrayContaining(['memory.json', 'logs/2026-01-01.jsonl', '.ops/only-at-checkpoint.json']));
    // The code itself is back at the checkpoint.
    expect(r.read('src/index.js')).toBe('export const answer = 42;\n');
    expect(r.exists('src/new/feature.js')).toBe(false);
    // No snapshot is left behind in the git directory.
    expect(leftoverStateCopies(r)).toEqual([]);
  });
});

describe('vpm rollback: refusals change nothing', () => {
  it.each([
    ['a tracked edit', (r: TempRepo) => r.write('README.md', 'uncommitted\n'), 'README.md'],
    ['a staged change', (r: TempRepo) => (r.write('README.md', 'staged\n'), r.git('add', 'README.md')), 'README.md'],
    ['a deletion', (r: TempRepo) => r.remove('src/index.js'), 'src/index.js'],
  ])('dirty tree (%s): exit 3, nothing changed, no pre-rollback ref', async (_what, dirty, path) => {
    const r = repo();
    await checkpoint(r, 'S1');
    doWork(r);
    dirty(r);
    const head = r.head();
    const files = r.files();
    // vpm's own request log (logs/vpm.log.jsonl) is the one thing every command writes.
    const status = r.git('status', '--porcelain', '--', ':(exclude)logs');
    const res = await vpm(['rollback', '--yes', '--no-test'], { cwd: r.dir });
    expect(res.exitCode).toBe(3);
    expect(res.stderr).toContain('uncommitted changes');
    expect(res.stderr).toContain(path);
    expect(r.head()).toBe(head);
    expect(r.files(['logs'])).toEqual(Object.fromEntries(Object.entries(files).filter(([p]) => !p.startsWith('logs/'))));
    expect(r.git('status', '--porcelain', '--', ':(exclude)logs')).toBe(status);
    expect(r.git('for-each-ref', 'refs/vpm/pre-rollback')).toBe('');
  });

  it('changes only in vpm state do not count as dirty', async () => {
    const r = repo();
    writeState(r, 'tracked');
    const cp = await checkpoint(r, 'S1');
    doWork(r);
    writeState(r, 'modified');
    const res = await vpm(['rollback', '--yes', '--no-test'], { cwd: r.dir });
    expect(res.exitCode, String(res.stderr)).toBe(0);
    expect(r.head()).toBe(cp);
  });

  it('a target that is neither an ancestor of HEAD nor a checkpoint: exit 3 with an explanation', async () => {
    const r = repo();
    r.git('checkout', '-q', '-b', 'side');
    r.write('side.txt', 'side\n');
    const side = r.commitAll('side work');
    r.git('checkout', '-q', 'main');
    doWork(r);
    const head = r.head();
    const res = await vpm(['rollback', '--to', side, '--yes', '--no-test'], { cwd: r.dir });
    expect(res.exitCode).toBe(3);
    expect(res.stderr).toContain('not an ancestor of HEAD');
    expect(res.stderr).toContain('no vpm checkpoint points at it');
    expect(r.head()).toBe(head);
    expect(r.git('for-each-ref', 'refs/vpm/pre-rollback')).toBe('');
  });

  it('a checkpoint that is not an ancestor (taken on another branch) is allowed', async () => {
    const r = repo();
    r.git('checkout', '-q', '-b', 'side');
    r.write('side.txt', 'side\n');
    const side = await checkpoint(r, 'on_side');
    r.git('checkout', '-q', 'main');
    doWork(r);
    const { result, json } = await vpmJson(['rollback', '--to', 'on_side', '--yes', '--no-test'], { cwd: r.dir });
    expect(result.exitCode, String(result.stderr)).toBe(0);
    expect(json.allowed_because).toBe('checkpoint');
    expect(r.head()).toBe(side);
    expect(r.read('side.txt')).toBe('side\n');
  });

  it('during a merge: exit 3', async () => {
    const r = repo();
    await checkpoint(r, 'S1');
    r.git('checkout', '-q', '-b', 'side');
    r.write('README.md', 'side\n');
    r.commitAll('side');
    r.git('checkout', '-q', 'main');
    r.write('README.md', 'main\n');
    r.commitAll('main');
    expect(r.gitStatus('merge', 'side').status).not.toBe(0);
    const head = r.head();
    const res = await vpm(['rollback', '--yes', '--no-test'], { cwd: r.dir });
    expect(res.exitCode).toBe(3);
    expect(res.stderr).toContain('a merge is in progress');
    expect(r.head()).toBe(head);
    expect(r.gitStatus('rev-parse', '-q', '--verify', 'MERGE_HEAD').status).toBe(0);
  });

  it('during a rebase: exit 3', async () => {
    const r = repo();
    await checkpoint(r, 'S1');
    r.git('checkout', '-q', '-b', 'side');
    r.write('README.md', 'side\n');
    r.commitAll('side');
    r.git('checkout', '-q', 'main');
    r.write('README.md', 'main\n');
    r.commitAll('main');
    r.git('checkout', '-q', 'side');
    expect(r.gitStatus('rebase', 'main').status).not.toBe(0);
    const res = await vpm(['rollback', '--yes', '--no-test'], { cwd: r.dir });
    expect(res.exitCode).toBe(3);
    expect(res.stderr).toContain('rebase');
  });

  it('without a recorded checkpoint and without --to: exit 3 saying what to do', async () => {
    const r = repo();
    const res = await vpm(['rollback', '--yes', '--no-test'], { cwd: r.dir });
    expect(res.exitCode).toBe(3);
    expect(res.stderr).toContain('logs/last_checkpoint.txt');
    expect(res.stderr).toContain('vpm checkpoint NAME');
  });

  it('an unknown --to: exit 2', async () => {
    const r = repo();
    const res = await vpm(['rollback', '--to', 'nope', '--yes', '--no-test'], { cwd: r.dir });
    expect(res.exitCode).toBe(2);
    expect(res.stderr).toContain('no checkpoint or commit');
  });

  it('non-interactive without --yes: exit 2 before anything is looked at or changed', async () => {
    const r = repo();
    await checkpoint(r, 'S1');
    doWork(r);
    const head = r.head();
    const res = await vpm(['rollback', '--no-test'], { cwd: r.dir });
    expect(res.exitCode).toBe(2);
    expect(res.stderr).toContain('--yes');
    expect(r.head()).toBe(head);
    expect(r.git('for-each-ref', 'refs/vpm/pre-rollback')).toBe('');
  });

  it('a test command that needs a shell is refused (exit 2) before the rollback', async () => {
    const r = repo();
    await checkpoint(r, 'S1');
    doWork(r);
    const head = r.head();
    const res = await vpm(['rollback', '--yes', '--test-cmd', 'npm run build && npm test'], { cwd: r.dir });
    expect(res.exitCode).toBe(2);
    expect(res.stderr).toContain('needs a shell');
    expect(r.head()).toBe(head);
  });
});

describe('vpm rollback: undo', () => {
  it('git reset --hard refs/vpm/pre-rollback/<ts> brings the rolled-back work back', async () => {
    const r = repo();
    await checkpoint(r, 'S1');
    doWork(r);
    const workHead = r.head();
    const workFiles = r.files(STATE);
    const { result, json } = await vpmJson(['rollback', '--yes', '--no-test'], { cwd: r.dir });
    expect(result.exitCode).toBe(0);
    expect(json.pre_rollback_ref).toMatch(/^refs\/vpm\/pre-rollback\/\d{8}T\d{6}Z(_\d+)?$/);
    expect(json.undo_command).toBe(`git reset --hard ${json.pre_rollback_ref}`);
    expect(r.git('rev-parse', json.pre_rollback_ref).trim()).toBe(workHead);

    r.git('reset', '-q', '--hard', json.pre_rollback_ref);
    expect(r.head()).toBe(workHead);
    expect(r.files(STATE)).toEqual(workFiles);
  });

  it('two rollbacks in the same second get distinct pre-rollback refs', async () => {
    const r = repo();
    await checkpoint(r, 'S1');
    doWork(r);
    const a = (await vpmJson(['rollback', '--yes', '--no-test'], { cwd: r.dir })).json.pre_rollback_ref;
    r.write('again.txt', 'x\n');
    r.commitAll('again');
    const b = (await vpmJson(['rollback', '--yes', '--no-test'], { cwd: r.dir })).json.pre_rollback_ref;
    expect(a).not.toBe(b);
    expect(r.git('for-each-ref', '--format=%(refname)', 'refs/vpm/pre-rollback').trim().split('\n')).toHaveLength(2);
  });
});

describe('vpm rollback: the test run after it', () => {
  it('runs the configured test command automatically (config test.command)', async () => {
    const r = repo();
    r.write('vpm.config.json', JSON.stringify({ test: { command: passingTest('tests-ran.txt') } }));
    await checkpoint(r, 'S1');
    doWork(r);
    const { result, json } = await vpmJson(['rollback', '--yes'], { cwd: r.dir });
    expect(result.exitCode, String(result.stderr)).toBe(0);
    expect(json.test).toMatchObject({ status: 'passed', exit_code: 0 });
    expect(r.read('tests-ran.txt')).toBe('ran');
    expect(result.stderr).toContain('tests passed after the rollback');
  });

  it('a failing test command: the rollback is done, exit 1, and it says so', async () => {
    const r = repo();
    const cp = await checkpoint(r, 'S1');
    doWork(r);
    const res = await vpm(['rollback', '--yes', '--test-cmd', failingTest], { cwd: r.dir });
    expect(res.exitCode).toBe(1);
    expect(res.stdout).toBe(`rollback ${cp}`);
    expect(res.stderr).toContain('2 tests failed'); // the test's own output, on stderr
    expect(res.stderr).toContain('tests failed after the rollback (exit 3)');
    expect(r.head()).toBe(cp);
  });

  it('--json with a failing test: one JSON document, test.status failed, exit 1', async () => {
    const r = repo();
    await checkpoint(r, 'S1');
    doWork(r);
    const { result, json } = await vpmJson(['rollback', '--yes', '--test-cmd', failingTest], { cwd: r.dir });
    expect(result.exitCode).toBe(1);
    expect(json).toMatchObject({ ok: false, test: { status: 'failed', exit_code: 3 } });
  });

  it('--no-test skips it', async () => {
    const r = repo();
    r.write('vpm.config.json', JSON.stringify({ test: { command: passingTest('tests-ran.txt') } }));
    await checkpoint(r, 'S1');
    doWork(r);
    const { result, json } = await vpmJson(['rollback', '--yes', '--no-test'], { cwd: r.dir });
    expect(result.exitCode).toBe(0);
    expect(json.test).toEqual({ status: 'skipped' });
    expect(r.exists('tests-ran.txt')).toBe(false);
  });

  it('a test command that cannot start: exit 1', async () => {
    const r = repo();
    await checkpoint(r, 'S1');
    doWork(r);
    const { result, json } = await vpmJson(['rollback', '--yes', '--test-cmd', 'vpm-no-such-test-binary --all'], { cwd: r.dir });
    expect(result.exitCode).toBe(1);
    expect(json.test.status).toBe('error');
  });

  it('--summary-file records the rollback and the test outcome (JSON + .txt)', async () => {
    const r = repo({ gitignore: ['/logs/'] });
    const cp = await checkpoint(r, 'S1');
    doWork(r);
    const res = await vpm(['rollback', '--yes', '--test-cmd', failingTest, '--summary-file', 'logs/last_run_summary.json'], { cwd: r.dir });
    expect(res.exitCode).toBe(1);
    const summary = JSON.parse(r.read('logs/last_run_summary.json'));
    expect(summary).toMatchObject({
      phase: 'rollback',
      step: cp,
      done: false,
      latest_step: 'test',
      end_reason: `rolled back to ${cp}; tests failed`,
    });
    expect(r.read('logs/last_run_summary.txt')).toMatch(
      new RegExp(`^phase=rollback step=${cp} done=false latest_step=test .*end_reason=rolled_back_to_${cp};_tests_failed\\n$`),
    );
  });

  it('--summary-file records a refusal', async () => {
    const r = repo({ gitignore: ['/logs/'] });
    await checkpoint(r, 'S1');
    r.write('README.md', 'dirty\n');
    const res = await vpm(['rollback', '--yes', '--no-test', '--summary-file', 'logs/s.json'], { cwd: r.dir });
    expect(res.exitCode).toBe(3);
    const summary = JSON.parse(r.read('logs/s.json'));
    expect(summary).toMatchObject({ phase: 'rollback', done: false, step: null, latest_step: 'preflight' });
    expect(summary.end_reason).toMatch(/^refused: the working tree has uncommitted changes/);
  });
});

describe('vpm rollback: remotes', () => {
  it('with a bare remote: fetches it first, then rolls back locally', async () => {
    const r = repo({ remote: true });
    const cp = await checkpoint(r, 'S1');
    doWork(r);
    // Someone else pushes to origin; the rollback's fetch must bring that in.
    const other = cloneOf(r.remote!);
    repos.push(other);
    other.write('upstream.txt', 'from elsewhere\n');
    const upstream = other.commitAll('upstream work');
    other.git('push', '-q', 'origin', 'main');

    const { result, json } = await vpmJson(['rollback', '--yes', '--no-test'], { cwd: r.dir });
    expect(result.exitCode, String(result.stderr)).toBe(0);
    expect(json.fetch).toEqual({ status: 'ok', remotes: ['origin'] });
    expect(r.git('rev-parse', 'refs/remotes/origin/main').trim()).toBe(upstream);
    expect(r.head()).toBe(cp);
  });

  it('without a remote: no fetch', async () => {
    const r = repo();
    await checkpoint(r, 'S1');
    doWork(r);
    const { result, json } = await vpmJson(['rollback', '--yes', '--no-test'], { cwd: r.dir });
    expect(result.exitCode).toBe(0);
    expect(json.fetch).toEqual({ status: 'skipped', remotes: [] });
  });

  it('an unreachable remote is a warning, not a failure', async () => {
    const r = repo();
    r.git('remote', 'add', 'origin', join(r.dir, 'no-such-remote.git'));
    const cp = await checkpoint(r, 'S1');
    doWork(r);
    const { result, json } = await vpmJson(['rollback', '--yes', '--no-test'], { cwd: r.dir });
    expect(result.exitCode, String(result.stderr)).toBe(0);
    expect(json.fetch.status).toBe('failed');
    expect(result.stderr).toContain('warning: git fetch failed');
    expect(r.head()).toBe(cp);
  });
});

describe('vpm rollback: interactive confirmation', () => {
  async function runInteractive(dir: string, answer: string) {
    const { createContext } = await import('../../src/core/context.ts');
    const { rollback } = await import('../../src/commands/git/rollback.ts');
    const stdin = new PassThrough();
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    let err = '';
    stderr.on('data', (d) => (err += d));
    stdout.resume();
    const io = { stdin, stdout, stderr, stdinIsTTY: true, stdoutIsTTY: true, stderrIsTTY: false };
    const ctx = createContext({ cwd: dir }, io, { ...process.env });
    // The spec's own parse and run, as the CLI calls them (prompting needs a TTY the CLI cannot fake).
    const pending = rollback.run(
      ctx,
      rollback.parse({ args: [], flags: { to: undefined, yes: false, test: false, testCmd: undefined, summaryFile: undefined } }),
    );
    // Answer once the question has been asked.
    for (let i = 0; i < 200 && !err.includes('[y/N]'); i++) await new Promise((res) => setTimeout(res, 25));
    stdin.write(`${answer}\n`);
    try {
      return { result: await pending, stderr: err };
    } catch (error) {
      return { error: error as { exitCode: number; message: string }, stderr: err };
    }
  }

  it('asks, and "n" changes nothing (exit 2)', async () => {
    const r = repo();
    await checkpoint(r, 'S1');
    doWork(r);
    const head = r.head();
    const out = await runInteractive(r.dir, 'n');
    expect(out.stderr).toMatch(/Roll back branch main from [0-9a-f]{12} to [0-9a-f]{12} \(checkpoint S1\), taking 1 commit\(s\) off it\?/);
    expect(out.error?.exitCode).toBe(2);
    expect(out.error?.message).toContain('cancelled');
    expect(r.head()).toBe(head);
    expect(r.git('for-each-ref', 'refs/vpm/pre-rollback')).toBe('');
  });

  it('asks, and "y" rolls back', async () => {
    const r = repo();
    const cp = await checkpoint(r, 'S1');
    doWork(r);
    const out = await runInteractive(r.dir, 'y');
    expect(out.error).toBeUndefined();
    expect(out.result?.human).toBe(`rollback ${cp}`);
    expect(r.head()).toBe(cp);
  });
});

describe('vpm rollback: --cwd below the top level', () => {
  it('rolls back the whole repository and keeps the state at the repository root (run from a subdirectory)', async () => {
    const r = repo({ files: { 'app/package.json': '{}\n', 'lib/core.js': 'v1\n' } });
    const app = join(r.dir, 'app');
    const res1 = await vpm(['checkpoint', 'S1'], { cwd: app });
    expect(res1.exitCode, String(res1.stderr)).toBe(0);
    // The state is the repository's, wherever vpm runs: no stray app/logs/.
    expect(r.read('logs/last_checkpoint.txt').trim()).toBe(r.head());
    expect(r.exists('app/logs')).toBe(false);
    const cp = r.head();
    r.write('lib/core.js', 'v2\n');
    r.write('app/src/new.js', 'new\n');
    r.commitAll('work');
    r.write('memory.json', '{"kept":true}\n');
    r.write('.ops/deploy_freeze.json', '{"frozen":false}\n');

    const res = await vpm(['rollback', '--yes', '--no-test'], { cwd: app });
    expect(res.exitCode, String(res.stderr)).toBe(0);
    expect(r.head()).toBe(cp);
    expect(r.read('lib/core.js')).toBe('v1\n');
    expect(r.exists('app/src/new.js')).toBe(false);
    expect(r.read('memory.json')).toBe('{"kept":true}\n');
    expect(r.read('.ops/deploy_freeze.json')).toBe('{"frozen":false}\n');
  });
});

describe('test command parsing (no shell)', () => {
  it('splits quoted words, expands $VARS from the environment, and refuses shell syntax', async () => {
    const { parseTestCommand } = await import('../../src/core/test-command.ts');
    const env = { DIR: 'tests/unit', EMPTY: '' };
    expect(parseTestCommand('npm test', env, 'test.command')).toEqual(['npm', 'test']);
    expect(parseTestCommand(`npx vitest run "$DIR" --reporter 'dot' # comment`, env, 'x')).toEqual([
      'npx',
      'vitest',
      'run',
      'tests/unit',
      '--reporter',
      'dot',
    ]);
    for (const bad of ['npm run build && npm test', 'npm test | tee log', 'npm test > out.txt', 'npm test; echo', 'rm *.log']) {
      expect(() => parseTestCommand(bad, env, '--test-cmd')).toThrow(
        expect.objectContaining({ exitCode: 2, message: expect.stringContaining('needs a shell') }),
      );
    }
    expect(() => parseTestCommand('   ', env, 'test.command')).toThrow(expect.objectContaining({ exitCode: 2 }));
  });
});
