/**
 * Who owns a live KService's routing. The template belongs to whoever applies the manifest; once a
 * KService is live, `spec.traffic` belongs to the release/canary: an apply carries the live routing
 * (with `latestRevision` pinned to the revision it resolves to now), so a new template joins at 0%
 * instead of taking every request before any gate ran. Rollouts in progress and revisions a gate
 * rejected are recorded on the KService itself, so every checkout (and `clusters sync`) sees them.
 */
import { createHash } from 'node:crypto';
import type { KObj, KubeClient } from '../adapters/kube.js';
import { RefusedError, UsageError } from '../core/errors.js';
import { readProgress } from './canary.js';
import { CANARY_ANNOTATION, type TrafficTarget } from './ksvc.js';

export const RELEASE_ANNOTATION = 'vpm.dev/release';
export const REJECTED_ANNOTATION = 'vpm.dev/rejected-revisions';
/** Rejected revisions kept on the KService (the oldest fall off). */
const REJECTED_KEPT = 20;

export interface RejectedRevision {
  revision: string;
  /** Hash of the KService template that produced the revision (null when it was no longer the live template). */
  template_hash: string | null;
  by: 'canary' | 'guard' | 'release';
  run_id: string;
  reason: string;
  at: string;
}

export function isKsvc(obj: KObj): boolean {
  return obj.kind === 'Service' && String(obj.apiVersion).startsWith('serving.knative.dev/');
}

/** Live = the KService exists and has served a ready revision: its routing is no longer the manifest's. */
export function isLive(obj: KObj | null): obj is KObj {
  return Boolean(obj?.status?.latestReadyRevisionName);
}

/**
 * Canonical (sorted keys) JSON of what a template runs: its spec and the annotations Knative acts on
 * (`*.knative.dev/…`: scaling, features). Its revision name, labels and other annotations change
 * nothing that runs, so a rejected template with a new label still hashes as the rejected one.
 */
export function templateHash(template: unknown): string {
  const canonical = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(canonical);
    if (v && typeof v === 'object')
      return Object.fromEntries(
        Object.keys(v)
          .sort()
          .map((k) => [k, canonical((v as Record<string, unknown>)[k])]),
      );
    return v;
  };
  const { metadata, spec } = (template ?? {}) as { metadata?: { annotations?: Record<string, string> }; spec?: unknown };
  const acted = Object.entries(metadata?.annotations ?? {}).filter(([k]) => /^([\w-]+\.)*knative\.dev\//.test(k));
  const t = { spec: spec ?? null, annotations: Object.fromEntries(acted) };
  return `sha256:${createHash('sha256')
    .update(JSON.stringify(canonical(t)))
    .digest('hex')
    .slice(0, 32)}`;
}

export function readRejected(obj: KObj | null): RejectedRevision[] {
  const raw = obj?.metadata.annotations?.[REJECTED_ANNOTATION];
  if (!raw) return [];
  try {
    const list = JSON.parse(raw) as RejectedRevision[];
    return Array.isArray(list) ? list.filter((r) => typeof r?.revision === 'string') : [];
  } catch {
    return [];
  }
}

/**
 * The annotation value after adding `revision` as rejected, given the object about to be patched:
 * the template hash is taken only while the live template is still the one that made the revision.
 */
export function rejectedAnnotation(
  current: KObj,
  entry: Omit<RejectedRevision, 'template_hash' | 'at'> & { at?: string },
): Record<string, string> {
  const template_hash = current.status?.latestCreatedRevisionName === entry.revision ? templateHash(current.spec?.template) : null;
  const kept = readRejected(current).filter((r) => r.revision !== entry.revision);
  const list = [...kept, { ...entry, template_hash, at: entry.at ?? new Date().toISOString() }].slice(-REJECTED_KEPT);
  return { [REJECTED_ANNOTATION]: JSON.stringify(list) };
}

export interface ReleaseProgress {
  run_id: string;
  phase: 'applying' | 'ready' | 'canary' | 'guard' | 'done' | 'failed';
  manifest: string;
  stable: string | null;
  candidate: string | null;
  template_hash: string;
  updated_at: string;
  reason?: string;
}

export function readRelease(obj: KObj | null): ReleaseProgress | null {
  const raw = obj?.metadata.annotations?.[RELEASE_ANNOTATION];
  if (!raw) return null;
  try {
    const p = JSON.parse(raw) as ReleaseProgress;
    return typeof p.run_id === 'string' && typeof p.phase === 'string' ? p : null;
  } catch {
    return null;
  }
}

/** The release recorded on the KService while it has not ended (done or failed), else null. */
export function unfinishedRelease(obj: KObj | null): ReleaseProgress | null {
  const release = readRelease(obj);
  return release && release.phase !== 'done' && release.phase !== 'failed' ? release : null;
}

export interface RolloutInProgress {
  kind: 'release' | 'canary';
  run_id: string;
  phase: string;
  annotation: string;
}

/** The release or canary that is rolling this KService out now, if any. */
export function rolloutInProgress(obj: KObj | null): RolloutInProgress | null {
  const release = unfinishedRelease(obj);
  if (release) return { kind: 'release', run_id: release.run_id, phase: release.phase, annotation: RELEASE_ANNOTATION };
  const canary = readProgress(obj);
  if (canary && (canary.phase === 'progressing' || canary.phase === 'holding' || canary.phase === 'paused'))
    return { kind: 'canary', run_id: canary.run_id, phase: canary.phase, annotation: CANARY_ANNOTATION };
  return null;
}

/**
 * The live routing as an apply should carry it: every target kept, `latestRevision` resolved to the
 * revision it routes to now (status.traffic), so a new template does not take its traffic.
 */
export function pinnedTraffic(live: KObj): TrafficTarget[] {
  const spec = (live.spec?.traffic ?? []) as TrafficTarget[];
  const status = (live.status?.traffic ?? []) as TrafficTarget[];
  const latest = (tag?: string) =>
    status.find((t) => t.latestRevision && (t.tag ?? null) === (tag ?? null))?.revisionName ?? live.status?.latestReadyRevisionName;
  return spec.map((t) => {
    // status-only `url` dropped; everything else as live, so an unchanged template is an unchanged apply.
    const { url: _url, ...rest } = t;
    return t.latestRevision ? { ...rest, revisionName: latest(t.tag), latestRevision: false } : rest;
  });
}

/**
 * What an apply of `obj` should carry as routing for the live KService: its live traffic as is, and
 * with `latestRevision` pinned when the template changes (else the new revision would take it).
 */
export async function keptTraffic(kube: KubeClient, obj: KObj, live: KObj): Promise<{ traffic: TrafficTarget[]; pinned: boolean }> {
  const verbatim = ((live.spec?.traffic ?? []) as TrafficTarget[]).map(({ url: _url, ...t }) => t);
  if (!verbatim.some((t) => t.latestRevision)) return { traffic: verbatim, pinned: false };
  let templateChanges = true;
  try {
    const merged = await kube.apply({ ...obj, spec: { ...obj.spec, traffic: verbatim } }, { dryRun: true });
    templateChanges = templateHash(merged.spec?.template) !== templateHash(live.spec?.template);
  } catch {
    // The lane's own diff step reports a manifest the server rejects; pinning is the safe guess.
  }
  return templateChanges ? { traffic: pinnedTraffic(live), pinned: true } : { traffic: verbatim, pinned: false };
}

export interface OwnershipFlags {
  /** Apply the manifest's own spec.traffic (`--traffic`). */
  traffic?: boolean;
  force?: boolean;
  reason?: string;
}

export interface Override {
  object: string;
  what: string;
  reason: string;
}

/** `--force` needs `--reason`: the override is recorded. */
export function checkForce(flags: OwnershipFlags): void {
  if (flags.force && !flags.reason?.trim()) throw new UsageError('--force needs --reason "…" (the override is recorded)');
}

/** Refuses (exit 3) to change a KService a release/canary is rolling out, unless forced (then recorded). */
export function assertNoRolloutInProgress(live: KObj, flags: OwnershipFlags, overrides: Override[], ownRunId?: string): void {
  const busy = rolloutInProgress(live);
  if (!busy || busy.run_id === ownRunId) return;
  const what = `${busy.kind} ${busy.run_id} is in progress on ${live.metadata.namespace}/${live.metadata.name} (annotation ${busy.annotation}, phase ${busy.phase})`;
  if (!flags.force) {
    throw new RefusedError(what, {
      hint: `wait for it to end (vpm canary status ${live.metadata.name} -n ${live.metadata.namespace} --watch), end it (vpm canary abort ${live.metadata.name} -n ${live.metadata.namespace}), or override with --force --reason "…"`,
    });
  }
  overrides.push({ object: `Service/${live.metadata.name}`, what, reason: flags.reason ?? '' });
}

/**
 * After the server-side dry-run: a template that would bring back a revision a gate rejected is
 * refused unless forced.
 */
export function assertNotRejected(live: KObj, merged: KObj, flags: OwnershipFlags, overrides: Override[]): void {
  const hash = templateHash(merged.spec?.template);
  const name = merged.spec?.template?.metadata?.name as string | undefined;
  const hit = readRejected(live).find((r) => r.template_hash === hash || (name !== undefined && r.revision === name));
  if (!hit) return;
  const what = `this template would bring back ${hit.revision}, rejected by ${hit.by} ${hit.run_id} at ${hit.at}: ${hit.reason}`;
  if (!flags.force) {
    throw new RefusedError(`Service/${live.metadata.name}: ${what}`, {
      hint: 'fix the template (a new image or configuration), or override with --force --reason "…"',
    });
  }
  overrides.push({ object: `Service/${live.metadata.name}`, what, reason: flags.reason ?? '' });
}

/**
 * `--traffic`: routing that gives a rejected revision any traffic is refused unless forced, like a
 * template that would bring it back.
 */
export function assertRoutingNotRejected(
  live: KObj,
  traffic: TrafficTarget[] | undefined,
  flags: OwnershipFlags,
  overrides: Override[],
): void {
  const rejected = readRejected(live);
  const hit = rejected.find((r) => (traffic ?? []).some((t) => t.revisionName === r.revision && (t.percent ?? 0) > 0));
  if (!hit) return;
  const what = `this routing gives traffic to ${hit.revision}, rejected by ${hit.by} ${hit.run_id} at ${hit.at}: ${hit.reason}`;
  if (!flags.force)
    throw new RefusedError(`Service/${live.metadata.name}: ${what}`, {
      hint: 'route to a revision that passed its gates, or override with --force --reason "…"',
    });
  overrides.push({ object: `Service/${live.metadata.name}`, what, reason: flags.reason ?? '' });
}

/** Reads the live KServices the objects name (null when absent). */
export async function liveKsvcs(kube: KubeClient, objects: KObj[]): Promise<Map<KObj, KObj | null>> {
  const out = new Map<KObj, KObj | null>();
  for (const obj of objects.filter(isKsvc)) {
    out.set(
      obj,
      await kube.get({ apiVersion: obj.apiVersion, kind: obj.kind, name: obj.metadata.name, namespace: obj.metadata.namespace }),
    );
  }
  return out;
}
