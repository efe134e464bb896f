/**
 * `vpm release`: one release record on the KService (annotation vpm.dev/release) that moves through
 * applying → ready → canary → guard → done (or failed). A re-run with the same template resumes at
 * the recorded phase; while the phase is not terminal, apply and clusters sync refuse.
 */
import { KubeApiError, withRetry, type KubeClient } from '../adapters/kube.js';
import { ksvcRef, type TrafficTarget } from './ksvc.js';
import { RELEASE_ANNOTATION, type ReleaseProgress } from './traffic-ownership.js';

export const RELEASE_PHASES = ['applying', 'ready', 'canary', 'guard'] as const;

/** The routing a release applies its template with: stable keeps 100%, the new revision joins at 0% with the candidate tag. */
export function releaseTraffic(stable: string): TrafficTarget[] {
  return [
    { revisionName: stable, percent: 100, tag: 'stable' },
    { latestRevision: true, percent: 0, tag: 'candidate' },
  ];
}

/** Writes the release record (merge patch guarded by resourceVersion, retried on conflicts and outages). */
export async function writeReleaseProgress(kube: KubeClient, ksvc: string, progress: ReleaseProgress, deadlineMs = 60_000): Promise<void> {
  const ref = ksvcRef(ksvc, kube.namespace);
  const deadline = Date.now() + deadlineMs;
  const retry = { attempts: 12, baseMs: 100, maxMs: 2_000, deadline };
  for (;;) {
    const current = await withRetry(() => kube.mustGet(ref), retry);
    try {
      await withRetry(
        () =>
          kube.mergePatch(
            ref,
            { metadata: { annotations: { [RELEASE_ANNOTATION]: JSON.stringify(progress) } } },
            { resourceVersion: current.metadata.resourceVersion },
          ),
        retry,
      );
      return;
    } catch (err) {
      if (err instanceof KubeApiError && err.status === 409 && Date.now() < deadline) continue;
      throw err;
    }
  }
}
