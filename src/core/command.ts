import type { Ctx } from './context.js';

/** What a command returns: data for --json, and the human rendering of the same data. */
export interface CommandResult {
  data: unknown;
  /** Human output for stdout (data only; status lines go to stderr through ctx.status). */
  human?: string;
  /** Non-zero when the command finished but its outcome is a failure (reports still written). */
  exitCode?: number;
  /** For the vpm.request log line: whether a retry could succeed. */
  retryable?: boolean;
}

export interface CommandInput<O = Record<string, unknown>> {
  args: string[];
  opts: O;
}

export type CommandHandler<O = any> = (ctx: Ctx, input: CommandInput<O>) => Promise<CommandResult>;
