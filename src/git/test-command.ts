/**
 * Runs the test command after a rollback (parsed by core/test-command.ts), its output streamed to
 * vpm's stderr (stdout is for data).
 */
import type { Writable } from 'node:stream';
import { runProgram } from '../adapters/exec.js';

export interface TestRun {
  status: 'passed' | 'failed' | 'error';
  exit_code: number | null;
  signal: string | null;
  duration_ms: number;
  /** Why the command could not run at all (not found, …). */
  error?: string;
}

/** Runs argv in `cwd`, its stdout and stderr both streamed to `output` (vpm's stderr: stdout is for data). */
export async function runTestCommand(argv: string[], opts: { cwd: string; env: NodeJS.ProcessEnv; output: Writable }): Promise<TestRun> {
  const started = performance.now();
  const r = await runProgram(argv, { cwd: opts.cwd, env: opts.env, onOutput: (chunk) => opts.output.write(chunk) });
  const duration_ms = Math.round(performance.now() - started);
  return {
    status: r.exitCode === 0 ? 'passed' : r.startError !== undefined ? 'error' : 'failed',
    exit_code: r.exitCode,
    signal: r.signal,
    duration_ms,
    ...(r.startError !== undefined ? { error: r.startError } : {}),
  };
}
