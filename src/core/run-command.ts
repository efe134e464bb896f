/**
 * Runs one command handler the same way for every entry path: renders its result (human or
 * --json), turns errors into exit codes with a what/why/next message, and writes the command's
 * `vpm.request` log line. Kept free of commander so the hot path can use it without loading the
 * full command tree.
 */
import type { Ctx, IOStreams } from './context.js';
import { ExitCode, VpmError, fromSystemError } from './errors.js';
import type { CommandHandler, CommandInput, CommandResult } from './command.js';

export function renderError(ctx: Ctx | undefined, io: IOStreams, given: unknown): number {
  const err = given instanceof VpmError ? given : (fromSystemError(given) ?? given);
  const debug = ctx?.debug ?? process.env.VPM_DEBUG === '1';
  const known = err instanceof VpmError ? err : undefined;
  const exitCode = known?.exitCode ?? ExitCode.failure;
  const silent = known?.name === 'SilentExit';
  const message = known ? known.message : `internal error: ${(err as Error)?.message ?? String(err)}`;
  const hint = known?.hint ?? (known ? undefined : 'this is a bug in vpm; re-run with --debug and report the output');
  if (!silent) {
    io.stderr.write(`error: ${message}\n${hint ? `hint: ${hint}\n` : ''}`);
    if (debug && err instanceof Error && err.stack) io.stderr.write(`${err.stack}\n`);
    if (ctx?.json) io.stdout.write(`${JSON.stringify({ ok: false, error: { exit_code: exitCode, message, hint, details: known?.details } })}\n`);
  }
  return exitCode;
}

export async function executeCommand(
  ctx: Ctx,
  commandName: string,
  load: () => Promise<CommandHandler>,
  input: CommandInput,
): Promise<number> {
  const io = ctx.io;
  const started = performance.now();
  let ok = false;
  let retryable = false;
  let exitCode: number = ExitCode.ok;
  let errorText: string | undefined;
  try {
    const handler = await load();
    const result: CommandResult = await handler(ctx, input);
    if (ctx.json) io.stdout.write(`${JSON.stringify(result.data ?? null, null, 2)}\n`);
    else if (result.human) io.stdout.write(result.human.endsWith('\n') ? result.human : `${result.human}\n`);
    exitCode = result.exitCode ?? ExitCode.ok;
    ok = exitCode === ExitCode.ok;
    retryable = result.retryable ?? false;
  } catch (err) {
    exitCode = renderError(ctx, io, err);
    retryable = err instanceof VpmError ? err.retryable : false;
    errorText = err instanceof Error ? err.message : String(err);
  }
  try {
    const { logRequest } = await import('./log.js');
    await logRequest(ctx, {
      command: commandName,
      step_latency_ms: Math.round(performance.now() - started),
      ok,
      retryable,
      exit_code: exitCode,
      ...(errorText ? { error: errorText } : {}),
      ...ctx.requestFields,
    });
  } catch (err) {
    // The log is diagnostics; failing to write it must not change the command's outcome.
    if (ctx.debug) io.stderr.write(`warning: could not write logs/vpm.log.jsonl: ${(err as Error).message}\n`);
  }
  return exitCode;
}
