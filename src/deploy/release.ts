/**
 * `vpm release`: one release record on the KService (annotation vpm.dev/release) that moves through
 * applying → ready → canary → guard → done (or failed). A re-run with the same template resumes at
 * the recorded phase; while the phase is not terminal, apply and clusters sync refuse.
 */
import { hostname } from 'node:os';
import { KubeApiError, withRetry, type KObj, type KubeClient } from '../adapters/kube.js';
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

/** Writes the release record, or removes it (null); a merge patch guarded by resourceVersion, retried on conflicts and outages. */
export async function writeReleaseProgress(
  kube: KubeClient,
  ksvc: string,
  progress: ReleaseProgress | null,
  deadlineMs = 60_000,
): Promise<void> {
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
            { metadata: { annotations: { [RELEASE_ANNOTATION]: progress ? JSON.stringify(progress) : null } } },
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

/**
 * Who drives a release: the process running it says so every few seconds in its own annotation (never
 * the release record, whose writes it would race). A re-run resumes a release only once its driver
 * is gone — a dead process on this machine at once, another machine's after STALE_MS of silence — so
 * two runs never step the same traffic.
 */
export const HEARTBEAT_ANNOTATION = 'vpm.dev/release-heartbeat';
const HEARTBEAT_MS = 5_000;
export const HEARTBEAT_STALE_MS = 20_000;

export interface Heartbeat {
  run_id: string;
  host: string;
  pid: number;
  at: string;
}

function readHeartbeat(obj: KObj | null): Heartbeat | null {
  try {
    const hb = JSON.parse(obj?.metadata.annotations?.[HEARTBEAT_ANNOTATION] ?? 'null') as Heartbeat | null;
    return hb && typeof hb.run_id === 'string' && typeof hb.pid === 'number' && typeof hb.host === 'string' ? hb : null;
  } catch {
    return null;
  }
}

/** The process still driving a release of this KService, or null when none is (never this process itself). */
export function liveDriver(obj: KObj | null, now = Date.now()): Heartbeat | null {
  const hb = readHeartbeat(obj);
  if (!hb) return null;
  if (hb.host === hostname()) {
    if (hb.pid === process.pid) return null;
    try {
      process.kill(hb.pid, 0);
      return hb;
    } catch (err) {
      return (err as NodeJS.ErrnoException).code === 'EPERM' ? hb : null;
    }
  }
  return now - Date.parse(hb.at) < HEARTBEAT_STALE_MS ? hb : null;
}

const heartbeatOf = (runId: string) => JSON.stringify({ run_id: runId, host: hostname(), pid: process.pid, at: new Date().toISOString() });

/**
 * Takes the lease for release `runId`, written only over the object as `seen` (resourceVersion): of
 * two runs that read the same object, one writes and the other reads again and finds it driven.
 * Returns the process that drives a release here instead, or null once the lease is this run's.
 */
export async function acquireLease(kube: KubeClient, ksvc: string, runId: string, seen: KObj): Promise<Heartbeat | null> {
  const ref = ksvcRef(ksvc, kube.namespace);
  let obj = seen;
  for (let attempt = 0; attempt < 10; attempt++) {
    const driver = liveDriver(obj);
    if (driver) return driver;
    try {
      await kube.mergePatch(
        ref,
        { metadata: { annotations: { [HEARTBEAT_ANNOTATION]: heartbeatOf(runId) } } },
        { resourceVersion: obj.metadata.resourceVersion },
      );
      return null;
    } catch (err) {
      if (!(err instanceof KubeApiError && err.status === 409)) throw err;
      obj = await kube.mustGet(ref);
    }
  }
  throw new KubeApiError(409, `${ksvc} kept changing while vpm took the release lease; try again`);
}

/**
 * Keeps saying that this process drives release `runId` until stopped; then the annotation is removed.
 * `fresh`: the lease was just written (acquireLease), so the first beat is the next tick's.
 */
export function startHeartbeat(kube: KubeClient, ksvc: string, runId: string, fresh = false): { stop(): Promise<void> } {
  const ref = ksvcRef(ksvc, kube.namespace);
  const write = (value: string | null): Promise<void> =>
    kube.mergePatch(ref, { metadata: { annotations: { [HEARTBEAT_ANNOTATION]: value } } }).then(
      () => undefined,
      () => undefined, // a missed beat only makes the lease look older; the release goes on
    );
  let beating = false;
  const beat = (): Promise<void> => {
    beating = true;
    return write(heartbeatOf(runId)).then(() => {
      beating = false;
    });
  };
  let last = fresh ? Promise.resolve() : beat();
  const timer = setInterval(() => {
    // One beat at a time: while the API server is slow or away, ticks are skipped, not queued.
    if (!beating) last = beat();
  }, HEARTBEAT_MS);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await last;
      await write(null);
    },
  };
}
