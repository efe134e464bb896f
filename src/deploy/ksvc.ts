/** Knative Service facts vpm reads and the traffic it writes. */
import type { KObj, ObjRef } from '../adapters/kube.js';

const KSVC_API = 'serving.knative.dev/v1';
export const CANARY_ANNOTATION = 'vpm.dev/canary';
const STABLE_TAG = 'stable';
export const CANDIDATE_TAG = 'candidate';

export function ksvcRef(name: string, namespace?: string): ObjRef {
  return { apiVersion: KSVC_API, kind: 'Service', name, namespace };
}

export function revisionRef(name: string, namespace?: string): ObjRef {
  return { apiVersion: KSVC_API, kind: 'Revision', name, namespace };
}

export interface TrafficTarget {
  revisionName?: string;
  latestRevision?: boolean;
  percent?: number;
  tag?: string;
  url?: string;
}

export function condition(obj: KObj | null, type: string): { status?: string; reason?: string; message?: string } | undefined {
  return (obj?.status?.conditions as Array<{ type: string; status?: string; reason?: string; message?: string }> | undefined)?.find(
    (c) => c.type === type,
  );
}

/** Ready=True and the status describes the current spec (observedGeneration == generation). */
export function isReadyAndCurrent(obj: KObj | null): boolean {
  if (!obj) return false;
  return condition(obj, 'Ready')?.status === 'True' && obj.status?.observedGeneration === obj.metadata.generation;
}

/** Ready=False for the current generation: Knative gave up (e.g. RevisionFailed), waiting longer will not help. */
export function isFailedAndCurrent(obj: KObj | null): boolean {
  if (!obj) return false;
  return condition(obj, 'Ready')?.status === 'False' && obj.status?.observedGeneration === obj.metadata.generation;
}

/** The canary's two-revision split: always sums to 100 and names exactly the pinned revisions. */
export function splitTraffic(stable: string, candidate: string, candidatePercent: number): TrafficTarget[] {
  return [
    { revisionName: stable, percent: 100 - candidatePercent, tag: STABLE_TAG },
    { revisionName: candidate, percent: candidatePercent, tag: CANDIDATE_TAG },
  ];
}

/** True when status.traffic routes exactly what spec.traffic asks for (per revision percent). */
export function trafficSettled(obj: KObj | null, wanted: TrafficTarget[]): boolean {
  if (!isReadyAndCurrent(obj)) return false;
  const status = (obj!.status?.traffic ?? []) as TrafficTarget[];
  const sum = (list: TrafficTarget[], rev: string) => list.filter((t) => t.revisionName === rev).reduce((n, t) => n + (t.percent ?? 0), 0);
  return wanted.every((w) => sum(status, w.revisionName!) === (w.percent ?? 0));
}

export function tagUrl(obj: KObj | null, tag: string): string | undefined {
  return ((obj?.status?.traffic ?? []) as TrafficTarget[]).find((t) => t.tag === tag)?.url;
}

/** The revision serving 100% (or the most) of the current spec traffic, resolving latestRevision. */
export function servingRevision(obj: KObj): string | undefined {
  const spec = ((obj.spec?.traffic ?? []) as TrafficTarget[]).length
    ? (obj.spec.traffic as TrafficTarget[])
    : ((obj.status?.traffic ?? []) as TrafficTarget[]);
  const resolved = spec.map((t) => ({
    rev: t.revisionName ?? (t.latestRevision ? obj.status?.latestReadyRevisionName : undefined),
    percent: t.percent ?? 0,
  }));
  const best = resolved.filter((t) => t.rev).sort((a, b) => b.percent - a.percent)[0];
  return best?.rev;
}
