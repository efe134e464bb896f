import type { GitResult, GitRunner, PrefetchedReads } from '../adapters/git.js';
import { locateRepo, type RepoInfo } from './repo.js';

export interface RepoSession {
  /** git running at the repository's top level (so clean/status cover the whole tree). */
  git: GitRunner;
  repo: RepoInfo;
  /** Output lines of the extra rev-parse arguments, when they all resolved. */
  extra?: string[];
  /** The results of `alongside`, when asked for (still running: await them when they are needed). */
  alongside?: Promise<GitResult[]>;
}

export interface SessionOptions {
  trace?: (line: string) => void;
  /** rev-parse arguments resolved in the same process as the repository lookup. */
  extraRevParse?: string[];
  /** Read-only git commands run from `cwd` at the same time as the lookup (their results are returned). */
  alongside?: string[][];
  /** Called once the git processes have been started: work to overlap with waiting for them. */
  whileGitRuns?: () => void;
  /** Reads a fast path started before the command loaded (see src/cli/fast/). */
  prefetched?: PrefetchedReads;
}

/** Finds the repository containing `cwd` and returns a git runner rooted at its top level. */
export async function openRepoSession(cwd: string, env: NodeJS.ProcessEnv, opts: SessionOptions = {}): Promise<RepoSession> {
  const { openGit } = await import('../adapters/git.js');
  const here = await openGit(cwd, { env, trace: opts.trace, prefetched: opts.prefetched });
  const alongside = opts.alongside ? Promise.all(opts.alongside.map((args) => here.probe(args))) : undefined;
  const located = locateRepo(here, opts.extraRevParse);
  opts.whileGitRuns?.();
  const { repo, extra } = await located;
  const git = repo.prefix === '' ? here : await openGit(repo.toplevel, { env, trace: opts.trace, prefetched: opts.prefetched });
  return { git, repo, extra, alongside };
}
