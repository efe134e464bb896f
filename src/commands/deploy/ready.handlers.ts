import type { CommandHandler } from '../../core/command.js';
import { OperationalError, TimeoutError, VpmError } from '../../core/errors.js';
import { makeId } from '../../core/ids.js';
import { parseDuration } from '../../deploy/duration.js';
import { condition, isFailedAndCurrent, isReadyAndCurrent, ksvcRef } from '../../deploy/ksvc.js';
import { writeEvidence } from '../../evidence/write.js';
import { ReadyEvidence } from '../../schemas/deploy-evidence.js';
import type { KObj } from '../../adapters/kube.js';
import type { ready } from './ready.js';
import type { FlagsOf } from '../../cli/spec.js';

/**
 * Waits — by watching, not polling — until the KService is Ready=True for its current generation
 * (status.observedGeneration == metadata.generation), so a Ready left over from the previous spec
 * never counts. Ready=False for the current generation ends the wait at once.
 */
export const readyCommand: CommandHandler<FlagsOf<typeof ready>> = async (ctx, { args, opts }) => {
  const name = args[0];
  const timeoutMs = parseDuration(opts.timeout ?? '120s', '--timeout');
  const kube = await ctx.kube(opts);
  const started = ctx.now();
  const runId = makeId('ready', started);
  const t0 = Date.now();
  let last: KObj | null = null;
  let final: KObj | null = null;
  try {
    final = await kube.watchUntil(
      ksvcRef(name, kube.namespace),
      'services',
      (obj) => {
        last = obj;
        return isReadyAndCurrent(obj) || isFailedAndCurrent(obj);
      },
      AbortSignal.timeout(timeoutMs),
    );
  } catch (err) {
    if (err instanceof VpmError) throw err; // API server unreachable / refused: said as such, at once
    final = null;
  }
  const obj: KObj | null = final ?? last;
  const ready = isReadyAndCurrent(obj);
  const status = ready ? 'ready' : final ? 'failed' : 'timeout';
  const { path } = await writeEvidence({
    kind: ReadyEvidence,
    cwd: ctx.root,
    startedAt: started,
    status,
    runId,
    path: `${name}/${runId}.json`,
    env: ctx.env,
    body: {
      context: kube.context,
      namespace: kube.namespace,
      ksvc: name,
      generation: obj?.metadata.generation ?? null,
      observed_generation: obj?.status?.observedGeneration ?? null,
      conditions: obj?.status?.conditions ?? [],
      url: obj?.status?.url ?? null,
      latest_ready_revision: obj?.status?.latestReadyRevisionName ?? null,
      waited_ms: Date.now() - t0,
    },
  });
  const evidence = path.slice(ctx.root.length + 1);
  if (!ready) {
    const c = condition(obj, 'Ready');
    const why = obj
      ? `Ready=${c?.status ?? 'Unknown'}${c?.reason ? ` (${c.reason}${c.message ? `: ${c.message}` : ''})` : ''}, observedGeneration ${obj.status?.observedGeneration ?? '-'} of ${obj.metadata.generation}`
      : 'the KService does not exist';
    if (status === 'failed') throw new OperationalError(`${name} failed to become ready: ${why}`, { details: { evidence } });
    throw new TimeoutError(`${name} not ready after ${timeoutMs} ms: ${why}`, { details: { evidence } });
  }
  return {
    data: {
      ksvc: name,
      namespace: kube.namespace,
      ready: true,
      url: obj!.status?.url ?? null,
      latest_ready_revision: obj!.status?.latestReadyRevisionName ?? null,
      evidence,
    },
    human: `${name} is ready: ${obj!.status?.url ?? ''} (${obj!.status?.latestReadyRevisionName ?? ''})`,
  };
};
