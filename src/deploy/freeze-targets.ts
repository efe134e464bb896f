/**
 * Which clusters, namespaces and AppProject a freeze is applied to: the fleet of vpm.config.yaml
 * (`fleet`: Argo CD's context and namespace, `fleet.project`, the cluster contexts) and, on each
 * cluster, the destination namespaces of the fleet's Applications plus `freeze.namespaces`.
 */
import type { Ctx } from '../core/context.js';
import { ARGO_API, destinationContext } from '../fleet/apps.js';
import { fleetDeps, resolveFleetTarget } from '../fleet/target.js';
import type { FreezeTargets } from './cluster-freeze.js';

/** null when this repository applies freezes to its checkout only (no `fleet`, or freeze.cluster false). */
export async function resolveFreezeTargets(
  ctx: Ctx,
  opts: { local?: boolean; kubeconfig?: string; context?: string },
): Promise<FreezeTargets | null> {
  const config = await ctx.config();
  if (opts.local) return null;
  if (!(config.freeze?.cluster ?? Boolean(config.fleet))) return null;
  const target = await resolveFleetTarget(ctx, { kubeconfig: opts.kubeconfig, context: opts.context }, []);
  const deps = await fleetDeps(ctx, opts.kubeconfig, target.namespace);
  const argocdClient = await deps.client(target.argocdContext);
  const clients = new Map(await Promise.all(target.contexts.map(async (c) => [c, await deps.client(c)] as const)));
  const servers = new Map([...clients].map(([c, k]) => [c, k.kc.getCurrentCluster()?.server?.replace(/\/+$/, '') ?? null]));
  const namespaces = new Map<string, Set<string>>(target.contexts.map((c) => [c, new Set(config.freeze?.namespaces ?? [])]));
  // Unreachable Argo CD: the namespaces come from config only; applying reports the AppProject's failure.
  const apps = await argocdClient.list(ARGO_API, 'Application', target.namespace, target.selector).catch(() => []);
  for (const app of apps) {
    const context = destinationContext(app, target, servers);
    const ns = app.spec?.destination?.namespace;
    if (context && ns && namespaces.has(context)) namespaces.get(context)!.add(ns);
  }
  return {
    argocd: { context: target.argocdContext, client: argocdClient, namespace: target.namespace, project: config.fleet?.project ?? 'vpm' },
    clusters: target.contexts.map((c) => ({ context: c, client: clients.get(c)!, namespaces: [...namespaces.get(c)!].sort() })),
  };
}
