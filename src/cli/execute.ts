/**
 * Runs one command spec the same way for every entry path (the commander tree and the start-up fast
 * paths): builds the context, parses, runs, renders the result (human or --json), maps the outcome
 * to the exit code and writes the command's `vpm.request` log line. Free of commander so a fast path
 * can use it without loading the command tree.
 */
import type { CommandResult, Outcome } from '../core/command.js';
import { type Ctx, createContext, type IOStreams } from '../core/context.js';
import { environmentErrorFrom } from '../core/environment-errors.js';
import { ExitCode, fromSystemError, VpmError } from '../core/errors.js';
import { maskingIo } from '../core/secrets.js';
import type { AnyCommandSpec, GlobalFlags, ParsedInput } from './spec.js';

const OUTCOME_EXIT: Record<Outcome, number> = {
  ok: ExitCode.ok,
  failed: ExitCode.failure,
  refused: ExitCode.refused,
  gate_failed: ExitCode.sloGate,
  timed_out: ExitCode.timeout,
};

/**
 * The one exit-code decision: a command's outcome (a result, or what it threw) → the process's exit
 * code. Typed errors carry theirs; anything else is a bug in vpm (exit 1).
 */
export function exitCodeFor(outcome: { result: CommandResult } | { error: unknown }): number {
  if ('result' in outcome) return OUTCOME_EXIT[outcome.result.outcome ?? 'ok'];
  return knownError(outcome.error)?.exitCode ?? ExitCode.failure;
}

/** A typed error, or one whose system code says the environment is at fault (network, disk, permissions). */
function knownError(err: unknown): VpmError | undefined {
  return err instanceof VpmError ? err : (fromSystemError(err) ?? environmentErrorFrom(err));
}

/** What failed, why and what to do next — on stderr, and as the one JSON document with --json. */
export function renderError(io: IOStreams, err: unknown, opts: { json: boolean; debug: boolean }): void {
  const known = knownError(err);
  const message = known ? known.message : `internal error: ${(err as Error)?.message ?? String(err)}`;
  const hint = known?.hint ?? (known ? undefined : 'this is a bug in vpm; re-run with --debug and report the output');
  io.stderr.write(`error: ${message}\n${hint ? `hint: ${hint}\n` : ''}`);
  if (opts.debug && err instanceof Error && err.stack) io.stderr.write(`${err.stack}\n`);
  if (opts.json)
    io.stdout.write(
      `${JSON.stringify({ ok: false, error: { exit_code: exitCodeFor({ error: err }), message, hint, details: known?.details } })}\n`,
    );
}

export interface ExecuteOptions {
  io: IOStreams;
  env: NodeJS.ProcessEnv;
  globals: GlobalFlags;
  /** Fields a fast path adds to the parsed options (e.g. reads it started early). */
  extraOptions?: Record<string, unknown>;
  /** Write the request line without loading pino (see logRequest): `chat append`'s fast path. */
  directRequestLog?: boolean;
}

export async function executeSpec(spec: AnyCommandSpec, input: ParsedInput<AnyCommandSpec['flags']>, o: ExecuteOptions): Promise<number> {
  const { env, globals } = o;
  // Everything printed — results and errors, also those raised before a context exists — passes the masking sink.
  const io = maskingIo(o.io, env);
  const json = Boolean(globals.json);
  const debug = Boolean(globals.debug) || env.VPM_DEBUG === '1';
  // process.hrtime, not performance.now(): the `performance` global loads perf_hooks (~0.6 ms of start-up).
  const started = process.hrtime.bigint();
  const name = spec.path.join(' ');
  let ctx: Ctx | undefined;
  let exitCode: number;
  let retryable = false;
  let errorText: string | undefined;
  try {
    ctx = createContext({ ...globals, repo: spec.repo }, io, env);
    const parsed = spec.parse(input);
    const options = o.extraOptions ? { ...(parsed as object), ...o.extraOptions } : parsed;
    const result = await spec.run(ctx, options);
    if (json) io.stdout.write(`${JSON.stringify(result.data ?? null, null, 2)}\n`);
    else if (result.human) io.stdout.write(result.human.endsWith('\n') ? result.human : `${result.human}\n`);
    exitCode = exitCodeFor({ result });
    retryable = result.retryable ?? false;
  } catch (err) {
    renderError(io, err, { json, debug });
    exitCode = exitCodeFor({ error: err });
    retryable = knownError(err)?.retryable ?? false;
    errorText = err instanceof Error ? err.message : String(err);
  }
  // Outside a repository there is no logs/ to write to.
  if (ctx && spec.repo !== 'none') {
    try {
      const { logRequest } = await import('../core/log.js');
      await logRequest(
        ctx,
        {
          command: name,
          step_latency_ms: Math.round(Number(process.hrtime.bigint() - started) / 1e6),
          ok: exitCode === ExitCode.ok,
          retryable,
          exit_code: exitCode,
          ...(errorText ? { error: errorText } : {}),
          ...ctx.requestFields,
        },
        { direct: o.directRequestLog },
      );
    } catch (err) {
      // The log is diagnostics; failing to write it must not change the command's outcome.
      if (debug) io.stderr.write(`warning: could not write logs/vpm.log.jsonl: ${(err as Error).message}\n`);
    }
  }
  return exitCode;
}
