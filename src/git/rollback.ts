/**
 * `vpm rollback`: move the current branch back to a checkpoint, safely.
 *
 * Preconditions (nothing is changed when one fails): no merge/rebase/… in progress, no uncommitted
 * change to a tracked file outside vpm's own state (a dirty tree, in git's sense: untracked files do
 * not count), and a target that is an ancestor of HEAD or a vpm checkpoint. Then, holding the
 * repository lock: HEAD is saved as `refs/vpm/pre-rollback/<ts>` (the undo point; saved while the
 * preconditions are checked, and deleted again when one fails), the remotes are fetched when there
 * are any, and the tree ends as `git reset --hard <target>` + `git clean -fd` leave it, with vpm's
 * state left out and tracked state files put back as they were.
 *
 * Nothing is lost: the committed work is reachable from the pre-rollback ref, and the untracked
 * files `git clean -fd` would delete are moved into `.git/vpm/untracked/<ts>/` instead (see
 * untracked.ts). The undo command puts both back.
 *
 * The path is kept lean for big repositories: the two tree walks (tracked changes, untracked files)
 * run side by side while the repository is being looked up, everything else is constant-cost and
 * runs concurrently.
 */
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import {
  RESTORE_SCRIPT,
  cleanDryRunArgs,
  moveAside,
  parseCleanDryRun,
  keepingDirectory,
  removeDirectoriesLeftEmpty,
  removeEmptyDirectories,
  splitByChangedPaths,
  splitEmptyDirectories,
  unheldInTheWay,
  type SavedUntracked,
} from './untracked.js';
import { isAbsolute, join, relative, sep } from 'node:path';
import type { GitResult, GitRunner } from '../adapters/git.js';
import { indexFlaggedEntries } from './index-flags.js';
import { GitCommandError } from '../adapters/git.js';
import { OperationalError, RefusedError, UsageError } from '../core/errors.js';
import { readTextIfExists } from '../core/fs.js';
import { compactStamp } from '../core/ids.js';
import { shellQuote } from '../core/posix-shell.js';
import {
  CHECKPOINT_REF_PREFIX,
  LAST_CHECKPOINT_FILE,
  PRE_ROLLBACK_REF_PREFIX,
  STATE_PATHS,
  excludeStatePathspecs,
  refuseIfOperationInProgress,
  shortHash,
  withRepoLock,
  currentHead,
  type RepoInfo,
} from './repo.js';
import {
  restoreStateFiles,
  snapshotStateFiles,
  stateFilesAmong,
  stateFilesGitWouldTouch,
  treeChanges,
  treeChangesArgs,
  type StateSnapshot,
  type TreeChange,
} from './state-files.js';

export interface RollbackDeps {
  git: GitRunner;
  repo: RepoInfo;
  stateRoot: string;
  /** Where vpm was started: that directory stays even when untracked (see keepingDirectory). */
  startDir?: string;
  env: NodeJS.ProcessEnv;
  now(): Date;
  status(message: string): void;
  /** Asks the user to go ahead; absent when running with --yes. */
  confirm?(plan: RollbackPlan): Promise<boolean>;
}

export interface RollbackOptions {
  /** How long `git fetch` may stay silent before it is abandoned (ms). */
  fetchIdleTimeoutMs?: number;
}

export interface RollbackPlan {
  head: string;
  /** Branch HEAD is on, or null when detached. */
  branch: string | null;
  target: string;
  target_subject: string;
  /** Checkpoint names pointing at the target. */
  checkpoints: string[];
  /** Where the target came from. */
  source: 'to' | 'last_checkpoint';
  /** Why the target is allowed. */
  allowed_because: 'ancestor' | 'checkpoint';
  /** Commits reachable from HEAD but not from the target: what the rollback takes off the branch. */
  commits_undone: number;
  /** The repository's remotes (fetched before the reset). */
  remotes: string[];
  /**
   * Untracked paths (relative to the top level; directories end with `/`) that `git clean -fd` would
   * remove: the rollback moves them aside instead.
   */
  untracked: string[];
  /** Untracked directories with no files in them: removed after the reset unless it fills them. */
  empty_untracked_dirs: string[];
}

interface FetchOutcome {
  status: 'ok' | 'failed' | 'skipped';
  remotes: string[];
  error?: string;
}

export interface RollbackDone extends RollbackPlan {
  pre_rollback_ref: string;
  undo_command: string;
  fetch: FetchOutcome;
  /**
   * Untracked paths taken out of the tree, as `git clean -fd` would: moved into `untracked_saved_to`,
   * or removed when they were directories with no files.
   */
  removed: string[];
  /** Where the removed untracked paths are kept (absolute), or null when there were none. */
  untracked_saved_to: string | null;
  /** vpm state files that git would have overwritten and were put back. */
  kept_state: string[];
}

const HEX_HASH = /^[0-9a-f]{7,64}$/i;

/** How long the lock may take to get before the early status is considered stale and taken again. */
const EARLY_STATUS_MAX_WAIT_MS = 150;

/** Where the target comes from, known before git is asked anything. */
export interface TargetSpec {
  source: RollbackPlan['source'];
  /** The --to value (a checkpoint name or a commit-ish). */
  to?: string;
  /** The hash recorded in logs/last_checkpoint.txt. */
  recorded?: string;
}

export interface ResolvedTarget {
  hash: string;
  source: RollbackPlan['source'];
  branch: string | null;
}

/** Reads the default target from logs/last_checkpoint.txt unless --to is given. Nothing is changed. */
export function rollbackTargetSpec(stateRoot: string, to: string | undefined): TargetSpec {
  if (to !== undefined) {
    if (to.trim() === '') throw new UsageError('--to needs a checkpoint name or a commit hash');
    return { source: 'to', to };
  }
  const recorded = readTextIfExists(join(stateRoot, LAST_CHECKPOINT_FILE))?.trim();
  if (!recorded) {
    throw new RefusedError(`no rollback target: ${LAST_CHECKPOINT_FILE} does not exist or is empty`, {
      hint: 'create a checkpoint first (vpm checkpoint NAME), or pass --to <checkpoint|hash>',
    });
  }
  if (!HEX_HASH.test(recorded)) {
    throw new RefusedError(`${LAST_CHECKPOINT_FILE} does not hold a commit hash (found "${recorded.slice(0, 80)}")`, {
      hint: 'pass --to <checkpoint|hash>, or create a new checkpoint with vpm checkpoint NAME',
    });
  }
  return { source: 'last_checkpoint', recorded };
}

/**
 * rev-parse arguments that resolve the target and the branch in the same process that locates the
 * repository (the common case: the recorded checkpoint). Undefined when a lookup needs the slower
 * path (--to may name a checkpoint or a commit, so it is resolved in two steps).
 */
export function fastTargetRevParse(spec: TargetSpec): string[] | undefined {
  return spec.recorded ? [`${spec.recorded}^{commit}`, '--abbrev-ref', 'HEAD'] : undefined;
}

/** Resolves the target to a commit hash: from the fast lookup's lines when it succeeded, else step by step. */
export async function resolveTarget(git: GitRunner, spec: TargetSpec, fast?: string[]): Promise<ResolvedTarget> {
  if (fast && fast.length >= 2) {
    return { hash: fast[0], source: spec.source, branch: fast[1] === 'HEAD' ? null : fast[1] };
  }
  const branchP = git.probe(['symbolic-ref', '--quiet', '--short', 'HEAD']);
  let hash: string;
  if (spec.to !== undefined) {
    const [asCheckpoint, asCommit] = await Promise.all([
      git.probe(['rev-parse', '--verify', '--quiet', `${CHECKPOINT_REF_PREFIX}${spec.to}^{commit}`]),
      git.probe(['rev-parse', '--verify', '--quiet', '--end-of-options', `${spec.to}^{commit}`]),
    ]);
    const hit = asCheckpoint.exitCode === 0 ? asCheckpoint : asCommit.exitCode === 0 ? asCommit : undefined;
    if (!hit) {
      throw new UsageError(`--to ${spec.to}: no checkpoint or commit by that name in this repository`, {
        hint: 'list checkpoints with vpm checkpoint list, or pass a commit hash from git log',
      });
    }
    hash = hit.stdout.trim();
  } else {
    const r = await git.probe(['rev-parse', '--verify', '--quiet', `${spec.recorded}^{commit}`]);
    if (r.exitCode !== 0) {
      throw new RefusedError(`the last checkpoint ${spec.recorded} (from ${LAST_CHECKPOINT_FILE}) is not a commit in this repository`, {
        hint: 'pick another target with --to (see vpm checkpoint list)',
      });
    }
    hash = r.stdout.trim();
  }
  const branch = await branchP;
  return { hash, source: spec.source, branch: branch.exitCode === 0 ? branch.stdout.trim() : null };
}

export interface WorktreeStatus {
  /** The commit HEAD was at when the status was taken (null before the first commit). */
  head: string | null;
  /** Changed, staged or unmerged tracked paths, as `XY path`. */
  dirty: string[];
  /** What `git clean -fd` would remove, relative to the top level. */
  untracked: string[];
}

/**
 * The working-tree check over the whole tree except vpm's own state (`pathspecs`), as two git
 * processes run at the same time: `status` for tracked changes (it stats every tracked file, and
 * reports the HEAD it saw) and `clean --dry-run -d` for the untracked paths to take out (it reads
 * every directory). On two cores they cost the longer of the two walks instead of their sum.
 * Optional locks are off: the check must never hold index.lock, since it may run next to another
 * vpm command (see preflightCheckArgs).
 */
function worktreeCheckArgs(pathspecs: string[]): [status: string[], untracked: string[]] {
  return [
    ['--no-optional-locks', 'status', '--porcelain=v2', '--branch', '--no-ahead-behind', '-z', '--untracked-files=no', '--', ...pathspecs],
    ['--no-optional-locks', ...cleanDryRunArgs(pathspecs)],
  ];
}

/**
 * The dirty-tree check as commands run from the state root (vpm's --cwd) while the repository is
 * still being looked up: `:/` covers the whole repository and the excludes are relative to the state
 * root. On a large tree this is the one expensive read of the rollback; taking it off the critical
 * path matters. Its HEAD is compared with HEAD under the lock, and the check is redone there if
 * anything was committed in between.
 */
export function preflightCheckArgs(): string[][] {
  return worktreeCheckArgs([':/', ...STATE_PATHS.map((p) => `:(exclude,literal)${p}`)]);
}

/**
 * Combines the two halves of the working-tree check; undefined when either failed. `prefix` is
 * where they ran, relative to the top level (git clean prints paths relative to it).
 */
export function parseWorktreeCheck([status, untracked]: GitResult[], prefix = ''): WorktreeStatus | undefined {
  if (status?.exitCode !== 0 || untracked?.exitCode !== 0) return undefined;
  return { ...parseStatus(status.stdout), untracked: parseCleanDryRun(untracked.stdout, prefix) };
}

/** Parses `git status --porcelain=v2 --branch -z`. */
function parseStatus(out: string): Omit<WorktreeStatus, 'untracked'> {
  const tokens = out.split('\0');
  let head: string | null = null;
  const dirty: string[] = [];
  // Fields before the path, per entry type: ordinary, rename/copy, unmerged, untracked.
  const fieldsBeforePath: Record<string, number> = { '1': 8, '2': 9, u: 10, '?': 1 };
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i];
    if (t.startsWith('# branch.oid ')) {
      const oid = t.slice('# branch.oid '.length);
      head = /^[0-9a-f]+$/.test(oid) ? oid : null;
      continue;
    }
    const n = fieldsBeforePath[t[0]];
    if (n === undefined || t[1] !== ' ') continue;
    const fields = t.split(' ');
    const xy = t[0] === '?' ? '??' : fields[1].replace(/\./g, ' ').trim();
    dirty.push(`${xy} ${fields.slice(n).join(' ')}`);
    // A rename/copy carries its source path as the next token.
    if (t[0] === '2') i++;
  }
  return { head, dirty };
}

async function worktreeStatus(git: GitRunner, repo: RepoInfo): Promise<WorktreeStatus> {
  const results = await Promise.all(worktreeCheckArgs(excludeStatePathspecs(repo)).map((args) => git.probe(args)));
  const status = parseWorktreeCheck(results);
  if (!status) {
    const failed = results.find((r) => r.exitCode !== 0)!;
    throw new OperationalError(`git could not check the working tree: ${failed.stderr.trim() || `exit ${failed.exitCode}`}`);
  }
  return status;
}

/**
 * Every precondition, read-only, reading HEAD as it is now (call it under the lock). Throws
 * RefusedError explaining the first one that fails. Four git processes, run concurrently.
 */
async function planRollback(
  deps: RollbackDeps,
  target: ResolvedTarget,
  preflight?: Promise<WorktreeStatus | undefined>,
): Promise<RollbackPlan> {
  return (await inspect(deps, target, preflight)).plan;
}

/**
 * The read-only commands the plan is made from, besides the working-tree check: commits between
 * HEAD and the target, both commits' hashes, subjects and checkpoint names, the remotes, and the
 * paths the two commits have differently. None depends on where git runs, so a hot path may start
 * them before the repository is even located (see prestartGitProbes); a plan made from such early
 * reads is checked against HEAD as it is under the lock.
 */
export function planProbeArgs(target: string): string[][] {
  return [
    ['rev-list', '--left-right', '--count', `HEAD...${target}`],
    [
      'log',
      '--no-walk=unsorted',
      '--decorate=full',
      `--decorate-refs=${CHECKPOINT_REF_PREFIX}`,
      '--format=%H%x00%s%x00%D',
      'HEAD',
      target,
      '--',
    ],
    ['remote'],
    treeChangesArgs('HEAD', target),
  ];
}

async function inspect(
  deps: RollbackDeps,
  target: ResolvedTarget,
  preflight?: Promise<WorktreeStatus | undefined>,
): Promise<{ plan: RollbackPlan; changes: TreeChange[] }> {
  const { git, repo } = deps;
  refuseIfOperationInProgress(repo, 'roll back');
  const [countArgs, logArgs, remoteArgs] = planProbeArgs(target.hash);
  const [early, counts, info, remotes, changes, flags] = await Promise.all([
    preflight,
    git.probe(countArgs),
    git.probe(logArgs),
    git.run(remoteArgs),
    treeChanges(git, 'HEAD', target.hash).catch((err: Error) => err),
    // Only when the index holds a flagged entry (read from the file: nearly never) does git list them.
    indexFlaggedEntries(repo.gitDir, objectIdBytes(repo)) === 'none'
      ? Promise.resolve({ exitCode: 0, stdout: '', stderr: '' })
      : git.probe(['ls-files', '-v', '-z']),
  ]);
  if (info.exitCode !== 0 || counts.exitCode !== 0) {
    if ((await git.probe(['rev-parse', '--verify', '--quiet', 'HEAD^{commit}'])).exitCode !== 0) {
      throw new RefusedError('cannot roll back: this repository has no commits yet', { hint: 'commit or checkpoint something first' });
    }
    throw new OperationalError(`git could not compare HEAD with ${target.hash}: ${(info.stderr || counts.stderr).trim()}`);
  }
  if (changes instanceof Error) throw new OperationalError(`git could not compare HEAD with ${target.hash}: ${changes.message}`);
  // `git log --no-walk` prints HEAD first, then the target (once, if they are the same commit).
  const head = info.stdout.slice(0, info.stdout.indexOf('\0'));
  // Without an early status, or when something was committed since it was taken (another vpm
  // checkpoint), the tree is looked at now, under the lock.
  const status = early && early.head === head ? early : await worktreeStatus(git, repo);
  const dirty = status.dirty;
  if (dirty.length > 0) {
    const shown = dirty.slice(0, 10).join('\n  ');
    throw new RefusedError(
      `the working tree has uncommitted changes (${dirty.length} path${dirty.length === 1 ? '' : 's'}); a rollback would destroy them:\n  ${shown}${dirty.length > 10 ? '\n  …' : ''}`,
      {
        hint: 'keep them in a checkpoint first (vpm checkpoint NAME), or stash them (git stash), then roll back',
        details: { dirty_paths: dirty },
      },
    );
  }
  // Edits git status does not show (assume-unchanged / skip-worktree files) would be overwritten
  // by the reset with no copy anywhere: refuse, naming them.
  const hidden = await hiddenEdits(git, repo, flags.exitCode === 0 ? flags.stdout : '');
  if (hidden.length > 0) {
    throw new RefusedError(
      `${hidden.length} file(s) marked assume-unchanged or skip-worktree differ from what git has; a rollback would overwrite them with no copy:\n  ${hidden.slice(0, 10).join('\n  ')}${hidden.length > 10 ? '\n  …' : ''}`,
      {
        hint: 'clear the flag (git update-index --no-assume-unchanged --no-skip-worktree -- PATH), then commit, checkpoint or stash the edit and roll back',
        details: { hidden_edits: hidden },
      },
    );
  }
  const commits = info.stdout
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [hash, subject = '', deco = ''] = line.split('\0');
      const checkpoints = deco
        .split(', ')
        .map((d) => d.replace(/^HEAD -> /, ''))
        .filter((d) => d.startsWith(CHECKPOINT_REF_PREFIX))
        .map((d) => d.slice(CHECKPOINT_REF_PREFIX.length))
        .sort();
      return { hash, subject, checkpoints };
    });
  const targetInfo = commits.find((c) => c.hash === target.hash) ?? commits[0];
  const [undone, ahead] = counts.stdout.trim().split(/\s+/).map(Number);
  const isAncestor = ahead === 0;
  if (!isAncestor && targetInfo.checkpoints.length === 0) {
    throw new RefusedError(
      `refusing to roll back to ${shortHash(target.hash)}: it is not an ancestor of HEAD (${shortHash(head)}) and no vpm checkpoint points at it`,
      {
        hint:
          'a rollback only moves back along the current history or to a checkpoint; pick one from vpm checkpoint list or git log --first-parent. ' +
          'To move to unrelated work, use git switch / git reset yourself.',
        details: { target: target.hash, head },
      },
    );
  }
  const plan: RollbackPlan = {
    head,
    branch: target.branch,
    target: target.hash,
    target_subject: targetInfo.subject,
    checkpoints: targetInfo.checkpoints,
    source: target.source,
    allowed_because: isAncestor ? 'ancestor' : 'checkpoint',
    commits_undone: undone,
    remotes: remotes.split('\n').filter(Boolean),
    ...(await classifyUntracked(
      repo,
      keepingDirectory(repo.toplevel, [...status.untracked, ...unheldPaths(repo, changes, status.untracked)], startedIn(deps)),
    )),
  };
  return { plan, changes };
}

/**
 * Ignored files (.gitignore, .git/info/exclude) and untracked nested repositories where the target
 * adds a path: moved aside with the untracked files so the undo command puts them back. vpm's state
 * files are left out: they are snapshotted and restored on their own.
 */
function unheldPaths(repo: RepoInfo, changes: TreeChange[], untracked: string[]): string[] {
  const state = new Set(stateFilesAmong(repo, changes));
  const added = changes.filter((c) => c.status === 'A' && !state.has(c.path)).map((c) => c.path);
  return added.length > 0 ? unheldInTheWay(repo.toplevel, added, untracked) : [];
}

/**
 * Tracked files flagged assume-unchanged (`git ls-files -v` tag in lower case) or skip-worktree
 * (tag `S`) whose working-tree content differs from the index: edits that git status hides.
 */
/** 32 in a SHA-256 repository, else 20 (the width of object ids in its index). */
function objectIdBytes(repo: RepoInfo): number {
  try {
    return /^\s*objectformat\s*=\s*sha256\s*$/im.test(readFileSync(join(repo.commonDir, 'config'), 'utf8')) ? 32 : 20;
  } catch {
    return 20;
  }
}

async function hiddenEdits(git: GitRunner, repo: RepoInfo, lsFilesV: string): Promise<string[]> {
  const flagged: string[] = [];
  for (const entry of lsFilesV.split('\0')) {
    if (entry.length < 3) continue;
    const tag = entry[0]!;
    if (tag === 'S' || (tag >= 'a' && tag <= 'z')) flagged.push(entry.slice(2));
  }
  if (flagged.length === 0) return [];
  const present = flagged.filter((p) => existsSync(join(repo.toplevel, p)));
  if (present.length === 0) return [];
  const [staged, hashed] = await Promise.all([
    git.run(['ls-files', '-s', '-z', '--', ...present.map((p) => `:(literal)${p}`)]),
    git.run(['hash-object', '--', ...present]),
  ]);
  const indexBlob = new Map<string, string>();
  for (const e of staged.split('\0')) {
    const m = /^\d+ ([0-9a-f]+) \d\t(.*)$/s.exec(e);
    if (m) indexBlob.set(m[2]!, m[1]!);
  }
  const hashes = hashed.trim().split('\n');
  return present.filter((p, i) => indexBlob.get(p) !== hashes[i]);
}

/** The directory vpm was started in, relative to the top level ('' when it is the top level or outside it). */
function startedIn(deps: RollbackDeps): string {
  if (!deps.startDir) return '';
  let dir = deps.startDir;
  try {
    dir = realpathSync(dir); // git reports the top level without symbolic links
  } catch {
    return '';
  }
  const rel = relative(deps.repo.toplevel, dir);
  return rel.startsWith('..') || isAbsolute(rel) ? '' : rel.split(sep).join('/');
}

async function classifyUntracked(repo: RepoInfo, paths: string[]): Promise<Pick<RollbackPlan, 'untracked' | 'empty_untracked_dirs'>> {
  const { withFiles, empty } = await splitEmptyDirectories(repo.toplevel, paths);
  return { untracked: withFiles, empty_untracked_dirs: empty };
}

/** Creates `refs/vpm/pre-rollback/<ts>` at HEAD; never overwrites an existing one. */
async function savePreRollbackRef(deps: RollbackDeps, head: string, target: string): Promise<string> {
  const stamp = compactStamp(deps.now());
  for (let n = 1; n <= 20; n++) {
    const ref = `${PRE_ROLLBACK_REF_PREFIX}${stamp}${n === 1 ? '' : `_${n}`}`;
    // An empty old value makes update-ref fail when the ref already exists.
    const r = await deps.git.probe(['update-ref', '-m', `vpm rollback: HEAD before rolling back to ${target}`, ref, head, '']);
    if (r.exitCode === 0) return ref;
    if (!/already exists|reference already exists|unable to lock|cannot lock/i.test(r.stderr)) {
      throw new OperationalError(`could not save HEAD before the rollback: ${r.stderr.trim()}`, {
        hint: 'nothing was changed; fix the problem git reports and retry',
      });
    }
  }
  throw new OperationalError('could not find a free refs/vpm/pre-rollback/ name', { hint: 'nothing was changed; retry in a second' });
}

/** Deletes an undo ref vpm just saved, only while it still points at `head`. */
async function deletePreRollbackRef(deps: RollbackDeps, ref: string, head: string): Promise<void> {
  await deps.git.probe(['update-ref', '-d', ref, head]);
}

async function fetchRemotes(deps: RollbackDeps, remotes: string[], idleTimeoutMs: number): Promise<FetchOutcome> {
  if (remotes.length === 0) return { status: 'skipped', remotes };
  deps.status(`fetching ${remotes.join(', ')} …`);
  try {
    await deps.git.runRemote(['fetch', '--all', '--quiet'], idleTimeoutMs);
    return { status: 'ok', remotes };
  } catch (err) {
    const reason = err instanceof GitCommandError ? err.stderr.trim() || err.message : (err as Error).message;
    deps.status(`warning: git fetch failed (${reason.split('\n')[0]}); rolling back with what is in the local repository`);
    return { status: 'failed', remotes, error: reason };
  }
}

/**
 * Whether a `.gitignore` differs between HEAD and the target: files ignored now may be untracked
 * after the rollback, and `git clean -fd` would then remove them.
 */
function ignoreRulesChange(changes: TreeChange[]): boolean {
  return changes.some((c) => c.path === '.gitignore' || c.path.endsWith('/.gitignore'));
}

/**
 * Files are written by one checkout worker per core (git ≥ 2.32; older versions ignore the key)
 * instead of git's default of one: on a large rollback most of the time goes to writing files.
 */
const PARALLEL_CHECKOUT = ['-c', 'checkout.workers=0'];

/** The command that undoes the rollback: the branch back to the saved HEAD, the untracked files back in place. */
function undoCommand(preRef: string, untrackedDir: string | null): string {
  const reset = `git reset --hard ${preRef}`;
  return untrackedDir ? `${reset} && sh ${shellQuote(join(untrackedDir, RESTORE_SCRIPT))}` : reset;
}

/**
 * Saves `refs/vpm/pre-rollback/<ts>` at HEAD as it is now, while the plan is being made: the plan's
 * check of the working tree is the slow part, and the ref costs a git process of its own. The ref is
 * only used when the plan turns out to be for that same HEAD; otherwise — a refusal, or HEAD moved
 * meanwhile — `discard` deletes it again (only if it still points there), so a refused rollback
 * leaves nothing behind.
 */
async function saveUndoPointEarly(
  deps: RollbackDeps,
  target: string,
): Promise<{ head: string; ref: Promise<string>; discard(): Promise<void> } | undefined> {
  const head = await currentHead(deps.git, deps.repo);
  if (!head) return undefined;
  const ref = savePreRollbackRef(deps, head, target);
  // A failure surfaces where the ref is used (execute), or not at all when the plan is refused first.
  ref.catch(() => undefined);
  return {
    head,
    ref,
    async discard() {
      const saved = await ref.catch(() => undefined);
      if (saved) await deletePreRollbackRef(deps, saved, head);
    },
  };
}

async function execute(
  deps: RollbackDeps,
  plan: RollbackPlan,
  changes: TreeChange[],
  opts: RollbackOptions,
  undoRef: Promise<string> = savePreRollbackRef(deps, plan.head, plan.target),
): Promise<RollbackDone> {
  const { git, repo } = deps;
  // vpm's state files that the reset rewrites are copied aside while HEAD is being saved.
  const snapshotDir = join(repo.gitDir, 'vpm', `rollback-state-${compactStamp(deps.now())}-${process.pid}`);
  let kept = stateFilesAmong(repo, changes);
  const [savedRef, savedState] = await Promise.allSettled([
    undoRef,
    kept.length > 0 ? snapshotStateFiles(repo, kept, snapshotDir) : Promise.resolve(undefined),
  ]);
  if (savedRef.status === 'rejected' || savedState.status === 'rejected') {
    await rm(snapshotDir, { recursive: true, force: true });
    if (savedRef.status === 'fulfilled') await deletePreRollbackRef(deps, savedRef.value, plan.head);
    throw savedRef.status === 'rejected' ? savedRef.reason : savedState.status === 'rejected' ? savedState.reason : undefined;
  }
  const preRef = savedRef.value;
  let snapshot: StateSnapshot | undefined = savedState.value;
  // Paired with the ref by name: refs/vpm/pre-rollback/<ts> ↔ .git/vpm/untracked/<ts>/.
  const untrackedDir = join(repo.commonDir, 'vpm', 'untracked', preRef.slice(PRE_ROLLBACK_REF_PREFIX.length));
  let undo = undoCommand(preRef, plan.untracked.length > 0 ? untrackedDir : null);
  deps.status(`saved HEAD ${shortHash(plan.head)} as ${preRef} (undo with: ${undo})`);

  const fetch = await fetchRemotes(deps, plan.remotes, opts.fetchIdleTimeoutMs ?? 60_000);

  // Untracked paths moved aside, and empty untracked directories removed.
  let saved: SavedUntracked[] = [];
  const emptied: string[] = [];

  /**
   * `git reset --hard <target>` for a tree known to be clean, doing only the work that state needs:
   * `git reset --keep` writes and deletes just the paths that differ between HEAD and the target
   * (reset --hard re-checks every tracked file), and moves the branch, ORIG_HEAD and the reflog the
   * same way. It checks every path before touching any and refuses to overwrite a file changed since
   * the dirty-tree check; it also refuses when an index entry merely looks stale (a touched file), so
   * on refusal — nothing changed yet — reset --hard runs: the check just showed the tree clean.
   *
   * vpm's state files are copied aside first and put back afterwards. reset --keep only rewrites the
   * ones the two commits have differently; reset --hard also rewrites tracked ones edited since the
   * last commit, so before it the set is taken again from the working tree.
   */
  const resetTo = async (target: string): Promise<void> => {
    const keep = await git.probe([...PARALLEL_CHECKOUT, 'reset', '--keep', '--quiet', target]);
    if (keep.exitCode === 0) return;
    kept = await stateFilesGitWouldTouch(git, repo, target);
    if (snapshot) await rm(snapshot.dir, { recursive: true, force: true });
    snapshot = kept.length > 0 ? await snapshotStateFiles(repo, kept, snapshotDir) : undefined;
    await git.run([...PARALLEL_CHECKOUT, 'reset', '--hard', '--quiet', target]);
  };
  try {
    // Untracked paths where the reset writes are moved out of its way first; the others, which it
    // never looks at, while it runs.
    const { inTheWay, clear } = splitByChangedPaths(
      plan.untracked,
      changes.map((c) => c.path),
    );
    if (inTheWay.length > 0) saved = moveAside(repo.toplevel, inTheWay, untrackedDir);
    const resetting = resetTo(plan.target);
    // Its failure is reported below, after the moves; until then it must not count as unhandled.
    resetting.catch(() => undefined);
    let moving: unknown;
    if (clear.length > 0) {
      // One turn of the event loop first: git starts only once simple-git's promises have run.
      await new Promise((started) => setImmediate(started));
      try {
        saved = moveAside(repo.toplevel, clear, untrackedDir, saved);
      } catch (err) {
        moving = err;
      }
    }
    await resetting;
    if (moving) throw moving;
    if (clear.length > 0) {
      const deleted = changes.filter((c) => c.status === 'D').map((c) => c.path);
      await removeDirectoriesLeftEmpty(repo.toplevel, clear, deleted, startedIn(deps));
    }
    // The untracked paths are out and reset only deletes tracked files, so `git clean -fd` can find
    // something only where ignore rules changed: files ignored before the rollback and not after it.
    // Elsewhere it would walk the whole tree to find nothing.
    if (ignoreRulesChange(changes)) {
      const unignored = await classifyUntracked(
        repo,
        keepingDirectory(repo.toplevel, parseCleanDryRun(await git.run(cleanDryRunArgs(excludeStatePathspecs(repo)))), startedIn(deps)),
      );
      if (unignored.untracked.length > 0) saved = moveAside(repo.toplevel, unignored.untracked, untrackedDir, saved);
      emptied.push(...(await removeEmptyDirectories(repo.toplevel, unignored.empty_untracked_dirs)));
    }
    emptied.push(...(await removeEmptyDirectories(repo.toplevel, plan.empty_untracked_dirs)));
  } catch (err) {
    throw new OperationalError(`the rollback failed part-way: ${(err as Error).message}`, {
      hint: `your previous state is saved: ${undoCommand(preRef, plan.untracked.length + saved.length > 0 ? untrackedDir : null)}${snapshot ? `; vpm's state files are copied in ${snapshot.dir}` : ''}`,
      cause: err,
    });
  }
  if (snapshot) await restoreStateFiles(repo, snapshot);
  if (saved.length > 0) {
    undo = undoCommand(preRef, untrackedDir);
    deps.status(`moved ${saved.length} untracked path(s) out of the tree into ${untrackedDir}`);
  }
  return {
    ...plan,
    pre_rollback_ref: preRef,
    undo_command: undo,
    fetch,
    removed: [...saved.map((e) => e.path), ...emptied],
    untracked_saved_to: saved.length > 0 ? untrackedDir : null,
    kept_state: kept,
  };
}

/**
 * Plans, confirms (when `deps.confirm` is given) and performs the rollback under the repository lock.
 * With a confirmation the plan is made before asking (so the question is concrete) and made again
 * under the lock, so nothing that changed meanwhile is rolled back unseen.
 */
export async function rollback(
  deps: RollbackDeps,
  target: ResolvedTarget,
  opts: RollbackOptions = {},
  preflight?: Promise<WorktreeStatus | undefined>,
): Promise<RollbackDone> {
  let agreed: RollbackPlan | undefined;
  if (deps.confirm) {
    agreed = await planRollback(deps, target, preflight);
    if (!(await deps.confirm(agreed))) {
      throw new UsageError('rollback cancelled; nothing was changed');
    }
  }
  const askedForLock = performance.now();
  return withRepoLock(deps.repo, deps.env, async () => {
    // The early status only stands in for one taken under the lock when it is that fresh: not after
    // a confirmation prompt, nor after waiting for another vpm's lock (files may have been edited meanwhile).
    const fresh = !agreed && performance.now() - askedForLock < EARLY_STATUS_MAX_WAIT_MS;
    const early = await saveUndoPointEarly(deps, target.hash);
    let inspected;
    try {
      inspected = await inspect(deps, target, fresh ? preflight : undefined);
      // Reads started before the lock (a hot path's) describe HEAD as it was then: another vpm may have
      // committed since. Then everything is read again, now.
      if ((await currentHead(deps.git, deps.repo)) !== inspected.plan.head) inspected = await inspect(deps, target);
      if (agreed && agreed.head !== inspected.plan.head) {
        throw new RefusedError('the repository changed while waiting for confirmation; nothing was changed', {
          hint: 'run vpm rollback again to review the new state',
        });
      }
    } catch (err) {
      await early?.discard();
      throw err;
    }
    const { plan, changes } = inspected;
    const earlyFits = early?.head === plan.head;
    if (early && !earlyFits) await early.discard();
    return execute(deps, plan, changes, opts, earlyFits ? early?.ref : undefined);
  });
}
