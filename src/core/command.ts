import type { Ctx } from './context.js';

/** ok · failed (1) · refused (3) · gate_failed (4, SLO) · timed_out (5). */
export type Outcome = 'ok' | 'failed' | 'refused' | 'gate_failed' | 'timed_out';

/** What a command returns: data for --json, and the human rendering of the same data. */
export interface CommandResult {
  data: unknown;
  /** Human output for stdout (data only; status lines go to stderr through ctx.status). */
  human?: string;
  /**
   * How the command ended when it finished without throwing (reports still written); default ok.
   * src/cli/execute.ts turns it into the exit code (the one place that does).
   */
  outcome?: Outcome;
  /** For the vpm.request log line: whether a retry could succeed. */
  retryable?: boolean;
}

interface CommandInput<O = Record<string, unknown>> {
  args: string[];
  opts: O;
}

export type CommandHandler<O = any> = (ctx: Ctx, input: CommandInput<O>) => Promise<CommandResult>;
