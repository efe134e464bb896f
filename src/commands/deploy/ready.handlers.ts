import type { CommandHandler } from '../../core/command.js';
import { parseDuration } from '../../deploy/duration.js';
import { waitReady } from '../../deploy/ready.js';
import type { ready } from './ready.js';
import type { FlagsOf } from '../../cli/spec.js';

/** `vpm ready`: waits until the KService is Ready for its current generation (see waitReady). */
export const readyCommand: CommandHandler<FlagsOf<typeof ready>> = async (ctx, { args, opts }) => {
  const name = args[0];
  const timeoutMs = parseDuration(opts.timeout ?? '120s', '--timeout');
  const kube = await ctx.kube(opts);
  const { obj, evidence } = await waitReady(ctx, kube, name, timeoutMs);
  return {
    data: {
      ksvc: name,
      namespace: kube.namespace,
      ready: true,
      url: obj.status?.url ?? null,
      latest_ready_revision: obj.status?.latestReadyRevisionName ?? null,
      evidence,
    },
    human: `${name} is ready: ${obj.status?.url ?? ''} (${obj.status?.latestReadyRevisionName ?? ''})`,
  };
};
