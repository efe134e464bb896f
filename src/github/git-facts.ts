/** What git alone knows about the working copy, for `vpm checkin` (each fact null when git cannot tell). */
import { execa } from 'execa';

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

async function git(cwd: string, env: NodeJS.ProcessEnv, args: string[]): Promise<string | null> {
  const r = await execa('git', args, { cwd, env: { ...env, GIT_OPTIONAL_LOCKS: '0' }, reject: false, stdin: 'ignore', timeout: 10_000 });
  return r.exitCode === 0 ? String(r.stdout).trim() : null;
}

export async function readGitFacts(cwd: string, env: NodeJS.ProcessEnv): Promise<GitFacts> {
  const inside = await git(cwd, env, ['rev-parse', '--is-inside-work-tree']);
  if (inside !== 'true') return { isRepo: false, branch: null, sha: null, dirty: null, remoteUrl: null, upstream: null, ahead: null, behind: null };
  const [branch, sha, status, upstream] = await Promise.all([
    git(cwd, env, ['symbolic-ref', '--quiet', '--short', 'HEAD']),
    git(cwd, env, ['rev-parse', '--verify', '--quiet', 'HEAD']),
    git(cwd, env, ['status', '--porcelain=v1', '--untracked-files=normal']),
    git(cwd, env, ['rev-parse', '--abbrev-ref', '--symbolic-full-name', '@{upstream}']),
  ]);
  const remoteName = upstream?.split('/')[0] ?? 'origin';
  const remoteUrl = (await git(cwd, env, ['remote', 'get-url', remoteName])) ?? (await git(cwd, env, ['remote', 'get-url', 'origin']));
  let ahead: number | null = null;
  let behind: number | null = null;
  if (upstream) {
    const counts = await git(cwd, env, ['rev-list', '--left-right', '--count', `${upstream}...HEAD`]);
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
