/**
 * Issue 16: a rollback never overwrites or deletes what git does not hold at HEAD without a copy.
 * Ignored and excluded files, ignored directories and untracked nested repositories in the way of
 * the target are moved aside with the untracked files and put back by the printed undo command;
 * edits hidden by assume-unchanged / skip-worktree make the rollback refuse (exit 3, nothing changed).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { appendFileSync, mkdirSync } from 'node:fs';
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

async function checkpoint(r: TempRepo, name: string): Promise<string> {
  const res = await vpm(['checkpoint', name], { cwd: r.dir });
  expect(res.exitCode, String(res.stderr)).toBe(0);
  return String(res.stdout).replace(/^checkpoint /, '');
}

function runInShell(r: TempRepo, command: string): void {
  const res = spawnSync('sh', ['-c', command], { cwd: r.dir, encoding: 'utf8' });
  expect(res.status, res.stderr).toBe(0);
}

/** Rolls back with --yes --no-test, expects success, then runs the printed undo command. */
async function rollbackAndUndo(r: TempRepo, check: () => void): Promise<void> {
  const workHead = r.head();
  const { result, json } = await vpmJson(['rollback', '--yes', '--no-test'], { cwd: r.dir });
  expect(result.exitCode, String(result.stderr)).toBe(0);
  check();
  runInShell(r, json.undo_command);
  expect(r.head()).toBe(workHead);
}

describe('rollback saves before it overwrites', () => {
  it('an ignored .env that the checkpoint tracks: moved aside, the undo puts it back', async () => {
    const r = repo({ files: { 'README.md': 'x\n', '.env': 'TRACKED=1\n' } });
    await checkpoint(r, 'S1');
    r.git('rm', '-q', '--cached', '.env');
    r.write('.gitignore', '.env\n');
    r.commitAll('stop tracking .env');
    r.write('.env', 'LOCAL_ONLY=precious\n');
    await rollbackAndUndo(r, () => expect(r.read('.env')).toBe('TRACKED=1\n'));
    expect(r.read('.env')).toBe('LOCAL_ONLY=precious\n');
  });

  it('a file in .git/info/exclude that the checkpoint tracks: moved aside, the undo puts it back', async () => {
    const r = repo({ files: { 'README.md': 'x\n', 'notes.txt': 'tracked notes\n' } });
    await checkpoint(r, 'S1');
    appendFileSync(join(r.dir, '.git', 'info', 'exclude'), 'notes.txt\n');
    r.git('rm', '-q', '--cached', 'notes.txt');
    r.commitAll('stop tracking notes');
    r.write('notes.txt', 'my own notes\n');
    await rollbackAndUndo(r, () => expect(r.read('notes.txt')).toBe('tracked notes\n'));
    expect(r.read('notes.txt')).toBe('my own notes\n');
  });

  it('an ignored directory secrets/ where the checkpoint tracks a file secrets: moved aside whole', async () => {
    const r = repo({ files: { 'README.md': 'x\n', secrets: 'a tracked file\n' } });
    await checkpoint(r, 'S1');
    r.remove('secrets');
    r.write('.gitignore', 'secrets/\n');
    r.commitAll('secrets becomes a directory');
    r.write('secrets/key.pem', 'private\n');
    await rollbackAndUndo(r, () => expect(r.read('secrets')).toBe('a tracked file\n'));
    expect(r.read('secrets/key.pem')).toBe('private\n');
  });

  it("an untracked nested repository in the checkpoint's way keeps its uncommitted file", async () => {
    const r = repo({ files: { 'README.md': 'x\n', 'lib/util.js': 'tracked util\n' } });
    await checkpoint(r, 'S1');
    r.remove('lib/util.js');
    r.commitAll('drop lib');
    mkdirSync(join(r.dir, 'lib'), { recursive: true });
    r.git('-C', 'lib', 'init', '-q');
    r.write('lib/util.js', 'uncommitted work in the nested repo\n');
    await rollbackAndUndo(r, () => expect(r.read('lib/util.js')).toBe('tracked util\n'));
    expect(r.read('lib/util.js')).toBe('uncommitted work in the nested repo\n');
    expect(r.exists('lib/.git')).toBe(true);
  });

  it.each([
    ['assume-unchanged', '--assume-unchanged'],
    ['skip-worktree', '--skip-worktree'],
  ])('a hidden edit (%s): exit 3 naming the file, nothing changed', async (_name, flag) => {
    const r = repo({ files: { 'README.md': 'x\n', 'config.local': 'default\n' } });
    await checkpoint(r, 'S1');
    r.write('README.md', 'y\n');
    const workHead = r.commitAll('work');
    r.git('update-index', flag, 'config.local');
    r.write('config.local', 'my local edit\n');
    const res = await vpm(['rollback', '--yes', '--no-test'], { cwd: r.dir });
    expect(res.exitCode, String(res.stderr)).toBe(3);
    expect(String(res.stderr)).toMatch(/config\.local/);
    expect(r.head()).toBe(workHead);
    expect(r.read('config.local')).toBe('my local edit\n');
    expect(r.git('for-each-ref', 'refs/vpm/pre-rollback')).toBe('');
  });

  it('ignored files out of the way are still left alone', async () => {
    const r = repo({ files: { 'README.md': 'x\n' }, gitignore: ['build/'] });
    await checkpoint(r, 'S1');
    r.write('README.md', 'y\n');
    r.commitAll('work');
    r.write('build/out.js', 'built\n');
    const { result, json } = await vpmJson(['rollback', '--yes', '--no-test'], { cwd: r.dir });
    expect(result.exitCode, String(result.stderr)).toBe(0);
    expect(json.removed).toEqual([]);
    expect(r.read('build/out.js')).toBe('built\n');
  });
});
