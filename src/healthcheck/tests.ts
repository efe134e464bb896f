/**
 * Runs the project's test command for the healthcheck: parsed by core/test-command.ts and executed
 * through the exec adapter, never through a shell (shell operators are refused, not interpreted).
 */
import { runProgram } from '../adapters/exec.js';
import { parseTestCommand } from '../core/test-command.js';
import { TestOutputCollector } from './output-tail.js';

export interface TestRunResult {
  command: string;
  argv: string[];
  exit_code: number | null;
  ok: boolean;
  duration_ms: number;
  timed_out: boolean;
  /** The failing blocks of the output, then its end (secrets masked; see output-tail.ts). */
  output_tail: string[];
}

export async function runTestCommand(opts: {
  cwd: string;
  env: NodeJS.ProcessEnv;
  command: string;
  timeoutMs: number;
  /** Live output (e.g. to stderr); the failures and the tail are kept for the report either way. */
  onOutput?: (chunk: string) => void;
}): Promise<TestRunResult> {
  const argv = parseTestCommand(opts.command, opts.env);
  const started = performance.now();
  const output = new TestOutputCollector();
  const keep = (chunk: string) => {
    opts.onOutput?.(chunk);
    output.push(chunk);
  };
  const result = await runProgram(argv, { cwd: opts.cwd, env: opts.env, timeoutMs: opts.timeoutMs, killGraceMs: 5_000, onOutput: keep });
  return {
    command: opts.command,
    argv,
    exit_code: result.exitCode,
    ok: result.exitCode === 0 && !result.timedOut,
    duration_ms: Math.round(performance.now() - started),
    timed_out: result.timedOut,
    output_tail: output.finish(opts.env, result.notFound ? [`${argv[0]}: command not found`] : []),
  };
}
