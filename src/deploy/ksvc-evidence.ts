/** Evidence about one KService: the few lines every deploy command's record starts with. */
import type { KubeClient } from '../adapters/kube.js';
import type { Ctx } from '../core/context.js';
import { writeEvidence } from '../evidence/write.js';
import type { EvidenceKind } from '../schemas/evidence.js';

/**
 * Evidence about one KService, `reports/<kind>/<ksvc>/<run_id>.json`: where it ran (context,
 * namespace, KService), then `body`. Returns its path from the repository root.
 */
export async function writeKsvcEvidence(
  ctx: Ctx,
  kube: KubeClient,
  e: { kind: EvidenceKind; ksvc: string; runId: string; startedAt: Date; status: string; body: Record<string, unknown> },
): Promise<string> {
  const { path } = await writeEvidence({
    kind: e.kind,
    cwd: ctx.root,
    runId: e.runId,
    startedAt: e.startedAt,
    status: e.status,
    path: `${e.ksvc}/${e.runId}.json`,
    env: ctx.env,
    body: { context: kube.context, namespace: kube.namespace, ksvc: e.ksvc, ...e.body },
  });
  return path.slice(ctx.root.length + 1);
}
