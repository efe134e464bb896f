/**
 * Runs several commands at once through a single `sh`, each with its own output pipe.
 *
 * Why: every child Node spawns is a fork of the whole Node process, and the main thread blocks until
 * the child has exec'd — 2 ms on an idle machine, 10–30 ms when the cores are busy with the very
 * commands just started. A shell is a small process whose forks are cheap and never block Node, so
 * a batch of commands costs Node one spawn instead of one each.
 *
 * Each command's stdout goes to its own descriptor (3, 4, …: POSIX sh redirects only 0–9, hence at
 * most MAX_BATCH commands per shell) and its exit status comes back on the shell's stdout as
 * "<index> <status>". stderr is not kept: callers that need an error message run the command again
 * on its own when it fails.
 */
import { spawn } from 'node:child_process';
import { shellQuote } from '../core/posix-shell.js';

export interface BatchResult {
  /** The command's exit status; -1 when it could not be run or its status was lost. */
  exitCode: number;
  stdout: string;
}

/** Descriptors 3–9 are free for the commands' stdout. */
export const MAX_BATCH = 7;

/**
 * The shell script for one batch: every command runs in the background in a subshell that reports
 * its status when it ends. Each command (and its subshell) closes the other commands' descriptors,
 * and the shell closes its own copy once the command is started, so a command's pipe reaches end of
 * file as soon as that command is done, not when the slowest one is.
 */
export function batchScript(program: string, argsList: string[][]): string {
  if (argsList.length > MAX_BATCH) throw new RangeError(`at most ${MAX_BATCH} commands per shell, got ${argsList.length}`);
  const fds = argsList.map((_, i) => 3 + i);
  const lines = argsList.map((args, i) => {
    const fd = fds[i];
    const closeOthers = fds
      .filter((other) => other !== fd)
      .map((other) => `${other}>&-`)
      .join(' ');
    const command = [program, ...args].map(shellQuote).join(' ');
    return `(${command} >&${fd} 2>/dev/null ${closeOthers}; echo "${i} $?") ${closeOthers} &\nexec ${fd}>&-`;
  });
  return `${lines.join('\n')}\nwait\n`;
}

/** Starts the commands; one promise per command, in order. Never rejects. */
export function runBatch(
  program: string,
  argsList: string[][],
  opts: { cwd: string; env: Record<string, string> },
): Promise<BatchResult>[] {
  if (argsList.length === 0) return [];
  // No start-up file may run in the shell (bash reads BASH_ENV even as a script runner).
  const { BASH_ENV: _bashEnv, ENV: _env, ...env } = opts.env;
  const child = spawn('sh', ['-c', batchScript(program, argsList)], {
    cwd: opts.cwd,
    env,
    stdio: ['ignore', 'pipe', 'ignore', ...argsList.map(() => 'pipe' as const)],
  });

  const statusOf = new Map<number, (code: number) => void>();
  const statuses = argsList.map((_, i) => new Promise<number>((resolve) => statusOf.set(i, resolve)));
  let pending = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    pending += chunk;
    for (let nl = pending.indexOf('\n'); nl >= 0; nl = pending.indexOf('\n')) {
      const [index, code] = pending.slice(0, nl).split(' ').map(Number);
      pending = pending.slice(nl + 1);
      statusOf.get(index)?.(code);
    }
  });
  // A status never reported (the shell could not start, or was killed) counts as a failure.
  const lost = (): void => statusOf.forEach((resolve) => resolve(-1));
  child.on('error', lost);
  child.on('close', lost);

  const outputOf = (fd: number): Promise<string> =>
    new Promise((resolve) => {
      const stream = child.stdio[fd] as NodeJS.ReadableStream | null;
      if (!stream) return resolve('');
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      // 'close' follows 'end', and also comes when the pipe is torn down without one.
      stream.on('close', () => resolve(Buffer.concat(chunks).toString('utf8')));
      stream.on('error', () => undefined);
    });

  return argsList.map(async (_, i) => {
    const [stdout, exitCode] = await Promise.all([outputOf(3 + i), statuses[i]]);
    return { exitCode, stdout };
  });
}
