/**
 * Runs the project's test command: parsed into argv with shell-quote and executed with execa,
 * never through a shell (shell operators are refused, not interpreted).
 */
import { parse } from 'shell-quote';
import { UsageError } from '../core/errors.js';
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

/**
 * Splits the command into argv like a shell would, without one: quotes and `$VAR` (from `env`) are
 * understood; operators, redirections and command substitution are refused rather than run.
 */
export function parseTestCommand(command: string, env: NodeJS.ProcessEnv = {}): string[] {
  if (/`|\$\(/.test(command)) {
    throw new UsageError(`test command '${command}' uses command substitution; vpm runs it without a shell`, {
      hint: "put the steps in a script (e.g. an npm script) and use that as test.command, or pass --test-cmd 'npm test'",
    });
  }
  const words = parse(command, (name) => env[name] ?? '');
  const bad = words.find((w) => typeof w !== 'string');
  if (bad !== undefined) {
    const op = (bad as { op?: string; comment?: string }).op ?? '#';
    throw new UsageError(`test command '${command}' uses shell syntax (${op}); vpm runs it without a shell`, {
      hint: "put the steps in a script (e.g. an npm script) and use that as test.command, or pass --test-cmd 'npm test'",
    });
  }
  if (words.length === 0) throw new UsageError('the test command is empty', { hint: 'set test.command in vpm.config.yaml, or pass --no-test' });
  return words as string[];
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
  const { execa } = await import('execa');
  const started = performance.now();
  const output = new TestOutputCollector();
  const keep = (chunk: string) => {
    opts.onOutput?.(chunk);
    output.push(chunk);
  };
  const child = execa(argv[0], argv.slice(1), {
    cwd: opts.cwd,
    env: opts.env,
    extendEnv: false,
    reject: false,
    stdin: 'ignore',
    all: true,
    buffer: false,
    timeout: opts.timeoutMs,
    forceKillAfterDelay: 5_000,
  });
  child.all?.setEncoding('utf8');
  child.all?.on('data', (c: string) => keep(c));
  const result = await child;
  const notFound = (result as { code?: string }).code === 'ENOENT';
  return {
    command: opts.command,
    argv,
    exit_code: typeof result.exitCode === 'number' ? result.exitCode : null,
    ok: result.exitCode === 0 && !result.timedOut,
    duration_ms: Math.round(performance.now() - started),
    timed_out: Boolean(result.timedOut),
    output_tail: output.finish(opts.env, notFound ? [`${argv[0]}: command not found`] : []),
  };
}
