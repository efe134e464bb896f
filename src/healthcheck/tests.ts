/**
 * Runs the project's test command: parsed into argv with shell-quote and executed with execa,
 * never through a shell (shell operators are refused, not interpreted).
 */
import { parse } from 'shell-quote';
import { UsageError } from '../core/errors.js';
import { maskSecrets } from '../core/secrets.js';

export interface TestRunResult {
  command: string;
  argv: string[];
  exit_code: number | null;
  ok: boolean;
  duration_ms: number;
  timed_out: boolean;
  output_tail: string[];
}

const TAIL_LINES = 40;

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
  /** Live output (e.g. to stderr); the tail is kept for the report either way. */
  onOutput?: (chunk: string) => void;
}): Promise<TestRunResult> {
  const argv = parseTestCommand(opts.command, opts.env);
  const { execa } = await import('execa');
  const started = performance.now();
  const lines: string[] = [];
  let partial = '';
  // Whether the lines dropped from the window left a private-key block open: its remaining lines
  // (no BEGIN left in the window) must still be recognised as key material.
  let keyBlockOpen = false;
  const keep = (chunk: string) => {
    opts.onOutput?.(chunk);
    const parts = (partial + chunk).split('\n');
    partial = parts.pop() ?? '';
    lines.push(...parts);
    if (lines.length > TAIL_LINES * 4) {
      for (const dropped of lines.splice(0, lines.length - TAIL_LINES)) {
        if (/-----BEGIN[ A-Z0-9]*PRIVATE KEY/.test(dropped)) keyBlockOpen = true;
        if (/-----END[ A-Z0-9]*PRIVATE KEY/.test(dropped)) keyBlockOpen = false;
      }
    }
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
  if (partial) lines.push(partial);
  const notFound = (result as { code?: string }).code === 'ENOENT';
  if (notFound) lines.push(`${argv[0]}: command not found`);
  return {
    command: opts.command,
    argv,
    exit_code: typeof result.exitCode === 'number' ? result.exitCode : null,
    ok: result.exitCode === 0 && !result.timedOut,
    duration_ms: Math.round(performance.now() - started),
    timed_out: Boolean(result.timedOut),
    // eslint-disable-next-line no-control-regex
    output_tail: maskedTailLines(lines, keyBlockOpen, opts.env),
  };
}

/**
 * The report's last TAIL_LINES lines, masked as one text before the cut (line-by-line masking let
 * the middle lines of a multi-line private key through). A block left open by lines already
 * dropped from the window gets its BEGIN back so its remaining lines are masked too.
 */
function maskedTailLines(lines: string[], keyBlockOpen: boolean, env: NodeJS.ProcessEnv): string[] {
  // eslint-disable-next-line no-control-regex
  const text = lines.join('\n').replace(/\x1b\[[0-9;]*m/g, '');
  const masked = keyBlockOpen ? maskSecrets(`-----BEGIN PRIVATE KEY-----\n${text}`, env) : maskSecrets(text, env);
  return masked.split('\n').slice(-TAIL_LINES);
}
