/**
 * Which of vpm's files are its runtime state (never committed by a checkpoint), and keeping vpm's
 * own state (logs/, memory.json, .ops/, reports/) through `git reset --hard`.
 *
 * Untracked state survives on its own: `git clean` is told to leave those paths alone. Tracked state
 * does not: reset rewrites every tracked file to the target's version and deletes files the target
 * does not have. So the files git would touch — tracked now, or present in the target — are copied
 * aside before the reset and put back exactly as they were after it (including "absent"). The copy
 * lives under the git directory, not in memory, so a rollback killed half-way leaves it recoverable.
 */
import { copyFile, lstat, mkdir, readlink, rename, rm, symlink, writeFile, chmod } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { GitRunner } from '../adapters/git.js';
import { OperationalError } from '../core/errors.js';
import { RUNTIME_STATE_PATHS } from '../project/runtime-state.js';
import { statePaths, type RepoInfo } from './repo.js';

interface SavedEntry {
  /** Relative to the top level, as git prints it. */
  path: string;
  kind: 'file' | 'symlink' | 'absent';
  mode?: number;
  link?: string;
  /** File name of the copy inside the snapshot directory. */
  copy?: string;
}

export interface StateSnapshot {
  dir: string;
  entries: SavedEntry[];
}

/** The runtime state paths from the top level, as git prints them ('sub/dir/logs' under a prefix). */
function runtimeStatePaths(repo: RepoInfo): string[] {
  return RUNTIME_STATE_PATHS.map((p) => `${repo.prefix}${p}`);
}

/** What git status says about the runtime state: the parts a plain `git add --all` would stage. */
export interface RuntimeStateStatus {
  /** Roots with untracked files .gitignore does not exclude. */
  untrackedRoots: string[];
  /** Tracked files under the roots that are changed, deleted or staged. */
  trackedChanges: string[];
  /** Every root with either, in RUNTIME_STATE_PATHS order. */
  roots: string[];
}

/** One git status limited to the runtime state paths. */
export async function runtimeStateStatus(git: GitRunner, repo: RepoInfo): Promise<RuntimeStateStatus> {
  const roots = runtimeStatePaths(repo);
  const out = await git.run([
    'status',
    '--porcelain=v1',
    '-z',
    '--untracked-files=normal',
    '--no-renames',
    '--',
    ...roots.map((p) => `:(literal)${p}`),
  ]);
  const untracked = new Set<string>();
  const changed = new Set<string>();
  const trackedChanges: string[] = [];
  for (const record of splitZ(out)) {
    // "XY path"; an untracked directory is printed as "path/".
    const path = record.slice(3).replace(/\/$/, '');
    const root = roots.find((r) => path === r || path.startsWith(`${r}/`));
    if (!root) continue;
    if (record.startsWith('??')) untracked.add(root);
    else {
      changed.add(root);
      trackedChanges.push(path);
    }
  }
  return {
    untrackedRoots: roots.filter((r) => untracked.has(r)),
    trackedChanges,
    roots: roots.filter((r) => untracked.has(r) || changed.has(r)),
  };
}

/**
 * Stages everything a checkpoint commits: `git add --all` minus the runtime state. Untracked state
 * is left out with exclude pathspecs — only for roots git does not ignore already: git 2.39 refuses
 * (exit 1, "paths are ignored") an exclude pathspec that names an ignored directory. Changes to
 * state that is tracked anyway are put back to HEAD's version in the index afterwards, since an
 * exclude pathspec under an ignored directory meets the same refusal.
 */
export async function stageAllButRuntimeState(git: GitRunner, repo: RepoInfo): Promise<void> {
  const before = await runtimeStateStatus(git, repo);
  await git.run(['add', '--all', '--', '.', ...before.untrackedRoots.map((p) => `:(exclude,literal)${p}`)]);
  if (before.trackedChanges.length > 0) {
    await git.run(['reset', '--quiet', '--', ...before.trackedChanges.map((p) => `:(literal)${p}`)]);
  }
}

function splitZ(out: string): string[] {
  return out.split('\0').filter(Boolean);
}

/**
 * State files whose content `git reset --hard <target>` would change: `git diff <target>` compares
 * the working tree (for every path in the index or in the target) with the target, so it names the
 * tracked files reset would rewrite or delete and the target's files reset would write over
 * whatever is there now. One small, pathspec-limited git process.
 */
export async function stateFilesGitWouldTouch(git: GitRunner, repo: RepoInfo, target: string): Promise<string[]> {
  const out = await git.run([
    'diff',
    '--name-only',
    '--no-renames',
    '--no-ext-diff',
    '-z',
    target,
    '--',
    ...statePaths(repo).map((p) => `:(literal)${p}`),
  ]);
  return [...new Set(splitZ(out))].sort();
}

/** A path two commits have differently: `A`dded, `D`eleted, `M`odified, `T`ype changed (from → to). */
export interface TreeChange {
  status: string;
  path: string;
}

/**
 * Every path commits `from` and `to` have differently — what a reset from one to the other writes
 * or deletes — read from the two commits alone (no index, no working tree; subtrees with the same
 * hash are skipped), so it costs what the difference is, not what the tree is. One git process.
 */
export function treeChangesArgs(from: string, to: string): string[] {
  return ['diff-tree', '-r', '--name-status', '--no-renames', '-z', from, to];
}

export async function treeChanges(git: GitRunner, from: string, to: string): Promise<TreeChange[]> {
  const fields = splitZ(await git.run(treeChangesArgs(from, to)));
  const changes: TreeChange[] = [];
  for (let i = 0; i + 1 < fields.length; i += 2) changes.push({ status: fields[i], path: fields[i + 1] });
  return changes;
}

/** The vpm state files among the changes: the ones a reset between the two commits rewrites or deletes. */
export function stateFilesAmong(repo: RepoInfo, changes: TreeChange[]): string[] {
  const roots = statePaths(repo);
  return changes
    .map((c) => c.path)
    .filter((path) => roots.some((root) => path === root || path.startsWith(`${root}/`)))
    .sort();
}

export async function snapshotStateFiles(repo: RepoInfo, paths: string[], dir: string): Promise<StateSnapshot> {
  await mkdir(dir, { recursive: true });
  const entries: SavedEntry[] = [];
  for (const [i, path] of paths.entries()) {
    const abs = join(repo.toplevel, path);
    let st;
    try {
      st = await lstat(abs);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') {
        entries.push({ path, kind: 'absent' });
        continue;
      }
      throw err;
    }
    if (st.isSymbolicLink()) {
      entries.push({ path, kind: 'symlink', link: await readlink(abs) });
    } else if (st.isFile()) {
      const copy = `f${i}`;
      await copyFile(abs, join(dir, copy));
      entries.push({ path, kind: 'file', mode: st.mode & 0o777, copy });
    } else {
    }
  }
  await writeFile(join(dir, 'manifest.json'), `${JSON.stringify(entries, null, 2)}\n`);
  return { dir, entries };
}

/** Puts every saved state file back as it was before the reset, then drops the snapshot. */
export async function restoreStateFiles(repo: RepoInfo, snapshot: StateSnapshot): Promise<void> {
  try {
    for (const e of snapshot.entries) {
      const abs = join(repo.toplevel, e.path);
      if (e.kind === 'absent') {
        await rm(abs, { force: true, recursive: true });
        continue;
      }
      await mkdir(dirname(abs), { recursive: true });
      if (e.kind === 'symlink') {
        await rm(abs, { force: true, recursive: true });
        await symlink(e.link!, abs);
        continue;
      }
      // Copy next to the destination and rename over it, so a reader never sees a half-written file.
      const tmp = `${abs}.vpm-restore-${process.pid}`;
      await copyFile(join(snapshot.dir, e.copy!), tmp);
      await chmod(tmp, e.mode!);
      const existing = await lstat(abs).catch(() => undefined);
      if (existing?.isDirectory()) await rm(abs, { recursive: true, force: true });
      await rename(tmp, abs);
    }
  } catch (err) {
    throw new OperationalError(`the rollback was done, but vpm could not put its state files back: ${(err as Error).message}`, {
      hint: `the saved copies are in ${snapshot.dir} (manifest.json maps them to their paths); copy them back by hand`,
      cause: err,
    });
  }
  await rm(snapshot.dir, { recursive: true, force: true });
}
