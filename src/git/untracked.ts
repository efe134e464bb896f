/**
 * Untracked files and a rollback.
 *
 * A rollback ends with the tree `git clean -fd` leaves: untracked files and directories (not ignored
 * ones, not vpm's state, not nested repositories) are gone. vpm does not delete them: it moves them
 * into `.git/vpm/untracked/<stamp>/`, next to the `refs/vpm/pre-rollback/<stamp>` ref that keeps the
 * committed work, so the rollback can be undone whole. Which paths those are is git's own answer:
 * `git clean -n -d` lists exactly what `git clean -fd` would remove (whole directories as `dir/`).
 *
 * The saved entries sit side by side under numbers, not in a copy of the tree: creating the copy's
 * directories costs more than the moves themselves (on a large tree, more than `git clean -fd`
 * takes). Beside them, `restore.sh` — a plain POSIX shell script, written before anything is moved —
 * moves each one back to its path; the undo command vpm prints runs it.
 */
import { cpSync, existsSync, lstatSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync, type Dirent } from 'node:fs';
import { readdir, rmdir } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { shellQuote } from '../core/posix-shell.js';

/** `git clean --dry-run -d` over the given pathspecs; its paths are relative to where it runs. */
export function cleanDryRunArgs(pathspecs: string[]): string[] {
  return ['-c', 'core.quotePath=false', 'clean', '--dry-run', '-d', '--', ...pathspecs];
}

const WOULD_REMOVE = 'Would remove ';

/**
 * The paths in `git clean -n` output, relative to the top level: `prefix` is where git ran, relative
 * to the top level ('' or 'sub/dir/'). Directories keep their trailing slash.
 */
export function parseCleanDryRun(out: string, prefix = ''): string[] {
  return out
    .split('\n')
    .filter((line) => line.startsWith(WOULD_REMOVE))
    .map((line) => {
      const path = unquoteCPath(line.slice(WOULD_REMOVE.length));
      const fromTop = posix.normalize(prefix + path);
      return path.endsWith('/') && !fromTop.endsWith('/') ? `${fromTop}/` : fromTop;
    });
}

const C_ESCAPES: Record<string, number> = { a: 7, b: 8, t: 9, n: 10, v: 11, f: 12, r: 13, '"': 34, '\\': 92 };

/** Undoes git's C-style path quoting ("a\"b\n", octal bytes for non-ASCII); plain paths pass through. */
export function unquoteCPath(s: string): string {
  if (!(s.startsWith('"') && s.endsWith('"') && s.length >= 2)) return s;
  const bytes: number[] = [];
  const body = s.slice(1, -1);
  for (let i = 0; i < body.length; i++) {
    const ch = body[i];
    if (ch !== '\\') {
      bytes.push(...Buffer.from(ch, 'utf8'));
      continue;
    }
    const next = body[++i];
    if (next >= '0' && next <= '7') {
      bytes.push(parseInt(body.slice(i, i + 3), 8));
      i += 2;
    } else {
      bytes.push(C_ESCAPES[next] ?? next.charCodeAt(0));
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

/** `a/b/c` → `a`, `a/b`. */
function ancestors(path: string): string[] {
  const out: string[] = [];
  for (let i = path.indexOf('/'); i !== -1; i = path.indexOf('/', i + 1)) out.push(path.slice(0, i));
  return out;
}

/**
 * Splits untracked paths into those in the way of a reset that changes `changed` (the same path, a
 * directory over a changed path, or a path under a changed one: the reset would write over them or
 * trip on them) and those it never looks at, which can be moved while it runs.
 */
export function splitByChangedPaths(untracked: string[], changed: string[]): { inTheWay: string[]; clear: string[] } {
  const paths = new Set(changed);
  const dirs = new Set(changed.flatMap(ancestors));
  const inTheWay: string[] = [];
  const clear: string[] = [];
  for (const entry of untracked) {
    const p = entry.replace(/\/$/, '');
    const blocked = paths.has(p) || dirs.has(p) || ancestors(p).some((a) => paths.has(a));
    (blocked ? inTheWay : clear).push(entry);
  }
  return { inTheWay, clear };
}

/**
 * `paths` (untracked, relative to `toplevel`, directories ending in `/`) with every directory on the
 * way to `here` (the directory vpm was started in, relative to `toplevel`) opened up: its other
 * entries are listed instead, so they are moved while it stays — as git keeps the directory a
 * command runs in — and the shell that started vpm is not left inside a directory taken out of the tree.
 */
export function keepingDirectory(toplevel: string, paths: string[], here: string): string[] {
  if (!here) return paths;
  const inside = `${here.replace(/\/$/, '')}/`;
  const open = (dir: string): string[] =>
    readdirSync(join(toplevel, dir), { withFileTypes: true }).flatMap((e) => {
      const child = `${dir}${e.name}${e.isDirectory() ? '/' : ''}`;
      return e.isDirectory() && inside.startsWith(child) ? open(child) : [child];
    });
  return paths.flatMap((p) => (p.endsWith('/') && inside.startsWith(p) ? open(p) : [p]));
}

/**
 * Directories the reset emptied of tracked files while untracked ones were being moved out of them:
 * git removes a directory it empties only if nothing else is in it at that moment, and `git clean -fd`
 * would then have removed it as wholly untracked. Removes those now empty (rmdir: never one with
 * anything in it), deepest first.
 */
export async function removeDirectoriesLeftEmpty(toplevel: string, moved: string[], deleted: string[], here = ''): Promise<void> {
  const emptiedByReset = new Set(deleted.flatMap(ancestors));
  // The directory vpm was started in and those above it stay (see keepingDirectory).
  const kept = new Set(here ? [here.replace(/\/$/, ''), ...ancestors(here.replace(/\/$/, ''))] : []);
  const candidates = [...new Set(moved.flatMap((m) => ancestors(m.replace(/\/$/, ''))))].filter(
    (d) => emptiedByReset.has(d) && !kept.has(d),
  );
  candidates.sort((a, b) => b.split('/').length - a.split('/').length);
  for (const dir of candidates) await rmdir(join(toplevel, dir)).catch(() => undefined);
}

/** One untracked path kept aside: `name` inside the saved directory, `path` relative to the top level. */
export interface SavedUntracked {
  name: string;
  path: string;
}

export const RESTORE_SCRIPT = 'restore.sh';

/**
 * Moves the paths (relative to `toplevel`) into `dir`, numbered after the `already` saved there, and
 * (re)writes its restore script for all of them first, so a rollback killed half-way still leaves a
 * script that puts back whatever was moved. Renames within one file system (the usual case: the git
 * directory is inside the working tree) cost one metadata update per entry, whole directories
 * included; across file systems the entry is copied, then removed. A path gone by now is skipped.
 * Returns every entry now saved in `dir`.
 *
 * Synchronous on purpose: the rollback runs it while git resets the tree and the main thread has
 * nothing else to do; a thousand renames one after another cost a fraction of a thousand promises
 * sent through the thread pool, CPU the reset's checkout workers need.
 */
export function moveAside(toplevel: string, paths: string[], dir: string, already: SavedUntracked[] = []): SavedUntracked[] {
  const next = already.reduce((n, e) => Math.max(n, Number(e.name) + 1), 0);
  const planned = paths.map((path, i) => ({ name: String(next + i), path }));
  mkdirSync(dir, { recursive: true });
  // Replaced whole (rename), not fsynced: it is a convenience next to the saved entries themselves.
  const script = join(dir, RESTORE_SCRIPT);
  writeFileSync(`${script}.tmp`, restoreScript(toplevel, [...already, ...planned]), { mode: 0o755 });
  renameSync(`${script}.tmp`, script);
  return [...already, ...planned.filter((e) => moveEntry(join(toplevel, e.path.replace(/\/$/, '')), join(dir, e.name)))];
}

/**
 * The script that puts the saved entries back: run from anywhere, it moves each one to its path
 * under the top level, creating parent directories, and never overwrites: a path that exists again
 * is reported and its saved copy left in place (exit 1).
 */
function restoreScript(toplevel: string, entries: SavedUntracked[]): string {
  const lines = entries.map((e) => {
    const path = e.path.replace(/\/$/, '');
    return `put ${e.name} ${shellQuote(posix.dirname(path))} ${shellQuote(path)}`;
  });
  return [
    '#!/bin/sh',
    '# Written by vpm rollback: moves the untracked files it took out of the working tree back into it.',
    '# Run it after `git reset --hard refs/vpm/pre-rollback/<same stamp>` (vpm prints both as one undo command).',
    'set -u',
    'saved=$(cd "$(dirname "$0")" && pwd) || exit 1',
    `cd ${shellQuote(toplevel)} || exit 1`,
    'status=0',
    'put() {',
    '  [ -e "$saved/$1" ] || [ -L "$saved/$1" ] || return 0',
    '  if [ -e "$3" ] || [ -L "$3" ]; then',
    '    printf "vpm: not restoring %s: it exists (the saved copy is %s)\\n" "$3" "$saved/$1" >&2; status=1; return 0',
    '  fi',
    '  mkdir -p -- "$2" && mv -- "$saved/$1" "$3" || status=1',
    '}',
    ...lines,
    'exit $status',
    '',
  ].join('\n');
}

function moveEntry(from: string, to: string): boolean {
  try {
    renameSync(from, to);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return false;
    if (code === 'EXDEV') {
      cpSync(from, to, { recursive: true, preserveTimestamps: true, verbatimSymlinks: true, errorOnExist: true, force: false });
      rmSync(from, { recursive: true, force: true });
      return true;
    }
    throw err;
  }
}

/**
 * Splits `git clean -n -d` paths into those with files somewhere in them, which are moved aside, and
 * directories holding nothing but (possibly nested) empty directories: git does not track those, so
 * there is nothing to keep; they are removed after the reset if the reset did not put files in them
 * (a directory emptied by a committed deletion is filled again by the rollback).
 */
export async function splitEmptyDirectories(toplevel: string, paths: string[]): Promise<{ withFiles: string[]; empty: string[] }> {
  const empty = await Promise.all(paths.map((p) => (p.endsWith('/') ? holdsNoFiles(join(toplevel, p)) : false)));
  return { withFiles: paths.filter((_, i) => !empty[i]), empty: paths.filter((_, i) => empty[i]) };
}

/** A directory's entries, or undefined when it cannot be read (gone, or not a directory). */
async function entriesOf(dir: string): Promise<Dirent[] | undefined> {
  return readdir(dir, { withFileTypes: true }).catch(() => undefined);
}

async function holdsNoFiles(dir: string): Promise<boolean> {
  const entries = await entriesOf(dir);
  if (!entries) return false;
  for (const e of entries) {
    if (!e.isDirectory() || !(await holdsNoFiles(join(dir, e.name)))) return false;
  }
  return true;
}

/**
 * Removes the directories (relative to `toplevel`) that still hold no files, bottom-up with rmdir so
 * that a file written meanwhile is never deleted; returns those removed.
 */
export async function removeEmptyDirectories(toplevel: string, paths: string[]): Promise<string[]> {
  const removed = await Promise.all(paths.map(async (p) => ((await removeIfEmpty(join(toplevel, p))) ? p : undefined)));
  return removed.filter((p): p is string => p !== undefined);
}

async function removeIfEmpty(dir: string): Promise<boolean> {
  const entries = await entriesOf(dir);
  if (!entries) return false;
  await Promise.all(entries.filter((e) => e.isDirectory()).map((e) => removeIfEmpty(join(dir, e.name))));
  try {
    await rmdir(dir);
    return true;
  } catch {
    return false;
  }
}

/**
 * Paths a reset to the target would write over that git does not hold at HEAD and that `git clean
 * -n` does not list: ignored files and directories (.gitignore, .git/info/exclude) and untracked
 * nested repositories, where the target adds a path (or needs a directory). `added` are the paths
 * the target has and HEAD has not; `untracked` the plan's untracked list (directories end in `/`).
 * Returned in the same form, so they are moved aside with the untracked files and put back by the
 * undo command's restore.sh — a reset would otherwise overwrite or delete them with no copy.
 */
export function unheldInTheWay(toplevel: string, added: string[], untracked: string[]): string[] {
  const listed = new Set(untracked);
  const covered = (p: string) => listed.has(p) || ancestors(p.replace(/\/$/, '')).some((a) => listed.has(`${a}/`));
  const out = new Set<string>();
  for (const path of added) {
    const parts = path.split('/');
    for (let i = 1; i <= parts.length; i++) {
      const rel = parts.slice(0, i).join('/');
      let st;
      try {
        st = lstatSync(join(toplevel, rel));
      } catch {
        break; // nothing there: nothing below it to lose either
      }
      const last = i === parts.length;
      // A plain directory on the way is fine (git only adds to it); a nested repository is moved whole.
      if (!last && st.isDirectory() && !existsSync(join(toplevel, rel, '.git'))) continue;
      const entry = st.isDirectory() ? `${rel}/` : rel;
      if (!covered(entry)) out.add(entry);
      break;
    }
  }
  return [...out];
}
