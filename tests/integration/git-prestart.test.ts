/**
 * Prefetched git reads (PrefetchedReads): the rollback's fast path starts its first reads before the
 * command loads and hands them explicitly to the git adapter, whose `probe` takes their results. Against a real repository: the
 * result handed over is the prestarted one (taken before a later commit), it is used once, a failed
 * one is run again so its error message is there, and nothing crosses directories.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { openGit, PrefetchedReads } from '../../src/adapters/git.ts';
import { makeGitRepo, type TempRepo } from '../helpers/gitrepo.ts';

const repos: TempRepo[] = [];
function repo(): TempRepo {
  const r = makeGitRepo();
  repos.push(r);
  return r;
}
afterEach(() => {
  for (const r of repos.splice(0)) r.cleanup();
});

/** Resolves once every prestarted command has surely finished (they are a few ms each). */
const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 500));

describe('PrefetchedReads', () => {
  it('hands the prestarted result to the first probe with the same argv and directory, once', async () => {
    const r = repo();
    const before = r.head();
    const prefetched = new PrefetchedReads(r.dir, process.env, [
      ['rev-parse', 'HEAD'],
      ['status', '--porcelain'],
    ]);
    await settle();
    r.write('src/index.js', 'export const answer = 43;\n');
    const after = r.commitAll('later');
    const git = await openGit(r.dir, { prefetched });
    // Taken before the commit: this is the prestarted read, not a new one.
    expect((await git.probe(['rev-parse', 'HEAD'])).stdout.trim()).toBe(before);
    // Consumed: the same probe now runs git.
    expect((await git.probe(['rev-parse', 'HEAD'])).stdout.trim()).toBe(after);
  });

  it('runs a failed read again, so the caller gets git’s error message', async () => {
    const r = repo();
    const prefetched = new PrefetchedReads(r.dir, process.env, [['rev-parse', '--verify', 'no-such-revision^{commit}']]);
    await settle();
    const result = await (await openGit(r.dir, { prefetched })).probe(['rev-parse', '--verify', 'no-such-revision^{commit}']);
    expect(result.exitCode).not.toBe(0);
    expect(result.stderr).toMatch(/no-such-revision|Needed a single revision/);
  });

  it('is not taken by a probe in another directory', async () => {
    const a = repo();
    const b = repo();
    b.write('README.md', '# b\n');
    const bHead = b.commitAll('b moves on');
    const prefetched = new PrefetchedReads(a.dir, process.env, [['rev-parse', 'HEAD']]);
    await settle();
    b.write('src/index.js', 'export const answer = 44;\n');
    b.commitAll('b moves again');
    // Handed to b's runner by mistake, a's reads are ignored: b's answer is b's own.
    expect((await (await openGit(b.dir, { prefetched })).probe(['rev-parse', 'HEAD'])).stdout.trim()).toBe(b.head());
    expect(bHead).not.toBe(b.head());
    a.write('src/index.js', 'export const answer = 45;\n');
    const aLater = a.commitAll('a moves on');
    // And a's runner still takes the read made before a's later commit.
    expect((await (await openGit(a.dir, { prefetched })).probe(['rev-parse', 'HEAD'])).stdout.trim()).not.toBe(aLater);
  });
});
