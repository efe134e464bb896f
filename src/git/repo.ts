/**
 * Facts about the repository vpm operates on, and the rules shared by checkpoint and rollback:
 * where vpm's own state lives, what counts as "an operation in progress", and the repo-level lock.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { GitRunner } from '../adapters/git.js';
import { RefusedError } from '../core/errors.js';
import { withLock } from '../core/fs.js';

export interface RepoInfo {
  /** This worktree's git directory (MERGE_HEAD, rebase-merge/ … live here). */
  gitDir: string;
  /** The directory shared by all worktrees (refs, and vpm's lock). */
  commonDir: string;
  toplevel: string;
  /** The state root (vpm's --cwd) relative to the top level: '' or 'sub/dir/'. */
  prefix: string;
}

export const CHECKPOINT_REF_PREFIX = 'refs/vpm/checkpoints/';
export const PRE_ROLLBACK_REF_PREFIX = 'refs/vpm/pre-rollback/';
export const LAST_CHECKPOINT_FILE = join('logs', 'last_checkpoint.txt');

/**
 * vpm's own state, relative to the state root. A rollback never counts changes here as "dirty",
 * never cleans them and puts them back as they were if git would overwrite them: chat logs, memory,
 * the freeze flag and evidence are the record of what happened, and rolling the code back must not
 * erase that record.
 */
export const STATE_PATHS = ['logs', 'memory.json', '.ops', 'reports'] as const;

export function statePaths(repo: RepoInfo): string[] {
  return STATE_PATHS.map((p) => `${repo.prefix}${p}`);
}

/** Pathspecs (from the top level) that leave vpm's state out of status/clean. */
export function excludeStatePathspecs(repo: RepoInfo): string[] {
  return statePaths(repo).map((p) => `:(exclude,literal)${p}`);
}

const LOCATE_ARGS = ['rev-parse', '--path-format=absolute', '--git-dir', '--git-common-dir', '--show-toplevel', '--show-prefix'];

/** The argv locateRepo runs first (exported so a hot path can start it early, see prestartGitProbes). */
export function locateRepoArgs(extra: string[] = []): string[] {
  return [...LOCATE_ARGS, ...extra];
}

/**
 * Finds the repository. `extra` rev-parse arguments (revisions to resolve) ride along in the same
 * git process — one spawn instead of several on hot paths; their output lines are returned, or
 * undefined when any of them did not resolve (the caller then asks again, one at a time, to say why).
 */
export async function locateRepo(git: GitRunner, extra: string[] = []): Promise<{ repo: RepoInfo; extra?: string[] }> {
  if (extra.length > 0) {
    const r = await git.probe(locateRepoArgs(extra));
    if (r.exitCode === 0) {
      const lines = r.stdout.replace(/\n$/, '').split('\n');
      return { repo: parseLocate(lines), extra: lines.slice(4) };
    }
  }
  const r = await git.probe(LOCATE_ARGS);
  if (r.exitCode !== 0) {
    const reason = /not a git repository/i.test(r.stderr)
      ? 'this directory is not inside a git repository'
      : /must be run in a work tree/i.test(r.stderr)
        ? 'this is a bare repository (there is no working tree to checkpoint or roll back)'
        : r.stderr.trim() || `git rev-parse exited ${r.exitCode}`;
    throw new RefusedError(`cannot use git here: ${reason}`, {
      hint: 'run vpm inside a git working tree, or pass --cwd <repo>',
    });
  }
  return { repo: parseLocate(r.stdout.replace(/\n$/, '').split('\n')) };
}

function parseLocate([gitDir, commonDir, toplevel, prefix = '']: string[]): RepoInfo {
  return { gitDir, commonDir, toplevel, prefix };
}

const IN_PROGRESS: Array<{ marker: string; what: string; resolve: string }> = [
  { marker: 'MERGE_HEAD', what: 'a merge', resolve: 'git merge --continue or git merge --abort' },
  { marker: 'rebase-merge', what: 'a rebase', resolve: 'git rebase --continue or git rebase --abort' },
  { marker: 'rebase-apply', what: 'a rebase or git am', resolve: 'git rebase --continue / --abort (or git am --continue / --abort)' },
  { marker: 'CHERRY_PICK_HEAD', what: 'a cherry-pick', resolve: 'git cherry-pick --continue or git cherry-pick --abort' },
  { marker: 'REVERT_HEAD', what: 'a revert', resolve: 'git revert --continue or git revert --abort' },
  { marker: 'BISECT_LOG', what: 'a bisect', resolve: 'git bisect reset' },
];

/** A merge, rebase, cherry-pick, revert, `git am` or bisect that has not finished, if any. */
function operationInProgress(repo: RepoInfo): (typeof IN_PROGRESS)[number] | undefined {
  return IN_PROGRESS.find((op) => existsSync(join(repo.gitDir, op.marker)));
}

export function refuseIfOperationInProgress(repo: RepoInfo, verb: string): void {
  const op = operationInProgress(repo);
  if (op) {
    throw new RefusedError(`cannot ${verb}: ${op.what} is in progress in ${repo.toplevel}`, {
      hint: `finish or abort it first (${op.resolve})`,
      details: { operation: op.what },
    });
  }
}

/**
 * Serialises vpm's git mutations on one repository (all worktrees share it): a second vpm waits for
 * the first instead of colliding on git's index.lock, and gives up clearly after `waitMs`.
 */
export function withRepoLock<T>(repo: RepoInfo, env: NodeJS.ProcessEnv, fn: () => Promise<T>): Promise<T> {
  const fromEnv = Number(env.VPM_LOCK_WAIT_MS);
  return withLock(join(repo.commonDir, 'vpm'), fn, {
    waitMs: Number.isFinite(fromEnv) && fromEnv >= 0 && env.VPM_LOCK_WAIT_MS !== '' ? fromEnv : 60_000,
    what: `the git repository ${repo.toplevel} (vpm's lock ${join(repo.commonDir, 'vpm.lock')})`,
  });
}

const OBJECT_ID = /^[0-9a-f]{40}(?:[0-9a-f]{24})?$/;

/**
 * The commit HEAD points at now. Read from the ref files when they are plain (HEAD → a branch → a
 * loose or packed ref): this runs on the rollback's hot path under the lock, where a git process
 * costs more than the rest of the check. Anything else (symbolic ref chains, reftable, unborn
 * branch) is asked of git.
 */
export async function currentHead(git: GitRunner, repo: RepoInfo): Promise<string | undefined> {
  const fromFiles = headFromRefFiles(repo);
  if (fromFiles) return fromFiles;
  const r = await git.probe(['rev-parse', '--verify', '--quiet', 'HEAD^{commit}']);
  return r.exitCode === 0 ? r.stdout.trim() : undefined;
}

function headFromRefFiles(repo: RepoInfo): string | undefined {
  try {
    const head = readFileSync(join(repo.gitDir, 'HEAD'), 'utf8').trim();
    if (OBJECT_ID.test(head)) return head;
    const ref = /^ref: (refs\/heads\/\S+)$/.exec(head)?.[1];
    if (!ref) return undefined;
    const loose = join(repo.commonDir, ref);
    if (existsSync(loose)) {
      const value = readFileSync(loose, 'utf8').trim();
      return OBJECT_ID.test(value) ? value : undefined;
    }
    const packed = readFileSync(join(repo.commonDir, 'packed-refs'), 'utf8');
    const line = packed.split('\n').find((l) => l.endsWith(` ${ref}`));
    const value = line?.slice(0, line.indexOf(' '));
    return value && OBJECT_ID.test(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

export function shortHash(hash: string): string {
  return hash.slice(0, 12);
}
