/**
 * Typed errors. Domain code throws these; only src/cli/execute.ts (exitCodeFor) turns them into exit codes.
 * Every message says what failed, why, and what to do next (`hint`).
 */
export const ExitCode = {
  ok: 0,
  failure: 1,
  usage: 2,
  refused: 3,
  sloGate: 4,
  timeout: 5,
} as const;
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

export class VpmError extends Error {
  readonly exitCode: ExitCodeValue;
  readonly hint?: string;
  readonly retryable: boolean;
  /** Extra machine-readable detail rendered under `error.details` with --json. */
  readonly details?: unknown;
  constructor(
    message: string,
    opts: { exitCode?: ExitCodeValue; hint?: string; retryable?: boolean; details?: unknown; cause?: unknown } = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = new.target.name;
    this.exitCode = opts.exitCode ?? ExitCode.failure;
    this.hint = opts.hint;
    this.retryable = opts.retryable ?? false;
    this.details = opts.details;
  }
}

/** Bad flags, arguments, config or input: exit 2. */
export class UsageError extends VpmError {
  constructor(message: string, opts: { hint?: string; details?: unknown; cause?: unknown } = {}) {
    super(message, { ...opts, exitCode: ExitCode.usage });
  }
}

/** Operational failure (includes a runner step denied by policy): exit 1. */
export class OperationalError extends VpmError {
  constructor(message: string, opts: { hint?: string; retryable?: boolean; details?: unknown; cause?: unknown } = {}) {
    super(message, { ...opts, exitCode: ExitCode.failure });
  }
}

/** Refused: deploy freeze active, dirty tree, or another precondition not met: exit 3. */
export class RefusedError extends VpmError {
  constructor(message: string, opts: { hint?: string; details?: unknown; cause?: unknown } = {}) {
    super(message, { ...opts, exitCode: ExitCode.refused });
  }
}

/**
 * The environment vpm runs in lacks something it needs: no Kubernetes configuration, no API key.
 * Exit 1, as kubectl exits 1 when it finds no configuration; not 3, which marks a deliberate
 * refusal (freeze, dirty tree) that a script may wait out, and not 2, as no flag was wrong.
 */
export class EnvironmentError extends VpmError {
  constructor(message: string, opts: { hint?: string; details?: unknown; cause?: unknown } = {}) {
    super(message, { ...opts, exitCode: ExitCode.failure });
  }
}

/**
 * A service vpm needs gave no answer at all (connection refused, DNS, TLS, timeout), so nothing the
 * user asked for was judged: "cannot reach <service> at <url>: <why>". Exit 1, retryable.
 */
export class UnreachableError extends VpmError {
  readonly service: string;
  readonly url: string;
  constructor(service: string, url: string, why: string, opts: { while?: string; hint?: string; details?: unknown; cause?: unknown } = {}) {
    super(`cannot reach ${service} at ${url}${opts.while ? ` while ${opts.while}` : ''}: ${why}`, {
      ...opts,
      exitCode: ExitCode.failure,
      retryable: true,
    });
    this.service = service;
    this.url = url;
  }
}

/** SLO gate failed (canary aborted / guard NG); the rollback has been done: exit 4. */
export class SloGateError extends VpmError {
  constructor(message: string, opts: { hint?: string; details?: unknown; cause?: unknown } = {}) {
    super(message, { ...opts, exitCode: ExitCode.sloGate });
  }
}

/** Timed out waiting: exit 5. */
export class TimeoutError extends VpmError {
  constructor(message: string, opts: { hint?: string; details?: unknown; cause?: unknown } = {}) {
    super(message, { ...opts, exitCode: ExitCode.timeout, retryable: true });
  }
}

/** Every exit code and what it means: `vpm help exit-codes` (text or --json) and the main help. */
export const EXIT_CODES: ReadonlyArray<{ code: number; meaning: string }> = [
  { code: 0, meaning: 'ok' },
  {
    code: 1,
    meaning:
      'operational failure (includes a runner step denied by the execution policy, and environment problems: no Kubernetes configuration, a server that cannot be reached)',
  },
  { code: 2, meaning: 'usage error: bad flags, arguments, input or config' },
  { code: 3, meaning: 'refused: deploy freeze active, dirty tree, or a precondition not met' },
  { code: 4, meaning: 'SLO gate failed: canary aborted or guard NG (rollback done)' },
  { code: 5, meaning: 'timed out waiting' },
];

/** EXIT_CODES as help text, wrapped under its code at 100 columns. */
export const EXIT_CODES_HELP = `Exit codes:\n${EXIT_CODES.map(({ code, meaning }) => {
  const lines: string[] = [];
  let line = '';
  for (const word of meaning.split(' ')) {
    if (line && line.length + word.length + 1 > 95) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  lines.push(line);
  return `  ${code}  ${lines.join('\n     ')}\n`;
}).join('')}`;

/** What each environment failure means and what the user can do about it. */
const SYSTEM_ERRORS: Record<string, { why: string; hint: (path: string) => string }> = {
  ENOSPC: { why: 'the disk is full', hint: (p) => `free space on the file system holding ${p} and run the command again` },
  EDQUOT: {
    why: 'the disk quota is exhausted',
    hint: (p) => `free space within your quota on the file system holding ${p} and run the command again`,
  },
  EACCES: {
    why: 'permission denied',
    hint: (p) => `check the owner and permissions of ${p} (and its directory), e.g. ls -l, then run the command again`,
  },
  EPERM: {
    why: 'the operation is not permitted (immutable or protected file)',
    hint: (p) => `check ${p} for an immutable flag (lsattr) or a protecting policy, then run the command again`,
  },
  EROFS: {
    why: 'the file system is read-only',
    hint: (p) => `remount the file system holding ${p} read-write, or run vpm in a writable checkout`,
  },
  EISDIR: {
    why: 'a directory is where a file should be',
    hint: (p) => `move the directory ${p} aside (vpm needs a file there) and run the command again`,
  },
  ENOTDIR: {
    why: 'a file is where a directory should be',
    hint: (p) => `a component of ${p} is a file; move it aside (vpm needs a directory there) and run the command again`,
  },
  EMFILE: {
    why: 'this process has too many open files',
    hint: () => 'raise the open-file limit (ulimit -n) or close other programs, then run the command again',
  },
  ENFILE: {
    why: 'the system has too many open files',
    hint: () => 'close other programs or raise the system open-file limit, then run the command again',
  },
  ENAMETOOLONG: { why: 'the path is too long', hint: (p) => `use a shorter path than ${p}` },
  ELOOP: { why: 'symbolic links form a loop', hint: (p) => `fix the symbolic links along ${p}` },
};

/**
 * Maps an environment failure (full disk, permissions, read-only file system, a directory where a
 * file belongs, too many open files) to a VpmError that says what, where and what to do — exit 1,
 * or 2 when the path is one the user gave (`isUserPath`). Anything else (not a system error, or
 * an errno that means a bug) returns undefined. Looks through `cause` chains.
 */
export function fromSystemError(err: unknown, opts: { isUserPath?: (path: string) => boolean } = {}): VpmError | undefined {
  for (let e: unknown = err, depth = 0; e && typeof e === 'object' && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const sys = e as NodeJS.ErrnoException & { dest?: string };
    const known = typeof sys.code === 'string' ? SYSTEM_ERRORS[sys.code] : undefined;
    if (!known) continue;
    const path = sys.path ?? sys.dest ?? '';
    const where = path ? ` ${path}` : '';
    const action = sys.syscall ? `${sys.syscall}${where}` : `access${where}`;
    const exitCode = path && opts.isUserPath?.(path) ? ExitCode.usage : ExitCode.failure;
    return new VpmError(`cannot ${action}: ${known.why} (${sys.code})`, {
      exitCode,
      hint: known.hint(path || 'the working directory'),
      details: { code: sys.code, path: path || null, syscall: sys.syscall ?? null },
      cause: err,
    });
  }
  return undefined;
}
