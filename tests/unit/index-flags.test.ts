/**
 * The index scan that spares the rollback a `git ls-files -v` over the whole index: against real
 * git repositories, it must never answer "none" while git lists a flagged entry.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { indexFlaggedEntries } from '../../src/git/index-flags.ts';

const GIT_ENV = { ...process.env, GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null' };
const git = (cwd: string, ...args: string[]) => execFileSync('git', args, { cwd, env: GIT_ENV, encoding: 'utf8' });

function repo(files: number, init: string[] = []): string {
  const dir = mkdtempSync(join(tmpdir(), 'vpm-index-'));
  git(dir, 'init', '-q', ...init);
  git(dir, 'config', 'user.email', 't@example.com');
  git(dir, 'config', 'user.name', 't');
  for (let i = 0; i < files; i++) {
    mkdirSync(join(dir, `d${i % 7}`), { recursive: true });
    // Names of every length class, up to one longer than the 12-bit length field.
    writeFileSync(join(dir, `d${i % 7}`, `${'n'.repeat(i % 23)}f${i}.txt`), `${i}\n`);
  }
  writeFileSync(join(dir, `${'l'.repeat(4200)}.txt`.slice(-250)), 'long\n');
  git(dir, 'add', '-A');
  git(dir, 'commit', '-qm', 'base');
  return dir;
}
const flaggedByGit = (dir: string) =>
  git(dir, 'ls-files', '-v')
    .split('\n')
    .filter((l) => /^([a-z]|S) /.test(l)).length;

describe('indexFlaggedEntries', () => {
  it('"none" for an ordinary index (versions 2 and 3), in agreement with git', () => {
    const dir = repo(300);
    expect(flaggedByGit(dir)).toBe(0);
    expect(indexFlaggedEntries(join(dir, '.git'))).toBe('none');
    git(dir, 'update-index', '--index-version', '3');
    expect(indexFlaggedEntries(join(dir, '.git'))).toBe('none');
  });

  it.each([['--assume-unchanged'], ['--skip-worktree']])('"some" as soon as one entry is %s, wherever it is', (flag) => {
    const entries = git(repo(300), 'ls-files').trim().split('\n');
    for (const which of [entries[0]!, entries[Math.floor(entries.length / 2)]!, entries.at(-1)!]) {
      const dir = repo(300);
      git(dir, 'update-index', flag, which);
      expect(flaggedByGit(dir)).toBe(1);
      expect(indexFlaggedEntries(join(dir, '.git'))).toBe('some');
    }
  });

  it('"unknown" (so git is asked) for a version 4 index, a split index, or no index at all', () => {
    const v4 = repo(20);
    git(v4, 'update-index', '--index-version', '4');
    expect(indexFlaggedEntries(join(v4, '.git'))).toBe('unknown');
    const split = repo(20);
    git(split, 'update-index', '--split-index');
    expect(indexFlaggedEntries(join(split, '.git'))).toBe('unknown');
    const empty = mkdtempSync(join(tmpdir(), 'vpm-index-'));
    git(empty, 'init', '-q');
    expect(indexFlaggedEntries(join(empty, '.git'))).toBe('unknown');
  });

  it('a SHA-256 repository is read with 32-byte object ids', () => {
    const dir = repo(50, ['--object-format=sha256']);
    expect(indexFlaggedEntries(join(dir, '.git'), 32)).toBe('none');
    git(dir, 'update-index', '--assume-unchanged', 'd1/nf1.txt');
    expect(indexFlaggedEntries(join(dir, '.git'), 32)).toBe('some');
  });
});
