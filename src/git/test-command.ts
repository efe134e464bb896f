/**
 * The test command run after a rollback (config `test.command`, `--test-cmd`). It is split into
 * argv with shell-quote and run with execa *without* a shell: `$VARS` are expanded from the
 * environment like a shell would, but operators (`&&`, `|`, `;`, redirections, globs) are refused
 * rather than silently passed as arguments — wrap such pipelines in an npm script, or ask for a
 * shell explicitly with `sh -c '…'`, so it is visible that one is used.
 */
import type { Writable } from 'node:stream';
import { UsageError } from '../core/errors.js';

export async function parseTestCommand(command: string, env: NodeJS.ProcessEnv, origin: string): Promise<string[]> {
  const { parse } = await import('shell-quote');
  const argv: string[] = [];
  for (const entry of parse(command, (key: string) => env[key] ?? '')) {
    if (typeof entry === 'string') {
      argv.push(entry);
    } else if ('comment' in entry) {
      break;
    } else {
      const shown = entry.op === 'glob' ? (entry as { pattern: string }).pattern : entry.op;
      throw new UsageError(`${origin} "${command}" needs a shell (${entry.op === 'glob' ? `glob ${shown}` : `operator ${shown}`}); vpm runs test commands without a shell`, {
        hint: `put it in an npm script (e.g. "test": "${command.replace(/"/g, '\\"')}") and use "npm test", or write it as sh -c '…' explicitly`,
      });
    }
  }
  if (argv.length === 0) throw new UsageError(`${origin} is empty`, { hint: 'set test.command in vpm.config.yaml, pass --test-cmd CMD, or --no-test' });
  return argv;
}

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
  const { execa } = await import('execa');
  const started = performance.now();
  const sub = execa(argv[0], argv.slice(1), {
    cwd: opts.cwd,
    env: opts.env,
    extendEnv: false,
    preferLocal: true,
    stdin: 'ignore',
    stdout: 'pipe',
    stderr: 'pipe',
    buffer: false,
    reject: false,
  });
  sub.stdout?.pipe(opts.output, { end: false });
  sub.stderr?.pipe(opts.output, { end: false });
  const r = await sub;
  const duration_ms = Math.round(performance.now() - started);
  const notStarted = r.exitCode === undefined && !r.signal;
  return {
    status: r.exitCode === 0 ? 'passed' : notStarted ? 'error' : 'failed',
    exit_code: r.exitCode ?? null,
    signal: r.signal ?? null,
    duration_ms,
    ...(notStarted ? { error: (r as { shortMessage?: string }).shortMessage ?? 'the command could not be started' } : {}),
  };
}
