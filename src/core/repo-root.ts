/**
 * Where vpm works: the directory it was started in (or `--cwd`), and the repository root found by
 * walking up from there to `.git`, as git and gh do. All of vpm's state (logs/, memory.json, STATE/,
 * .ops/, reports/, codex/, vpm.config.*) lives at the root, so running vpm from a subdirectory sees
 * the same freeze, checkpoints and memory as running it at the top.
 */
import { realpathSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { UsageError } from './errors.js';

/** The starting directory: `--cwd` (which must name an existing directory), else VPM_CWD, else the process's. */
export function startDirectory(cwdFlag: string | undefined, env: NodeJS.ProcessEnv, processCwd: string): string {
  const given = cwdFlag ?? env.VPM_CWD;
  if (given === undefined) return processCwd;
  // The real path, as `git -C` resolves it: reached through a symbolic link, a directory inside a
  // repository must still find that repository's root (and its freeze) above it.
  const dir = realDirectory(resolve(processCwd, given));
  const what = cwdFlag !== undefined ? `--cwd ${given}` : `VPM_CWD=${given}`;
  let stat;
  try {
    stat = statSync(dir);
  } catch {
    throw new UsageError(`${what}: no such directory`, { hint: 'name an existing directory inside your repository' });
  }
  if (!stat.isDirectory())
    throw new UsageError(`${what}: not a directory`, { hint: 'name a directory inside your repository, not a file' });
  return dir;
}

/** The nearest directory at or above `start` that holds `.git` (a directory, or a file in a worktree); undefined when none does. */
export function findRepoRoot(start: string): string | undefined {
  for (let dir = start; ; dir = dirname(dir)) {
    try {
      // throwIfNoEntry: a missing .git is the usual answer on the way up, and building the error costs more than the stat.
      if (statSync(join(dir, '.git'), { throwIfNoEntry: false })) return dir;
    } catch {
      // unreadable (EACCES…): not here either; keep walking up
    }
    if (dirname(dir) === dir) return undefined;
  }
}

export class NotInRepositoryError extends UsageError {
  constructor(start: string) {
    super(`not inside a git repository: no .git in ${start} or any directory above it`, {
      hint: 'run vpm inside your repository, pass --cwd DIR, or create one with: git init && npx vpm init',
    });
  }
}

function realDirectory(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path; // missing: the stat below says so
  }
}

/** The process's working directory; a directory deleted under the shell is said as such, not as a bug. */
export function processDirectory(): string {
  try {
    return process.cwd();
  } catch {
    throw new UsageError('the current directory no longer exists (it was removed or moved while the shell stayed in it)', {
      hint: 'cd to an existing directory (e.g. the repository root) and run the command again, or pass --cwd DIR',
    });
  }
}
