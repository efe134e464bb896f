/**
 * The one place the runner starts programs: an argv (never a shell), no stdin, captured output, in
 * a process group and session of its own that the timeout kills whole: SIGTERM to the group, SIGKILL
 * after the grace period, and the step is over within grace + 1 s even when a child it left behind
 * still holds stdout (issue 15, class 6). Injected into the runner so tests can swap it.
 *
 * node:child_process rather than execa here: execa's timeout signals only the direct child and
 * waits for every holder of stdout, which is exactly the unbounded step this module must prevent.
 */
import { spawn } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';

export interface ExecRequest {
  argv: string[];
  cwd: string;
  env: NodeJS.ProcessEnv;
  timeoutMs: number;
  /** SIGTERM → SIGKILL delay (default 2000 ms). */
  killGraceMs?: number;
  /**
   * `NAME=value` set in `env` for this step only: after the step, any process still carrying it
   * (escaped the group with setsid, unsandboxed) is killed.
   */
  reapMarker?: string;
}

export interface ExecResult {
  /** Null when the program never ran, was killed by a signal or timed out. */
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

const MAX_OUTPUT = 16 * 1024 * 1024;
/** After the main process ended, how long output may still drain before the pipes are closed. */
const DRAIN_MS = 300;

function killGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (!pid) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // group already gone
  }
}

/** Kills every process whose environment carries `marker` (Linux /proc; best effort elsewhere). */
function reapByMarker(marker: string): number {
  let killed = 0;
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return 0;
  }
  const needle = Buffer.from(`\u0000${marker}\u0000`);
  for (const e of entries) {
    if (!/^\d+$/.test(e) || Number(e) === process.pid) continue;
    try {
      const env = Buffer.concat([Buffer.from([0]), readFileSync(`/proc/${e}/environ`), Buffer.from([0])]);
      if (env.includes(needle)) {
        process.kill(Number(e), 'SIGKILL');
        killed++;
      }
    } catch {
      // gone, or not ours to read
    }
  }
  return killed;
}

const groupExecutor: Executor = (req) =>
  new Promise<ExecResult>((resolvePromise) => {
    const started = performance.now();
    const grace = req.killGraceMs ?? 2000;
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let outLen = 0;
    let errLen = 0;
    let timedOut = false;
    let sentSignal: NodeJS.Signals | null = null;
    let settled = false;
    let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    let spawnError: string | undefined;
    const timers: NodeJS.Timeout[] = [];

    const child = spawn(req.argv[0], req.argv.slice(1), {
      cwd: req.cwd,
      env: req.env,
      shell: false,
      detached: true, // own process group and session: the timeout signals all of it
      stdio: ['ignore', 'pipe', 'pipe'],
      windowsHide: true,
    });
    const pid = child.pid;

    const finish = () => {
      if (settled) return;
      settled = true;
      for (const t of timers) clearTimeout(t);
      // Nothing of the step outlives it: the rest of its group, then anything carrying its marker.
      killGroup(pid, 'SIGKILL');
      if (req.reapMarker) reapByMarker(req.reapMarker);
      child.stdout?.destroy();
      child.stderr?.destroy();
      resolvePromise({
        exitCode: timedOut || spawnError ? null : (exit?.code ?? null),
        signal: timedOut ? (sentSignal ?? 'SIGTERM') : (exit?.signal ?? null),
        timedOut,
        ...(spawnError ? { spawnError } : {}),
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        durationMs: Math.round(performance.now() - started),
      });
    };

    child.stdout?.on('data', (b: Buffer) => {
      if (outLen < MAX_OUTPUT) out.push(b);
      outLen += b.length;
    });
    child.stderr?.on('data', (b: Buffer) => {
      if (errLen < MAX_OUTPUT) err.push(b);
      errLen += b.length;
    });
    child.on('error', (e: NodeJS.ErrnoException) => {
      spawnError = `${e.code ?? 'error'}: ${e.message}`;
      finish();
    });
    child.on('exit', (code, signal) => {
      exit = { code, signal };
      // Output still in the pipes drains; a child that keeps them open does not hold the step.
      timers.push(setTimeout(finish, DRAIN_MS));
    });
    child.on('close', finish);

    timers.push(
      setTimeout(() => {
        if (exit) return;
        timedOut = true;
        sentSignal = 'SIGTERM';
        killGroup(pid, 'SIGTERM');
        timers.push(
          setTimeout(() => {
            sentSignal = 'SIGKILL';
            killGroup(pid, 'SIGKILL');
            // The main process should be gone now; never wait past grace + 1 s.
            timers.push(setTimeout(finish, 500));
          }, grace),
        );
      }, req.timeoutMs),
    );
  });

/** Kept for callers that import the old name; it is the process-group executor. */
export const execaExecutor = groupExecutor;
