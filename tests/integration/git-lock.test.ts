/**
 * Two vpm git mutations on one repository never run at once: the second waits for vpm's repo lock
 * (or gives up clearly), never surfaces git's raw index.lock error, and the repository stays sound.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { vpm } from '../helpers/cli.ts';
import { makeGitRepo, type TempRepo } from '../helpers/gitrepo.ts';
import { withLock } from '../../src/core/fs.ts';

const repos: TempRepo[] = [];
afterEach(() => {
  for (const r of repos.splice(0)) r.cleanup();
});

function bigRepo(files: number): TempRepo {
  const content: Record<string, string> = {};
  for (let i = 0; i < files; i++) content[`src/m${i % 20}/f${i}.txt`] = `file ${i}\n`;
  const r = makeGitRepo({ files: content, gitignore: ['/logs/'] });
  repos.push(r);
  return r;
}

describe('vpm git lock', () => {
  it('concurrent vpm checkpoint calls all succeed one after another; the repository is never corrupted', async () => {
    const r = bigRepo(2000);
    // Every process has something to commit, so the commits really compete for the index.
    const names = ['c1', 'c2', 'c3', 'c4'];
    for (const n of names) r.write(`work/${n}.txt`, `${n}\n`);
    const results = await Promise.all(names.map((n) => vpm(['checkpoint', n], { cwd: r.dir })));
    for (const res of results) {
      expect(res.exitCode, String(res.stderr)).toBe(0);
      expect(String(res.stderr)).not.toMatch(/index\.lock/);
    }
    // Four checkpoint commits in a straight line, each ref on its own commit.
    const subjects = r.git('log', '--format=%s', '-4').trim().split('\n');
    expect(subjects.sort()).toEqual(names.map((n) => `CHECKPOINT ${n}`).sort());
    const hashes = names.map((n) => r.git('rev-parse', `refs/vpm/checkpoints/${n}`).trim());
    expect(new Set(hashes).size).toBe(4);
    for (const [i, n] of names.entries()) expect(r.git('log', '-1', '--format=%s', hashes[i]).trim()).toBe(`CHECKPOINT ${n}`);
    // logs/last_checkpoint.txt names the checkpoint that committed last (HEAD).
    expect(r.read('logs/last_checkpoint.txt').trim()).toBe(r.head());
    expect(r.gitStatus('fsck', '--strict', '--no-progress').status).toBe(0);
    expect(r.git('status', '--porcelain')).toBe('');
  });

  it('a checkpoint racing a rollback: both serialise, the repository stays sound', async () => {
    const r = bigRepo(1000);
    const cp = (await vpm(['checkpoint', 'base'], { cwd: r.dir })).stdout.toString().replace('checkpoint ', '');
    r.write('more.txt', 'more\n');
    r.commitAll('more');
    const [rb, ck] = await Promise.all([
      vpm(['rollback', '--yes', '--no-test', '--to', 'base'], { cwd: r.dir }),
      vpm(['checkpoint', 'racing'], { cwd: r.dir }),
    ]);
    for (const res of [rb, ck]) expect(String(res.stderr)).not.toMatch(/index\.lock/);
    expect(ck.exitCode, String(ck.stderr)).toBe(0);
    // The rollback either ran first (then the checkpoint sits on the checkpoint), or after it (then
    // the racing checkpoint is an ancestor of HEAD and the rollback goes back to base).
    expect(rb.exitCode, String(rb.stderr)).toBe(0);
    expect(r.gitStatus('fsck', '--strict', '--no-progress').status).toBe(0);
    expect(r.git('rev-list', 'HEAD').includes(cp)).toBe(true);
  });

  it('waits while another vpm holds the lock, then proceeds', async () => {
    const r = bigRepo(10);
    r.write('README.md', 'edited\n');
    const head = r.head();
    let pending: ReturnType<typeof vpm> | undefined;
    await withLock(join(r.dir, '.git', 'vpm'), async () => {
      pending = vpm(['checkpoint', 'waited'], { cwd: r.dir });
      await new Promise((res) => setTimeout(res, 1500));
      // Still waiting: nothing committed while the lock is held.
      expect(r.head()).toBe(head);
      expect(r.git('status', '--porcelain')).toContain('README.md');
    });
    const res = await pending!;
    expect(res.exitCode, String(res.stderr)).toBe(0);
    expect(r.git('log', '-1', '--format=%s').trim()).toBe('CHECKPOINT waited');
  });

  it('gives up clearly (exit 5) when another vpm holds the lock too long, changing nothing', async () => {
    const r = bigRepo(10);
    r.write('README.md', 'edited\n');
    const head = r.head();
    let res: Awaited<ReturnType<typeof vpm>> | undefined;
    await withLock(join(r.dir, '.git', 'vpm'), async () => {
      res = await vpm(['checkpoint', 'blocked'], { cwd: r.dir, env: { VPM_LOCK_WAIT_MS: '300' } });
    });
    expect(res!.exitCode).toBe(5);
    expect(res!.stderr).toContain('is locked by another vpm process');
    expect(res!.stderr).toContain('vpm.lock');
    expect(r.head()).toBe(head);
  });

  it("a foreign git process holding index.lock: a clear, retryable message, not git's raw error", async () => {
    const r = bigRepo(10);
    r.write('README.md', 'edited\n');
    writeFileSync(join(r.dir, '.git', 'index.lock'), '');
    const res = await vpm(['checkpoint', 'blocked'], { cwd: r.dir });
    expect(res.exitCode).toBe(1);
    expect(res.stderr).toContain('another git process is using this repository');
    expect(res.stderr).not.toContain('fatal:');
  });
});

describe('vpm rollback while another vpm holds the lock', () => {
  it('looks at the tree again after waiting: an edit made meanwhile is refused (exit 3), not destroyed', async () => {
    const r = bigRepo(10);
    const cp = (await vpm(['checkpoint', 'base'], { cwd: r.dir })).stdout.toString().replace('checkpoint ', '');
    r.write('more.txt', 'more\n');
    const head = r.commitAll('more');
    let pending: ReturnType<typeof vpm> | undefined;
    await withLock(join(r.dir, '.git', 'vpm'), async () => {
      pending = vpm(['rollback', '--yes', '--no-test'], { cwd: r.dir });
      // The rollback has looked at the (clean) tree and is waiting for the lock; now someone edits a file.
      await new Promise((res) => setTimeout(res, 1500));
      r.write('src/m0/f0.txt', 'edited while vpm was waiting\n'); // a tracked file
    });
    const res = await pending!;
    expect(res.exitCode, String(res.stderr)).toBe(3);
    expect(res.stderr).toContain('uncommitted changes');
    expect(r.read('src/m0/f0.txt')).toBe('edited while vpm was waiting\n');
    expect(r.head()).toBe(head);
    expect(head).not.toBe(cp);
    // The undo point saved while the tree was checked is gone again with the refusal.
    expect(r.git('for-each-ref', 'refs/vpm/pre-rollback')).toBe('');
  });

  it.each([
    ['--to base', ['--to', 'base']],
    // The recorded checkpoint: the plan's reads start before the lock and must be taken again.
    ['the recorded checkpoint', []],
  ])('a commit made while it waited is part of what it rolls back (and of the undo point): %s', async (_what, target) => {
    const r = bigRepo(10);
    await vpm(['checkpoint', 'base'], { cwd: r.dir });
    const cp = r.head();
    r.write('more.txt', 'more\n');
    r.commitAll('more');
    let pending: ReturnType<typeof vpm> | undefined;
    await withLock(join(r.dir, '.git', 'vpm'), async () => {
      pending = vpm(['--json', 'rollback', '--yes', '--no-test', ...target], { cwd: r.dir });
      await new Promise((res) => setTimeout(res, 1500));
      r.write('late.txt', 'late\n');
      r.commitAll('committed while vpm waited');
    });
    const res = await pending!;
    expect(res.exitCode, String(res.stderr)).toBe(0);
    const json = JSON.parse(String(res.stdout));
    expect(r.head()).toBe(cp);
    expect(r.git('log', '-1', '--format=%s', json.pre_rollback_ref).trim()).toBe('committed while vpm waited');
    expect(json.commits_undone).toBe(2);
  });
});
