import type { CommandHandler } from '../../core/command.js';
import type { checkin } from './checkin.js';
import type { FlagsOf } from '../../cli/spec.js';

/** `vpm checkin`: Repo / Branch / PR / Run / Evidence / Next; degrades gracefully offline (exit 0). */
export const checkinCommand: CommandHandler<FlagsOf<typeof checkin>> = async (ctx, { opts }) => {
  const { checkin } = await import('../../github/checkin.js');
  const config = await ctx.config();
  const result = await checkin({
    cwd: ctx.root,
    env: ctx.env,
    config,
    repo: opts.repo,
    offline: opts.offline,
    github: (repo) => ctx.github({ repo: `${repo.owner}/${repo.repo}` }),
  });
  const network = result.unreachable.filter((u) => !u.reason.startsWith('not asked'));
  if (network.length) ctx.status(`checkin: could not reach everything: ${[...new Set(network.map((u) => u.reason))].join('; ')}`);
  const { lines, ...data } = result;
  return { data: { ...data, lines }, human: lines.join('\n') };
};
