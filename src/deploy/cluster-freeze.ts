/**
 * The deploy freeze where the team and the clusters see it, not only in one checkout's
 * `.ops/deploy_freeze.json`:
 *  (a) a deny sync window in the vpm AppProject (`applications: ["*"]`, `manualSync: false`, description
 *      starting with WINDOW_MARKER), so Argo CD itself refuses every sync, automated or manual;
 *  (b) the annotation `vpm.dev/freeze` (+ label `vpm.dev/frozen` for selectors) on the namespaces of the
 *      KServices vpm manages, which every vpm mutating command reads from the cluster;
 *  (c) a ValidatingAdmissionPolicy + binding (built into kube-apiserver, no webhook) rejecting create and
 *      spec changes of `serving.knative.dev` Services in those namespaces unless the object carries the
 *      annotation `vpm.dev/freeze-override: <reason>`, so `kubectl apply` and every other client are held.
 * Everything is written with vpm's own field manager or marker, and `freeze off` removes exactly that.
 * Known limit: neither Argo CD's window nor the admission policy can expire by itself at `--until` (a
 * window is a cron schedule, CEL has no clock): vpm's own check honours `until`, the cluster parts stay
 * until `vpm freeze off`, and `vpm freeze status` says so.
 */
import type { KObj, KubeClient } from '../adapters/kube.js';
import { RefusedError, UsageError } from '../core/errors.js';
import type { SyncWindow } from '../fleet/windows.js';

export const FREEZE_ANNOTATION = 'vpm.dev/freeze';
export const FROZEN_LABEL = 'vpm.dev/frozen';
export const OVERRIDE_ANNOTATION = 'vpm.dev/freeze-override';
/** Description prefix of the sync windows vpm owns: the manual freeze, and each recurring schedule. */
export const WINDOW_MARKER = 'vpm:freeze';
export const SCHEDULE_MARKER = 'vpm:schedule';
export const POLICY_NAME = 'vpm-freeze';
const FIELD_MANAGER = 'vpm-freeze';
const ARGO_API = 'argoproj.io/v1alpha1';
const VAP_API = 'admissionregistration.k8s.io/v1';

export interface ClusterFreezeInfo {
  reason: string;
  by: string;
  at: string;
  until: string | null;
}

export interface FreezePlace {
  kind: 'appproject' | 'namespace' | 'policy';
  context: string;
  name: string;
  ok: boolean;
  error: string | null;
}

/** Where a freeze is applied: Argo CD's AppProject and, per cluster, the managed namespaces. */
export interface FreezeTargets {
  argocd: { context: string; client: KubeClient; namespace: string; project: string };
  clusters: Array<{ context: string; client: KubeClient; namespaces: string[] }>;
}

/** The manual freeze as an Argo CD deny window: every minute, for an hour, i.e. always on until removed. */
export function freezeWindow(info: ClusterFreezeInfo): SyncWindow {
  return {
    kind: 'deny',
    schedule: '* * * * *',
    duration: '1h',
    applications: ['*'],
    manualSync: false,
    timeZone: 'UTC',
    description: `${WINDOW_MARKER} ${info.reason} (by ${info.by} at ${info.at}${info.until ? `, until ${info.until}` : ''})`.slice(0, 500),
  };
}

export function validatingAdmissionPolicy(): KObj[] {
  const nsFreeze = `has(namespaceObject.metadata.annotations) && '${FREEZE_ANNOTATION}' in namespaceObject.metadata.annotations ? namespaceObject.metadata.annotations['${FREEZE_ANNOTATION}'] : 'no details'`;
  return [
    {
      apiVersion: VAP_API,
      kind: 'ValidatingAdmissionPolicy',
      metadata: { name: POLICY_NAME, labels: { 'app.kubernetes.io/managed-by': 'vpm' } },
      spec: {
        failurePolicy: 'Fail',
        matchConstraints: {
          resourceRules: [
            { apiGroups: ['serving.knative.dev'], apiVersions: ['*'], operations: ['CREATE', 'UPDATE'], resources: ['services'] },
          ],
        },
        // Metadata-only writes (controllers adding finalizers or tracking annotations) stay allowed.
        matchConditions: [
          { name: 'creates-or-changes-spec', expression: "request.operation == 'CREATE' || object.spec != oldObject.spec" },
        ],
        validations: [
          {
            // The override must be given with this very change (a new value): one left on the object
            // by an earlier override does not let later changes through.
            expression: `has(object.metadata.annotations) && '${OVERRIDE_ANNOTATION}' in object.metadata.annotations && size(object.metadata.annotations['${OVERRIDE_ANNOTATION}']) > 0 && (request.operation == 'CREATE' || !has(oldObject.metadata.annotations) || !('${OVERRIDE_ANNOTATION}' in oldObject.metadata.annotations) || oldObject.metadata.annotations['${OVERRIDE_ANNOTATION}'] != object.metadata.annotations['${OVERRIDE_ANNOTATION}'])`,
            messageExpression: `'deploys are frozen in namespace ' + namespaceObject.metadata.name + ' by vpm freeze: ' + (${nsFreeze}) + '; to override, set the annotation ${OVERRIDE_ANNOTATION}=<reason> on the Service'`,
            // Used when the message expression cannot be evaluated.
            message: `deploys are frozen by vpm freeze (see the namespace annotation ${FREEZE_ANNOTATION}); to override, set the annotation ${OVERRIDE_ANNOTATION}=<reason>`,
            reason: 'Forbidden',
          },
        ],
      },
    } as KObj,
    {
      apiVersion: VAP_API,
      kind: 'ValidatingAdmissionPolicyBinding',
      metadata: { name: POLICY_NAME, labels: { 'app.kubernetes.io/managed-by': 'vpm' } },
      spec: {
        policyName: POLICY_NAME,
        validationActions: ['Deny'],
        matchResources: { namespaceSelector: { matchExpressions: [{ key: FROZEN_LABEL, operator: 'Exists' }] } },
      },
    } as KObj,
  ];
}

async function place(kind: FreezePlace['kind'], context: string, name: string, f: () => Promise<unknown>): Promise<FreezePlace> {
  try {
    await f();
    return { kind, context, name, ok: true, error: null };
  } catch (err) {
    return { kind, context, name, ok: false, error: (err as Error).message };
  }
}

/** Replaces vpm's windows matching `isOurs` with `add`, leaving every other window as it was. */
export async function updateProjectWindows(
  t: FreezeTargets['argocd'],
  isOurs: (w: SyncWindow) => boolean,
  add: SyncWindow[],
): Promise<void> {
  const ref = { apiVersion: ARGO_API, kind: 'AppProject', name: t.project, namespace: t.namespace };
  for (let attempt = 0; attempt < 5; attempt++) {
    const proj = await t.client.get(ref);
    if (!proj)
      throw new UsageError(`AppProject ${t.project} not found in namespace ${t.namespace} (context ${t.context})`, {
        hint: 'apply infra/argocd/project.yaml first, or set fleet.project in vpm.config.yaml',
      });
    const windows: SyncWindow[] = (proj.spec?.syncWindows ?? []).filter((w: SyncWindow) => !isOurs(w));
    try {
      // A merge patch replaces the whole list; the resourceVersion makes a concurrent change retry.
      await t.client.mergePatch(ref, { spec: { syncWindows: [...windows, ...add] } }, { resourceVersion: proj.metadata.resourceVersion });
      return;
    } catch (err) {
      if ((err as { status?: number }).status === 409) continue;
      throw err;
    }
  }
  throw new Error(`AppProject ${t.project} kept changing; its sync windows were not updated`);
}

const isManualFreezeWindow = (w: SyncWindow) => String(w.description ?? '').startsWith(WINDOW_MARKER);

export async function applyClusterFreeze(targets: FreezeTargets, info: ClusterFreezeInfo): Promise<FreezePlace[]> {
  const a = targets.argocd;
  const places: Promise<FreezePlace>[] = [
    place('appproject', a.context, `${a.namespace}/${a.project}`, () =>
      updateProjectWindows(a, isManualFreezeWindow, [freezeWindow(info)]),
    ),
  ];
  for (const c of targets.clusters) {
    const namespaces = c.namespaces.map((ns) =>
      place('namespace', c.context, ns, () =>
        c.client.apply(
          {
            apiVersion: 'v1',
            kind: 'Namespace',
            metadata: { name: ns, labels: { [FROZEN_LABEL]: 'true' }, annotations: { [FREEZE_ANNOTATION]: JSON.stringify(info) } },
          },
          { fieldManager: FIELD_MANAGER },
        ),
      ),
    );
    places.push(...namespaces);
    places.push(
      place('policy', c.context, POLICY_NAME, async () => {
        for (const o of validatingAdmissionPolicy()) await c.client.apply(o, { fieldManager: FIELD_MANAGER });
        // kube-apiserver loads a new policy asynchronously: return only once it is enforced.
        const labelled = (await Promise.all(namespaces)).find((p) => p.ok);
        if (labelled) await waitEnforced(c.client, labelled.name);
      }),
    );
  }
  return Promise.all(places);
}

/**
 * Syncs Argo CD held during the freeze resume on the controller's next look at them (up to 30 s later);
 * a refresh request (the documented `argocd.argoproj.io/refresh` annotation) makes that now.
 */
async function nudgeHeldSyncs(a: FreezeTargets['argocd']): Promise<void> {
  const apps = await a.client.list(ARGO_API, 'Application', a.namespace);
  for (const app of apps) {
    const st = (app as { status?: { operationState?: { phase?: string; message?: string } } }).status?.operationState;
    if (st?.phase !== 'Running' || !/blocked by sync window/i.test(st.message ?? '')) continue;
    await a.client.mergePatch(
      { apiVersion: ARGO_API, kind: 'Application', name: app.metadata.name, namespace: a.namespace },
      { metadata: { annotations: { 'argocd.argoproj.io/refresh': 'normal' } } },
    );
  }
}

/**
 * Dry-run creates a probe Service in a frozen namespace until the API server rejects it (policy loaded),
 * at most `timeoutMs`. Without Knative's CRD on the cluster there is nothing to hold: it returns at once.
 */
async function waitEnforced(client: KubeClient, namespace: string, timeoutMs = 15_000, enforced = true): Promise<void> {
  const probe = {
    apiVersion: 'serving.knative.dev/v1',
    kind: 'Service',
    metadata: { name: 'vpm-freeze-probe', namespace },
    spec: { template: { spec: { containers: [{ image: 'vpm.invalid/freeze-probe' }] } } },
  } as KObj;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let rejected = false;
    try {
      await client.apply(probe, { dryRun: true, fieldManager: FIELD_MANAGER });
    } catch (err) {
      const e = err as { status?: number; message?: string; reason?: string };
      if (e.status === 404) return; // no Knative Serving here
      if (!/frozen/.test(String(e.message))) throw err;
      rejected = true;
    }
    if (rejected === enforced) return;
    if (Date.now() > deadline)
      throw new Error(
        enforced
          ? `the admission policy ${POLICY_NAME} is installed but the API server did not enforce it within ${timeoutMs} ms`
          : `the admission policy ${POLICY_NAME} is deleted but the API server still enforced it after ${timeoutMs} ms`,
      );
    await new Promise((r) => setTimeout(r, 200));
  }
}

export async function removeClusterFreeze(targets: FreezeTargets): Promise<FreezePlace[]> {
  const a = targets.argocd;
  const clusterPlaces: Promise<FreezePlace>[] = [];
  for (const c of targets.clusters) {
    let lifted: string[] = [];
    const ns = place('namespace', c.context, `(every namespace labelled ${FROZEN_LABEL})`, async () => {
      const frozen = await c.client.list('v1', 'Namespace', '', FROZEN_LABEL);
      lifted = frozen.map((n) => n.metadata.name);
      // Applying the namespace with vpm-freeze's field manager and without its fields removes exactly them.
      for (const name of lifted)
        await c.client.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } }, { fieldManager: FIELD_MANAGER });
    });
    clusterPlaces.push(
      ns,
      place('policy', c.context, POLICY_NAME, async () => {
        await c.client.delete({ apiVersion: VAP_API, kind: 'ValidatingAdmissionPolicyBinding', name: POLICY_NAME });
        await c.client.delete({ apiVersion: VAP_API, kind: 'ValidatingAdmissionPolicy', name: POLICY_NAME });
        // The API server drops the policy asynchronously: wait until writes pass again.
        await ns;
        if (lifted[0]) await waitEnforced(c.client, lifted[0], 15_000, false);
      }),
    );
  }
  // Argo CD's window goes last: syncs it held resume only once the clusters accept the writes.
  const done = await Promise.all(clusterPlaces);
  const project = await place('appproject', a.context, `${a.namespace}/${a.project}`, async () => {
    await updateProjectWindows(a, isManualFreezeWindow, []);
    await nudgeHeldSyncs(a).catch(() => undefined); // best effort: the controller resumes them anyway
  });
  return [project, ...done];
}

export interface ClusterFreezeStatus {
  windows: Array<{ context: string; project: string; window: SyncWindow }>;
  namespaces: Array<{ context: string; namespace: string; freeze: ClusterFreezeInfo | null; raw: string }>;
  policies: Array<{ context: string; present: boolean }>;
  errors: Array<{ context: string; error: string }>;
}

export async function readClusterFreeze(targets: FreezeTargets): Promise<ClusterFreezeStatus> {
  const out: ClusterFreezeStatus = { windows: [], namespaces: [], policies: [], errors: [] };
  const a = targets.argocd;
  try {
    const proj = await a.client.get({ apiVersion: ARGO_API, kind: 'AppProject', name: a.project, namespace: a.namespace });
    for (const w of (proj?.spec?.syncWindows ?? []) as SyncWindow[])
      if (isManualFreezeWindow(w) || String(w.description ?? '').startsWith(SCHEDULE_MARKER))
        out.windows.push({ context: a.context, project: a.project, window: w });
  } catch (err) {
    out.errors.push({ context: a.context, error: (err as Error).message });
  }
  await Promise.all(
    targets.clusters.map(async (c) => {
      try {
        for (const n of await c.client.list('v1', 'Namespace', '', FROZEN_LABEL)) {
          const raw = n.metadata.annotations?.[FREEZE_ANNOTATION] ?? '';
          out.namespaces.push({ context: c.context, namespace: n.metadata.name, freeze: parseFreezeAnnotation(raw), raw });
        }
        const vap = await c.client.get({ apiVersion: VAP_API, kind: 'ValidatingAdmissionPolicy', name: POLICY_NAME });
        out.policies.push({ context: c.context, present: Boolean(vap) });
      } catch (err) {
        out.errors.push({ context: c.context, error: (err as Error).message });
      }
    }),
  );
  return out;
}

export function parseFreezeAnnotation(raw: string | undefined): ClusterFreezeInfo | null {
  if (!raw) return null;
  try {
    const v = JSON.parse(raw);
    return { reason: String(v.reason ?? ''), by: String(v.by ?? 'unknown'), at: String(v.at ?? ''), until: v.until ?? null };
  } catch {
    // Hand-written or damaged: still a freeze (never silently unfrozen).
    return { reason: raw, by: 'unknown', at: '', until: null };
  }
}

/**
 * Every mutating vpm command against a namespace: refuses (exit 3) when the namespace carries a vpm
 * freeze, set from any checkout, unless overridden (--force-freeze --reason, recorded by the caller).
 * A namespace that does not exist carries no freeze.
 */
export async function readNamespaceFreeze(client: KubeClient, namespace: string, now: Date): Promise<ClusterFreezeInfo | null> {
  const ns = await client.get({ apiVersion: 'v1', kind: 'Namespace', name: namespace });
  const info = parseFreezeAnnotation(ns?.metadata?.annotations?.[FREEZE_ANNOTATION]);
  if (!info) return null;
  if (info.until && Date.parse(info.until) <= now.getTime()) return null;
  return info;
}

export function clusterFrozenError(info: ClusterFreezeInfo, where: string): RefusedError {
  return new RefusedError(
    `deploys are frozen on the cluster (${where}) since ${info.at || '?'} by ${info.by}: ${info.reason}${info.until ? `; until ${info.until}` : ''}`,
    {
      hint: 'the freeze was set with `vpm freeze on` (from any checkout); wait for it to end, lift it with `vpm freeze off`, or override with --force-freeze --reason "…"',
    },
  );
}
