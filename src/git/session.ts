import type { GitRunner } from '../adapters/git.js';
import { locateRepo, type RepoInfo } from './repo.js';

export interface RepoSession {
  /** git running at the repository's top level (so clean/status cover the whole tree). */
  git: GitRunner;
  repo: RepoInfo;
}

/** Finds the repository containing `cwd` and returns a git runner rooted at its top level. */
export async function openRepoSession(cwd: string, env: NodeJS.ProcessEnv): Promise<RepoSession> {
  const { openGit } = await import('../adapters/git.js');
  const here = await openGit(cwd, { env });
  const repo = await locateRepo(here);
  const git = repo.prefix === '' ? here : await openGit(repo.toplevel, { env });
  return { git, repo };
}
