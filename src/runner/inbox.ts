/**
 * The inbox: `codex/inbox/*.json`, oldest first (created_at, then file name). After an exec run a
 * processed job goes to `_done/` and a file that is not a valid job to `_failed/` with
 * `<name>.error.json` beside it; nothing is dropped silently. A dry run only reads the inbox.
 */
import { readdirSync, readFileSync, realpathSync, renameSync, existsSync, statSync, mkdirSync } from 'node:fs';
import { basename, dirname, join, relative, resolve, isAbsolute, sep } from 'node:path';
import { JobSchema, type Job } from '../schemas/job.js';
import { writeJsonAtomic } from '../core/fs.js';
import { maskSecrets } from '../core/secrets.js';
import { DONE_DIR, FAILED_DIR, INBOX_DIR } from './paths.js';

const MAX_JOB_BYTES = 1024 * 1024;

interface JobIssue {
  path: string;
  message: string;
}

export type JobFileResult =
  | { ok: true; file: string; job: Job }
  | { ok: false; file: string; reason: string; issues: JobIssue[]; createdAt?: string };

/** Job files in the inbox (names only), excluding error files, locks and sub-folders. */
export function listInbox(cwd: string): string[] {
  const dir = join(cwd, INBOX_DIR);
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  return names
    .filter((n) => n.endsWith('.json') && !n.endsWith('.error.json') && !n.startsWith('.'))
    .filter((n) => {
      try {
        return statSync(join(dir, n)).isFile();
      } catch {
        return false;
      }
    });
}

/**
 * A repo-relative path must stay inside the repository after symlinks are resolved (checked on the
 * longest existing prefix, so a not-yet-existing file under a symlinked folder is caught too).
 */
export function escapesRepo(cwd: string, path: string): boolean {
  if (isAbsolute(path)) return true;
  const root = realpathSync(cwd);
  let probe = resolve(root, path);
  if (relative(root, probe).split(sep)[0] === '..') return true;
  while (!existsSync(probe) && probe !== root) probe = dirname(probe);
  let real: string;
  try {
    real = realpathSync(probe);
  } catch {
    return true;
  }
  const rel = relative(root, real);
  return rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel);
}

/** Reads and validates one inbox file (schema + paths that must stay inside the repo). */
export function readJobFile(cwd: string, file: string): JobFileResult {
  const path = join(cwd, INBOX_DIR, file);
  let text: string;
  try {
    const size = statSync(path).size;
    if (size > MAX_JOB_BYTES) return { ok: false, file, reason: `job file is ${size} bytes; the limit is ${MAX_JOB_BYTES}`, issues: [] };
    // Editors that save "UTF-8 with BOM" put U+FEFF first; JSON parsers may ignore it (RFC 8259 §8.1).
    text = readFileSync(path, 'utf8').replace(/^\uFEFF/, '');
  } catch (err) {
    return { ok: false, file, reason: `cannot read job file: ${(err as Error).message}`, issues: [] };
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    return { ok: false, file, reason: `invalid JSON: ${(err as Error).message}`, issues: [] };
  }
  const createdAt =
    raw && typeof raw === 'object' && typeof (raw as { created_at?: unknown }).created_at === 'string'
      ? (raw as { created_at: string }).created_at
      : undefined;
  const parsed = JobSchema.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => ({ path: i.path.map(String).join('.') || '(root)', message: i.message }));
    return {
      ok: false,
      file,
      reason: `does not match the job schema: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`,
      issues,
      createdAt,
    };
  }
  const job = parsed.data;
  const pathIssues: JobIssue[] = [];
  if (job.job_input && escapesRepo(cwd, job.job_input.path))
    pathIssues.push({ path: 'job_input.path', message: 'resolves outside the repository (symlink)' });
  if (job.apply && escapesRepo(cwd, job.apply.overlay))
    pathIssues.push({ path: 'apply.overlay', message: 'resolves outside the repository (symlink)' });
  if (pathIssues.length > 0) {
    return {
      ok: false,
      file,
      reason: `path traversal: ${pathIssues.map((i) => `${i.path}: ${i.message}`).join('; ')}`,
      issues: pathIssues,
      createdAt,
    };
  }
  return { ok: true, file, job };
}

/** Valid jobs oldest first (created_at, then file name). */
export function sortJobs<T extends { file: string; job: Job }>(jobs: T[]): T[] {
  return [...jobs].sort((a, b) => {
    const ta = Date.parse(a.job.created_at);
    const tb = Date.parse(b.job.created_at);
    return ta !== tb ? ta - tb : a.file < b.file ? -1 : a.file > b.file ? 1 : 0;
  });
}

/** A free name in `dir` for `file` (never overwrites an earlier job or error file). */
function freeName(dir: string, file: string): string {
  const stem = file.replace(/\.json$/, '');
  for (let i = 0; ; i++) {
    const candidate = i === 0 ? stem : `${stem}.${i}`;
    if (!existsSync(join(dir, `${candidate}.json`)) && !existsSync(join(dir, `${candidate}.error.json`))) return candidate;
  }
}

export interface FailedJob {
  file: string;
  /** Where the file went; null when a dry run reported it and left it in the inbox. */
  moved_to: string | null;
  error_file: string | null;
  reason: string;
  issues: JobIssue[];
}

/** A bad job as a dry run reports it: the same reason, nothing moved and no error file written. */
export function describeFailed(result: Extract<JobFileResult, { ok: false }>, env: NodeJS.ProcessEnv): FailedJob {
  return {
    file: result.file,
    moved_to: null,
    error_file: null,
    reason: maskSecrets(result.reason, env),
    issues: result.issues.map((i) => ({ path: i.path, message: maskSecrets(i.message, env) })),
  };
}

/** Moves a bad job to `_failed/` and writes `<name>.error.json` beside it (exec runs only). */
export async function moveToFailed(
  cwd: string,
  result: Extract<JobFileResult, { ok: false }>,
  now: Date,
  env: NodeJS.ProcessEnv,
): Promise<FailedJob | undefined> {
  const dir = join(cwd, FAILED_DIR);
  mkdirSync(dir, { recursive: true });
  const stem = freeName(dir, result.file);
  const from = join(cwd, INBOX_DIR, result.file);
  const movedTo = join(FAILED_DIR, `${stem}.json`);
  const errorFile = join(FAILED_DIR, `${stem}.error.json`);
  const { reason, issues } = describeFailed(result, env);
  // Error file first: if we die between the two steps the job is still in the inbox and retried.
  await writeJsonAtomic(join(cwd, errorFile), {
    file: result.file,
    moved_to: movedTo,
    failed_at: now.toISOString(),
    reason,
    issues,
    hint: 'fix the job file and move it back to codex/inbox/ (or write a new one with vpm ask)',
  });
  try {
    renameSync(from, join(cwd, movedTo));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined; // another runner moved it
    throw err;
  }
  return { file: result.file, moved_to: movedTo, error_file: errorFile, reason, issues };
}

/** Moves a job an exec run processed to `_done/`; returns its new repo-relative path. */
export function moveToDone(cwd: string, file: string): string | undefined {
  const dir = join(cwd, DONE_DIR);
  mkdirSync(dir, { recursive: true });
  const target = join(DONE_DIR, `${freeName(dir, file)}.json`);
  try {
    renameSync(join(cwd, INBOX_DIR, file), join(cwd, target));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  return target;
}

export function inboxFileExists(cwd: string, file: string): boolean {
  return existsSync(join(cwd, INBOX_DIR, basename(file)));
}
