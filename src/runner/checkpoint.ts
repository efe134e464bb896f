/**
 * The checkpoint an exec run takes before its first step, and the undo that puts the tree back
 * (issue 15). The snapshot is a commit object of the working tree — tracked files and untracked
 * ones that are not ignored — built in a temporary index (GIT_INDEX_FILE), so neither the branch,
 * HEAD nor the real index changes. Its parent is HEAD as it was; the ref
 * `refs/vpm/checkpoints/run_<job_id>` holds it, next to the checkpoints `vpm checkpoint` makes.
 *
 * vpm's own state (reports/, logs/, memory.json, .ops/) is left out of the snapshot and out of the
 * undo: undoing a run must not erase the record of that run.
 */
import { copyFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type OpenGitOptions, openGit } from '../adapters/git.js';
import { CHECKPOINT_REF_PREFIX, STATE_PATHS } from '../git/repo.js';
import { RefusedError } from '../core/errors.js';
import { INBOX_DIR } from './paths.js';

export interface RunCheckpoint {
  ref: string;
  commit: string;
  /** HEAD when the run started (null on an unborn branch). */
  head: string | null;
  /** The branch HEAD pointed at (`refs/heads/main`), null when detached. */
  branch: string | null;
  undo_command: string;
  created_at: string;
}

export interface UndoResult {
  ref: string;
  /** Where HEAD was before the undo, kept reachable by `saved_ref`. */
  previous_head: string | null;
  saved_ref: string;
  head: string | null;
  branch: string | null;
}

function checkpointRef(jobId: string): string {
  return `${CHECKPOINT_REF_PREFIX}run_${jobId}`;
}

function undoCommand(jobId: string): string {
  return `vpm run undo ${jobId}`;
}

/** git in `cwd` through the git adapter; `setEnv` for the variables vpm sets itself (a temporary index, its identity). */
async function git(cwd: string, args: string[], setEnv?: OpenGitOptions['setEnv']): Promise<string> {
  const runner = await openGit(cwd, { setEnv });
  return (await runner.run(args)).replace(/\n$/, '');
}

async function tryGit(cwd: string, args: string[]): Promise<string | null> {
  const r = await (await openGit(cwd)).probe(args);
  return r.exitCode === 0 ? r.stdout.trim() : null;
}

/**
 * Stages everything under the state root but vpm's state and the inbox (undo must not re-queue
 * jobs). Exclude pathspecs would make `git add` fail when those paths are ignored, so they are
 * staged and taken out again.
 */
async function stageContent(cwd: string, setEnv?: Record<string, string>): Promise<void> {
  await git(cwd, ['add', '-A', '--', '.'], setEnv);
  await git(cwd, ['rm', '-r', '-q', '--cached', '--ignore-unmatch', '--', ...STATE_PATHS, INBOX_DIR], setEnv);
}

/** Takes the snapshot; null when the directory is not a git work tree (nothing to snapshot with). */
export async function createRunCheckpoint(cwd: string, jobId: string, now: Date): Promise<RunCheckpoint | null> {
  const gitDir = await tryGit(cwd, ['rev-parse', '--absolute-git-dir']);
  if (!gitDir) return null;
  const ref = checkpointRef(jobId);
  const existing = await tryGit(cwd, ['rev-parse', '--verify', '-q', `${ref}^{commit}`]);
  if (existing) {
    // A resumed run keeps the checkpoint of its first attempt: that is the state before the run.
    const body = await git(cwd, ['log', '-1', '--format=%B%n%cI', existing]);
    return {
      ref,
      commit: existing,
      head: /^head: ([0-9a-f]{40,64})$/m.exec(body)?.[1] ?? null,
      branch: /^branch: (refs\/\S+)$/m.exec(body)?.[1] ?? null,
      undo_command: undoCommand(jobId),
      created_at: body.trim().split('\n').pop() ?? now.toISOString(),
    };
  }
  const head = await tryGit(cwd, ['rev-parse', '--verify', '-q', 'HEAD^{commit}']);
  const branch = await tryGit(cwd, ['symbolic-ref', '-q', 'HEAD']);
  const tmp = mkdtempSync(join(tmpdir(), 'vpm-checkpoint-'));
  const index = join(tmp, 'index');
  try {
    // Start from the real index (its stat cache keeps `add -A` fast); git never writes the real one.
    if (existsSync(join(gitDir, 'index'))) copyFileSync(join(gitDir, 'index'), index);
    const indexEnv = { GIT_INDEX_FILE: index };
    await stageContent(cwd, indexEnv);
    const tree = await git(cwd, ['write-tree'], indexEnv);
    const message = `vpm checkpoint before run ${jobId}\n\nvpm-run: ${jobId}\nhead: ${head ?? 'none'}\nbranch: ${branch ?? 'detached'}\n`;
    const commit = await git(cwd, ['commit-tree', tree, ...(head ? ['-p', head] : []), '-m', message], {
      GIT_AUTHOR_NAME: 'vpm',
      GIT_AUTHOR_EMAIL: 'vpm@localhost',
      GIT_COMMITTER_NAME: 'vpm',
      GIT_COMMITTER_EMAIL: 'vpm@localhost',
    });
    await git(cwd, ['update-ref', '-m', `vpm run ${jobId}: checkpoint`, ref, commit]);
    return { ref, commit, head, branch, undo_command: undoCommand(jobId), created_at: now.toISOString() };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/**
 * Undoes an exec run: the files back to the checkpoint (files the run created are removed, files it
 * deleted come back), HEAD and its branch back where they were (commits the run made stay reachable
 * through `refs/vpm/pre-undo/run_<job_id>`), and edits that were uncommitted before the run are
 * uncommitted again. vpm's own state is left as it is.
 */
export async function undoRun(cwd: string, jobId: string, now: Date): Promise<UndoResult> {
  const ref = checkpointRef(jobId);
  const commit = await tryGit(cwd, ['rev-parse', '--verify', '-q', `${ref}^{commit}`]);
  if (!commit) {
    throw new RefusedError(`no checkpoint for run ${jobId} (${ref} does not exist)`, {
      hint: 'the run was dry, ran with --no-checkpoint, or the job id is wrong: see reports/codex_runs/<job_id>/phase_summary.json',
    });
  }
  const body = await git(cwd, ['log', '-1', '--format=%B', commit]);
  const head = /^head: ([0-9a-f]{40,64})$/m.exec(body)?.[1] ?? null;
  const branch = /^branch: (refs\/\S+)$/m.exec(body)?.[1] ?? null;
  const previousHead = await tryGit(cwd, ['rev-parse', '--verify', '-q', 'HEAD^{commit}']);
  // Keep what the run did reachable, like rollback's undo ref.
  const savedRef = `refs/vpm/pre-undo/run_${jobId}_${now.toISOString().replace(/[-:.]/g, '')}`;
  if (previousHead) await git(cwd, ['update-ref', savedRef, previousHead]);

  // 1. Stage everything there is now (new files included), so read-tree knows what to remove.
  await stageContent(cwd);
  // 2. Index and work tree to the checkpoint: files created by the run go, deleted ones come back.
  await git(cwd, ['read-tree', '--reset', '-u', commit]);
  // 3. HEAD (and its branch) back; the index back to that HEAD, so earlier edits are uncommitted again.
  if (branch) {
    await git(cwd, ['symbolic-ref', 'HEAD', branch]);
    if (head) await git(cwd, ['update-ref', '-m', `vpm run undo ${jobId}`, branch, head]);
  } else if (head) {
    await git(cwd, ['update-ref', '--no-deref', '-m', `vpm run undo ${jobId}`, 'HEAD', head]);
  }
  if (head) await git(cwd, ['read-tree', '--reset', head]);
  else await git(cwd, ['read-tree', '--empty']);
  return { ref, previous_head: previousHead, saved_ref: savedRef, head, branch };
}
