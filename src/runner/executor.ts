/**
 * The one place the runner starts programs: execa with an argv (never a shell), a timeout, no
 * stdin, captured output. Injected into the runner so tests can swap it.
 */
export interface ExecRequest {
  argv: string[];
  cwd: string;
  env: NodeJS.ProcessEnv;
  timeoutMs: number;
}

export interface ExecResult {
  /** Null when the program never ran or was killed by a signal. */
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  /** Set when the program could not be started (ENOENT, EACCES, …). */
  spawnError?: string;
  stdout: string;
  stderr: string;
  durationMs: number;
}

export type Executor = (req: ExecRequest) => Promise<ExecResult>;

export const execaExecutor: Executor = async (req) => {
  const { execa } = await import('execa');
  const started = performance.now();
  const result = await execa(req.argv[0], req.argv.slice(1), {
    cwd: req.cwd,
    env: req.env,
    extendEnv: false,
    shell: false,
    stdin: 'ignore',
    timeout: req.timeoutMs,
    forceKillAfterDelay: 2000,
    reject: false,
    maxBuffer: 16 * 1024 * 1024,
    stripFinalNewline: false,
    windowsHide: true,
  });
  const durationMs = Math.round(performance.now() - started);
  const spawnFailed = result.failed && result.exitCode === undefined && !result.timedOut && !result.signal;
  return {
    exitCode: result.exitCode ?? null,
    signal: result.signal ?? null,
    timedOut: Boolean(result.timedOut),
    ...(spawnFailed ? { spawnError: result.shortMessage ?? result.message } : {}),
    stdout: typeof result.stdout === 'string' ? result.stdout : '',
    stderr: typeof result.stderr === 'string' ? result.stderr : '',
    durationMs,
  };
};
