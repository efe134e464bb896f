/**
 * File-system adapter: atomic writes (temp file + fsync + rename, via write-file-atomic) and
 * cross-process locks (proper-lockfile). Every state file vpm writes goes through here, so a killed
 * process never leaves a torn file and concurrent writers never lose data.
 */
import {
  mkdirSync,
  openSync,
  writeSync,
  readSync,
  closeSync,
  fstatSync,
  ftruncateSync,
  readdirSync,
  readFileSync,
  existsSync,
  writeFileSync,
  renameSync,
  rmSync,
  statSync,
  realpathSync,
  rmdirSync,
  utimesSync,
  lstatSync,
  readlinkSync,
} from 'node:fs';
import { basename, dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { OperationalError, RefusedError, TimeoutError } from './errors.js';

/**
 * The repository vpm works in (set once per process from the command's cwd). Writes and state-file
 * reads under it never follow a symbolic link: a link planted at `memory.json`, `STATE/`, `logs/`,
 * `.ops/` or a run folder would otherwise redirect vpm's writes to any file the user can write.
 */
let repoRoot: { lexical: string; real: string } | undefined;

export function setRepositoryRoot(root: string | undefined): void {
  if (root === undefined) {
    repoRoot = undefined;
    return;
  }
  const lexical = resolve(root);
  let real = lexical;
  try {
    real = realpathSync(lexical);
  } catch {
    /* not there yet: nothing under it can be a link either */
  }
  repoRoot = { lexical, real };
}

/** A write or state read that would leave the repository through a symbolic link: exit 3. */
export class UnsafePathError extends RefusedError {}

function outside(root: string, p: string): boolean {
  const rel = relative(root, p);
  return rel.startsWith('..') || isAbsolute(rel);
}

/**
 * Refuses (exit 3) when `path`, inside the repository, is itself a symbolic link or lies in a
 * directory whose real path leaves the repository. Paths outside the repository (an output file
 * the user named) are the user's business and pass.
 */
export function assertSafePath(path: string, action: 'write' | 'read' = 'write'): void {
  if (!repoRoot) return;
  const abs = resolve(path);
  if (outside(repoRoot.lexical, abs) || abs === repoRoot.lexical) return;
  const shown = relative(repoRoot.lexical, abs);
  const hint = `replace the symbolic link with a regular ${action === 'read' ? 'file' : 'file or directory'} inside the repository (or remove it) and run the command again`;
  let st: ReturnType<typeof lstatSync> | undefined;
  try {
    // Undefined when it does not exist yet (throwIfNoEntry: no error is built for that usual case).
    st = lstatSync(abs, { throwIfNoEntry: false });
  } catch {
    /* unreadable: the real-path check below decides */
  }
  if (st?.isSymbolicLink()) {
    let target = '';
    try {
      target = ` (→ ${readlinkSync(abs)})`;
    } catch {
      /* unreadable link: the name is enough */
    }
    throw new UnsafePathError(
      `refusing to ${action} ${shown}: it is a symbolic link${target}; vpm does not ${action} state through links`,
      { hint, details: { path: shown } },
    );
  }
  // The deepest directory that exists decides where the file really lands.
  let dir = dirname(abs);
  let real: string | undefined;
  while (real === undefined) {
    try {
      real = realpathSync(dir);
    } catch {
      const up = dirname(dir);
      if (up === dir) return;
      dir = up;
    }
  }
  if (outside(repoRoot.real, real)) {
    throw new UnsafePathError(
      `refusing to ${action} ${shown}: ${relative(repoRoot.lexical, dir) || '.'} resolves to ${real}, outside the repository (a symbolic link leads out)`,
      { hint, details: { path: shown, resolves_to: real } },
    );
  }
}

/** assertSafePath as a question: for writers that skip rather than fail (the request log). */
export function isSafePath(path: string): boolean {
  try {
    assertSafePath(path);
    return true;
  } catch (err) {
    if (err instanceof UnsafePathError) return false;
    throw err;
  }
}

/**
 * mkdir -p that reports the real reason: node's recursive mkdir turns EROFS/EACCES on a missing
 * parent into ENOENT, which reads as a bug. On ENOENT the first missing directory is made alone,
 * which fails with the file system's own error.
 */
export function ensureDir(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    let missing = resolve(dir);
    while (!existsSync(dirname(missing)) && dirname(missing) !== missing) missing = dirname(missing);
    mkdirSync(missing);
    throw err;
  }
}

/** Reads a state file (memory.json, STATE, phase state) that must not be read through a link. */
export function readStateTextIfExists(path: string): string | undefined {
  assertSafePath(path, 'read');
  return readTextIfExists(path);
}

export async function writeFileAtomic(path: string, data: string | Buffer): Promise<void> {
  assertSafePath(path);
  ensureDir(dirname(path));
  const { default: writeAtomic } = await import('write-file-atomic');
  await writeAtomic(path, data, { fsync: true });
  sweepStaleTemps(path);
}

/** No live write of a state file takes this long: older temp files belong to killed writers. */
const STALE_TEMP_MS = 60_000;

/**
 * write-file-atomic writes `<file>.<number>` and renames it; a writer killed in between leaves that
 * temp file behind (it cleans up on exit, but SIGKILL gives it no chance). Left alone they pile up
 * beside STATE and memory.json and show in `git status` (a dirty tree makes rollback refuse).
 */
function sweepStaleTemps(path: string): void {
  const dir = dirname(path);
  const prefix = `${basename(path)}.`;
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) {
    if (!name.startsWith(prefix) || !/^\d+$/.test(name.slice(prefix.length))) continue;
    try {
      const p = join(dir, name);
      if (Date.now() - statSync(p).mtimeMs > STALE_TEMP_MS) rmSync(p, { force: true });
    } catch {
      /* gone already */
    }
  }
}

export async function writeJsonAtomic(path: string, value: unknown): Promise<void> {
  await writeFileAtomic(path, `${JSON.stringify(value, null, 2)}\n`);
}

export function readTextIfExists(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    // EISDIR and friends come without the path: add it, so the message can say which file.
    (err as NodeJS.ErrnoException).path ??= path;
    throw err;
  }
}

export interface LockOptions {
  /** How long to wait for another holder before giving up (ms). */
  waitMs?: number;
  /** What is being locked, for the error message. */
  what?: string;
}

// Kept beside the lock directory, not in it: proper-lockfile removes the directory with rmdir.
const OWNER_SUFFIX = '.owner';
const LOCK_FS = { mkdirSync, realpathSync, statSync, rmdirSync, utimesSync };
/** A holder goes from taking the lock to naming itself in microseconds; longer means it died in between. */
const OWNERLESS_GRACE_MS = 5_000;

/** A lock as the wait loop sees it: one attempt to take it, and where its holder is named. */
interface LockKind {
  /** `<path>.lock`: a directory (proper-lockfile) or a file (appendLines). */
  lockPath: string;
  /** The file holding the holder's `{pid, host}`. */
  ownerPath: string;
  /** Takes the lock and names the holder: true; false when another holder has it. */
  tryTake(): boolean;
  /**
   * Age after which a lock whose holder cannot be checked (it runs on another host) is stale, for
   * locks that do not age out by themselves (proper-lockfile's do, through its heartbeat).
   */
  staleAfterMs?: number;
}

let host: string | undefined;
/**
 * This machine's name (os.hostname()), which lock owners carry. Read from /proc where there is one:
 * loading node:os for it costs `vpm chat append` about 0.2 ms of start-up, on every agent turn.
 */
function hostname(): string {
  if (host === undefined) {
    try {
      host = readFileSync('/proc/sys/kernel/hostname', 'utf8').trim();
    } catch {
      // not Linux
    }
    host ||= (process.getBuiltinModule('node:os') as typeof import('node:os')).hostname();
  }
  return host;
}

const ownerToken = () => JSON.stringify({ pid: process.pid, host: hostname() });

/** What identifies the current holder: its owner file, or the lock's mtime if it has none. */
function lockToken(lock: LockKind): string | undefined {
  try {
    return readFileSync(lock.ownerPath, 'utf8');
  } catch {
    try {
      return `ownerless:${statSync(lock.lockPath).mtimeMs}`;
    } catch {
      return undefined;
    }
  }
}

/**
 * The holder's token when the lock is stale at once — its owner process is gone from this host, or
 * it died between taking the lock and naming itself — else undefined. This is what lets a run
 * started right after a SIGKILLed one proceed without waiting for an mtime timeout.
 */
function staleLockToken(lock: LockKind): string | undefined {
  const token = lockToken(lock);
  if (token === undefined) return undefined;
  if (token.startsWith('ownerless:')) {
    return Date.now() - Number(token.slice('ownerless:'.length)) > OWNERLESS_GRACE_MS ? token : undefined;
  }
  try {
    const owner = JSON.parse(token) as { pid: number; host: string };
    if (owner.host !== hostname()) return lock.staleAfterMs !== undefined && lockAgeMs(lock) > lock.staleAfterMs ? token : undefined;
    process.kill(owner.pid, 0);
    return undefined;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return token;
    // An owner file that does not parse may be one being written this instant: like an ownerless
    // lock, it is stale only once the lock is older than the grace period.
    if (err instanceof SyntaxError) return lockAgeMs(lock) > OWNERLESS_GRACE_MS ? token : undefined;
    return undefined;
  }
}

function lockAgeMs(lock: LockKind): number {
  try {
    return Date.now() - statSync(lock.lockPath).mtimeMs;
  } catch {
    return 0;
  }
}

/**
 * Takes `lock`, waiting for another holder up to `opts.waitMs` and reclaiming a stale one. The first
 * attempt runs synchronously, so an uncontended lock costs no event-loop turn. A short, jittered
 * poll keeps waiting writers fair (proper-lockfile's own retry backs off exponentially and starves
 * under heavy contention).
 */
async function takeLock(lock: LockKind, path: string, opts: LockOptions): Promise<void> {
  const waitMs = opts.waitMs ?? 30_000;
  const started = Date.now();
  for (;;) {
    let taken: boolean;
    try {
      taken = lock.tryTake();
    } catch (err) {
      throw new OperationalError(`cannot lock ${opts.what ?? path}: ${(err as Error).message}`, { cause: err });
    }
    if (taken) return;
    const stale = staleLockToken(lock);
    // Re-read just before removing: only that same stale holder's lock is ever removed.
    if (stale !== undefined && lockToken(lock) === stale) {
      if (lock.ownerPath !== lock.lockPath) rmSync(lock.ownerPath, { force: true });
      rmSync(lock.lockPath, { recursive: true, force: true });
      continue;
    }
    if (Date.now() - started > waitMs) {
      throw new TimeoutError(`${opts.what ?? path} is locked by another vpm process (waited ${waitMs} ms)`, {
        hint: `wait for the other vpm command to finish; if none is running, remove ${lock.lockPath}`,
      });
    }
    await new Promise((r) => setTimeout(r, 2 + Math.random() * 8));
  }
}

/**
 * Runs `fn` while holding an exclusive lock on `path` (a `<path>.lock` directory made by
 * proper-lockfile). A holder that dies leaves a stale lock, reclaimed when its owner pid is gone or
 * after `stale` ms without a heartbeat.
 */
export async function withLock<T>(path: string, fn: () => Promise<T> | T, opts: LockOptions = {}): Promise<T> {
  assertSafePath(path);
  assertSafePath(`${path}.lock`);
  ensureDir(dirname(path));
  const lockfile = await import('proper-lockfile');
  const lockDir = `${path}.lock`;
  const ownerPath = `${lockDir}${OWNER_SUFFIX}`;
  let release: (() => void) | undefined;
  await takeLock(
    {
      lockPath: lockDir,
      ownerPath,
      tryTake() {
        try {
          // Synchronous from mkdir to the owner file (no event-loop turn in between): a holder killed
          // in that gap leaves an ownerless lock that waiters respect for the grace period, so the gap
          // must be a few syscalls, not several async round trips (a runner SIGKILLed there made the
          // next `vpm run` skip the job as "locked by another runner").
          release = lockfile.lockSync(path, {
            realpath: false,
            // Generous: a holder busy on a long synchronous step must not be taken for dead; dead
            // holders on this host are detected at once through the owner pid instead.
            stale: 60_000,
            update: 10_000,
            lockfilePath: lockDir,
            onCompromised: () => undefined,
            // Only the calls the lock makes: proper-lockfile's sync mode copies the whole `fs` it is
            // given, and copying node's touches its lazy stream getters (~5 ms of start-up).
            fs: LOCK_FS,
          });
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ELOCKED') return false;
          throw err;
        }
        // Written aside and renamed: a waiter never reads a half-written (empty) owner file.
        const ownerTmp = `${ownerPath}.${process.pid}.tmp`;
        writeFileSync(ownerTmp, ownerToken());
        renameSync(ownerTmp, ownerPath);
        return true;
      },
    },
    path,
    opts,
  );
  try {
    return await fn();
  } finally {
    rmSync(ownerPath, { force: true });
    try {
      release?.();
    } catch {
      /* already released or compromised: nothing left to undo */
    }
  }
}

/**
 * Appends whole lines to a line file (JSONL) under the file's lock — concurrent appenders never
 * lose or interleave lines — after repairing a torn last line a killed writer left (see
 * appendDurable). Every writer of such a file appends through here.
 *
 * The lock is a lock *file*, `<path>.lock`, created with O_CREAT|O_EXCL (exactly one process can
 * create it while it exists) and holding its owner's `{pid, host}`; the holder unlinks it. Not
 * proper-lockfile's directory, on purpose: the critical section is one synchronous append of
 * microseconds, during which proper-lockfile's heartbeat timer and exit hooks can never run, so
 * all the library would add is its load and an rmdir (which frees a directory block: ~1 ms on ext4
 * with online discard) — on `vpm chat append`, which runs on every agent turn. Staleness follows
 * withLock's rules: a holder gone from this host is reclaimed at once, one named by no owner after
 * the grace period, one on another host after a minute (no append holds it for that long).
 */
export async function appendLines(path: string, lines: string, opts: LockOptions = {}): Promise<void> {
  const lockPath = `${path}.lock`;
  assertSafePath(path);
  assertSafePath(lockPath);
  ensureDir(dirname(path));
  await takeLock({ lockPath, ownerPath: lockPath, tryTake: () => takeLockFile(lockPath), staleAfterMs: 60_000 }, path, opts);
  try {
    appendToFile(path, lines, true);
  } finally {
    rmSync(lockPath, { force: true });
  }
}

/** Creates the lock file (false when it exists) and names this process in it. */
function takeLockFile(lockPath: string): boolean {
  let fd: number;
  try {
    fd = openSync(lockPath, 'wx');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
  try {
    writeSync(fd, ownerToken());
  } catch (err) {
    rmSync(lockPath, { force: true });
    throw err;
  } finally {
    closeSync(fd);
  }
  return true;
}

/**
 * Appends bytes with a single write(2) on an O_APPEND descriptor. No fsync: an fsync per chat turn
 * would dominate the hot path's cost for protection against power loss only.
 */
export function appendDurable(path: string, data: string): void {
  assertSafePath(path);
  ensureDir(dirname(path));
  appendToFile(path, data, false);
}

/**
 * One write(2) of `data` at the end of `path`. A write can still be cut short: SIGKILL stops a
 * large write(2) part-way (the kernel checks for a fatal signal between pages), leaving a torn last
 * line, and the next append would be glued onto it. With `repairTornTail` (line files whose every
 * writer holds the lock, so no live writer can be mid-write) a last line without its newline that
 * does not parse as JSON is cut off first: that write was never acknowledged to anyone, and readers
 * never consume a line before its newline. A last line that parses whole is data (written by hand
 * or another tool): it is kept and given its newline.
 */
function appendToFile(path: string, data: string, repairTornTail: boolean): void {
  const fd = openSync(path, repairTornTail ? 'a+' : 'a');
  try {
    if (repairTornTail) dropTornTail(fd);
    const buf = Buffer.from(data, 'utf8');
    let off = 0;
    while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
  } finally {
    closeSync(fd);
  }
}

function dropTornTail(fd: number): void {
  const size = fstatSync(fd).size;
  if (size === 0) return;
  const chunk = Buffer.allocUnsafe(64 * 1024);
  if (readSync(fd, chunk, 0, 1, size - 1) === 1 && chunk[0] === 0x0a) return;
  let end = size;
  let keep = 0;
  while (end > 0) {
    const start = Math.max(0, end - chunk.length);
    const n = readSync(fd, chunk, 0, end - start, start);
    const nl = chunk.subarray(0, n).lastIndexOf(0x0a);
    if (nl !== -1) {
      keep = start + nl + 1;
      break;
    }
    end = start;
  }
  // A last line that is whole JSON lacks only its newline (written by hand or by another tool):
  // it is data, so it is terminated rather than cut. Only a fragment that does not parse is torn.
  const tail = Buffer.allocUnsafe(size - keep);
  readSync(fd, tail, 0, tail.length, keep);
  if (isWholeJson(tail)) {
    writeSync(fd, '\n');
    return;
  }
  ftruncateSync(fd, keep);
}

function isWholeJson(bytes: Buffer): boolean {
  try {
    JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
    return true;
  } catch {
    return false;
  }
}

export { existsSync };
