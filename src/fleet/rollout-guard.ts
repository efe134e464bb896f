/**
 * `clusters sync` must not fight a release: an Application whose resources include a KService that
 * a release or canary is rolling out is refused (exit 3) unless forced with a reason.
 */
import type { KObj } from '../adapters/kube.js';
import { ksvcRef } from '../deploy/ksvc.js';
import { rolloutInProgress, type RolloutInProgress } from '../deploy/traffic-ownership.js';
import { ARGO_API, type FleetDeps, type FleetTarget } from './apps.js';

export interface BusyKsvc extends RolloutInProgress {
  app: string;
  context: string;
  namespace: string;
  ksvc: string;
}

/** The kube context an Application deploys to, when its destination names one vpm knows. */
function destinationByName(app: KObj, target: FleetTarget): string | null {
  const name = app.spec?.destination?.name as string | undefined;
  if (name === 'in-cluster') return target.argocdContext;
  return name && target.contexts.includes(name) ? name : null;
}

/**
 * KServices of the given Applications (from Argo CD's resource list) that a rollout is changing now.
 * A destination cluster that does not answer within the request timeout cannot be checked (nor
 * synced: Argo CD reports that itself); it is named in `unchecked`.
 */
export async function busyKsvcs(deps: FleetDeps, target: FleetTarget, apps: string[]): Promise<{ busy: BusyKsvc[]; unchecked: string[] }> {
  const argo = await deps.client(target.argocdContext);
  const busy: BusyKsvc[] = [];
  const unchecked = new Set<string>();
  const reachable = new Map<string, boolean>();
  for (const name of apps) {
    const app = await argo.get({ apiVersion: ARGO_API, kind: 'Application', name, namespace: target.namespace });
    if (!app) continue;
    const context = destinationByName(app, target);
    if (!context) continue;
    const resources = (app.status?.resources ?? []) as Array<{ group?: string; kind?: string; namespace?: string; name?: string }>;
    const ksvcs = resources.filter((x) => x.group === 'serving.knative.dev' && x.kind === 'Service' && x.name);
    if (!ksvcs.length) continue;
    const client = await deps.client(context);
    if (!reachable.has(context)) reachable.set(context, (await deps.ping(client, target.requestTimeoutMs)).reachable);
    if (!reachable.get(context)) {
      unchecked.add(context);
      continue;
    }
    for (const r of ksvcs) {
      const namespace = r.namespace ?? app.spec?.destination?.namespace ?? 'default';
      const ksvc = await client.get(ksvcRef(r.name!, namespace));
      const rollout = rolloutInProgress(ksvc);
      if (rollout) busy.push({ ...rollout, app: name, context, namespace, ksvc: r.name! });
    }
  }
  return { busy, unchecked: [...unchecked] };
}
