/**
 * Waiting for a KService to be Ready — by watching, not polling — for its current generation
 * (status.observedGeneration == metadata.generation), so a Ready left over from the previous spec
 * never counts. Ready=False for the current generation ends the wait at once. Evidence of the final status.
 */
import type { KObj, KubeClient } from '../adapters/kube.js';
import type { Ctx } from '../core/context.js';
import { OperationalError, TimeoutError, VpmError } from '../core/errors.js';
import { makeId } from '../core/ids.js';
import { writeKsvcEvidence } from './ksvc-evidence.js';
import { ReadyEvidence } from '../schemas/deploy-evidence.js';
import { condition, isFailedAndCurrent, isReadyAndCurrent, ksvcRef } from './ksvc.js';

export interface ReadyResult {
  obj: KObj;
  runId: string;
  evidence: string;
}

export async function waitReady(ctx: Ctx, kube: KubeClient, name: string, timeoutMs: number): Promise<ReadyResult> {
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
  const evidence = await writeKsvcEvidence(ctx, kube, {
    kind: ReadyEvidence,
    ksvc: name,
    runId,
    startedAt: started,
    status,
    body: {
      generation: obj?.metadata.generation ?? null,
      observed_generation: obj?.status?.observedGeneration ?? null,
      conditions: obj?.status?.conditions ?? [],
      url: obj?.status?.url ?? null,
      latest_ready_revision: obj?.status?.latestReadyRevisionName ?? null,
      waited_ms: Date.now() - t0,
    },
  });
  if (!ready) {
    const c = condition(obj, 'Ready');
    const why = obj
      ? `Ready=${c?.status ?? 'Unknown'}${c?.reason ? ` (${c.reason}${c.message ? `: ${c.message}` : ''})` : ''}, observedGeneration ${obj.status?.observedGeneration ?? '-'} of ${obj.metadata.generation}`
      : 'the KService does not exist';
    if (status === 'failed') throw new OperationalError(`${name} failed to become ready: ${why}`, { details: { evidence } });
    throw new TimeoutError(`${name} not ready after ${timeoutMs} ms: ${why}`, { details: { evidence } });
  }
  return { obj: obj!, runId, evidence };
}
