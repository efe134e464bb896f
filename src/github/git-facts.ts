/** What git alone knows about the working copy, for `vpm checkin` (each fact null when git cannot tell). */
import { type GitRunner, openGit } from '../adapters/git.js';

export interface GitFacts {
  isRepo: boolean;
  branch: string | null;
  sha: string | null;
  dirty: number | null;
  remoteUrl: string | null;
  upstream: string | null;
  ahead: number | null;
  behind: number | null;
}

async function read(runner: GitRunner, args: string[]): Promise<string | null> {
  const r = await runner.probe(args);
  return r.exitCode === 0 ? r.stdout.trim() : null;
}

export async function readGitFacts(cwd: string, env: NodeJS.ProcessEnv): Promise<GitFacts> {
  // A read-only look: status must not take the index lock a user's own git command may need.
  const runner = await openGit(cwd, { env: { ...env, GIT_OPTIONAL_LOCKS: '0' } });
  const inside = await read(runner, ['rev-parse', '--is-inside-work-tree']);
  if (inside !== 'true')
    return { isRepo: false, branch: null, sha: null, dirty: null, remoteUrl: null, upstream: null, ahead: null, behind: null };
  const [branch, sha, status, upstream] = await Promise.all([
    read(runner, ['symbolic-ref', '--quiet', '--short', 'HEAD']),
    read(runner, ['rev-parse', '--verify', '--quiet', 'HEAD']),
    read(runner, ['status', '--porcelain=v1', '--untracked-files=normal']),
    read(runner, ['rev-parse', '--abbrev-ref', '--symbolic-full-name', '@{upstream}']),
  ]);
  const remoteName = upstream?.split('/')[0] ?? 'origin';
  const remoteUrl = (await read(runner, ['remote', 'get-url', remoteName])) ?? (await read(runner, ['remote', 'get-url', 'origin']));
  let ahead: number | null = null;
  let behind: number | null = null;
  if (upstream) {
    const counts = await read(runner, ['rev-list', '--left-right', '--count', `${upstream}...HEAD`]);
    const m = counts ? /^(\d+)\s+(\d+)$/.exec(counts) : null;
    if (m) {
      behind = Number(m[1]);
      ahead = Number(m[2]);
    }
  }
  return {
    isRepo: true,
    branch,
    sha,
    dirty: status === null ? null : status.split('\n').filter((l) => l.trim()).length,
    remoteUrl: remoteUrl ? stripCredentials(remoteUrl) : null,
    upstream,
    ahead,
    behind,
  };
}

/** https://user:token@host/… → https://host/… (a remote URL may carry a token). */
function stripCredentials(url: string): string {
  return url.replace(/^(https?:\/\/)[^@/]+@/, '$1');
}
