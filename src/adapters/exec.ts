/**
 * The one place vpm starts programs other than git (src/adapters/git.ts): execa with an argv, never
 * a shell, no stdin, and an environment without the variables that would point a child's git at
 * another repository (GIT_DIR and friends are set when vpm runs from a git hook). The runner's
 * sandboxed executor (runner/executor.ts) is reached through here too (ctx.exec()).
 */
import { gitEnvironment } from './git.js';

export { execaExecutor, type ExecRequest, type ExecResult, type Executor } from '../runner/executor.js';

export interface ProgramRun {
  /** Null when the program never ran or was killed by a signal. */
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  /** Why it could not be started at all (not found, not executable, …). */
  startError?: string;
  notFound: boolean;
}

export interface RunProgramOptions {
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** Killed (SIGTERM, then SIGKILL after killGraceMs) when it runs longer. */
  timeoutMs?: number;
  killGraceMs?: number;
  /** stdout and stderr, interleaved as they arrive. */
  onOutput?: (chunk: string) => void;
}

/** The child's environment: the caller's, less git's repository-redirecting variables (kept: identity, SSH). */
export function childEnvironment(env: NodeJS.ProcessEnv): Record<string, string> {
  // gitEnvironment also drops EDITOR/PAGER-like variables git would run; a test command keeps them.
  const out = gitEnvironment(env);
  for (const key of ['EDITOR', 'VISUAL', 'PAGER']) if (env[key] !== undefined) out[key] = env[key] as string;
  return out;
}

/** Runs a program to completion, streaming its output; `node_modules/.bin` of cwd is on PATH (like npm scripts). */
export async function runProgram(argv: string[], opts: RunProgramOptions): Promise<ProgramRun> {
  const { execa } = await import('execa');
  const child = execa(argv[0], argv.slice(1), {
    cwd: opts.cwd,
    env: childEnvironment(opts.env),
    extendEnv: false,
    preferLocal: true,
    shell: false,
    stdin: 'ignore',
    all: true,
    buffer: false,
    reject: false,
    ...(opts.timeoutMs !== undefined ? { timeout: opts.timeoutMs, forceKillAfterDelay: opts.killGraceMs ?? 2_000 } : {}),
  });
  child.all?.setEncoding('utf8');
  child.all?.on('data', (c: string) => opts.onOutput?.(c));
  const r = await child;
  const code = (r as { code?: string }).code;
  const notStarted = r.exitCode === undefined && !r.signal && !r.timedOut;
  return {
    exitCode: typeof r.exitCode === 'number' ? r.exitCode : null,
    signal: r.signal ?? null,
    timedOut: Boolean(r.timedOut),
    notFound: code === 'ENOENT',
    ...(notStarted ? { startError: (r as { shortMessage?: string }).shortMessage ?? 'the command could not be started' } : {}),
  };
}

/** Runs a program and returns its stdout and stderr apart (for tools whose stdout is data, e.g. `kustomize build`). */
export async function captureProgram(
  argv: string[],
  opts: { cwd: string; env: NodeJS.ProcessEnv; timeoutMs?: number },
): Promise<{ exitCode: number | null; stdout: string; stderr: string; notFound: boolean }> {
  const { execa } = await import('execa');
  const r = await execa(argv[0], argv.slice(1), {
    cwd: opts.cwd,
    env: childEnvironment(opts.env),
    extendEnv: false,
    shell: false,
    stdin: 'ignore',
    reject: false,
    timeout: opts.timeoutMs ?? 60_000,
  });
  const code = (r as { code?: string }).code;
  return {
    exitCode: typeof r.exitCode === 'number' ? r.exitCode : null,
    stdout: String(r.stdout ?? ''),
    stderr: String(r.stderr ?? ''),
    notFound: code === 'ENOENT',
  };
}
