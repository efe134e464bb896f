import type { CommandHandler } from '../../core/command.js';
import { readHistory } from '../../deploy/history.js';
import type { FlagsOf } from '../../cli/spec.js';
import type { history } from './history.js';

export const historyCommand: CommandHandler<FlagsOf<typeof history>> = async (ctx, { args, opts }) => {
  const entries = readHistory(ctx.root, args[0], opts.namespace);
  const rows = entries.map(
    (e) =>
      `${e.at}  ${e.kind.padEnd(7)}  ${(e.revision ?? '-').padEnd(16)}  from ${(e.previous ?? '-').padEnd(16)}  ${e.result.padEnd(12)}  ${e.by ?? '-'}  ${e.evidence}`,
  );
  return {
    data: { ksvc: args[0], entries },
    human: rows.length ? rows.join('\n') : `no releases, canaries, guards or undos of ${args[0]} in reports/`,
  };
};
