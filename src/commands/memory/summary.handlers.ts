import type { CommandHandler } from '../../core/command.js';
import { summariseNewChat } from '../../memory/summarise.js';
import type { summary } from './summary.js';
import type { FlagsOf } from '../../cli/spec.js';

export const summaryCommand: CommandHandler<FlagsOf<typeof summary>> = async (ctx, { opts }) => {
  const outcome = await summariseNewChat(ctx, opts.provider);
  for (const bad of outcome.invalid_lines) {
    ctx.status(`warning: skipped an invalid chat line in logs/${bad.file} at byte ${bad.offset}: ${bad.reason}`);
  }
  ctx.status(outcome.message);
  return {
    data: { created: outcome.created, invalid_lines: outcome.invalid_lines, message: outcome.message },
    human: outcome.created ? outcome.created.summary : '',
  };
};
