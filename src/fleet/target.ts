/** Which clusters and Applications a fleet command works on, and the clients it uses for them. */
import type { KubeClient } from '../adapters/kube.js';
import type { Ctx, KubeFlags } from '../core/context.js';
import { UsageError } from '../core/errors.js';
import { parseDuration } from '../deploy/duration.js';
import { whoAmI } from '../deploy/freeze.js';
import type { FleetDeps, FleetTarget } from './apps.js';

/** Who is asking, as Argo CD will show it in `initiatedBy.username`. */
export function vpmUsername(env: NodeJS.ProcessEnv): string {
  return `vpm/${whoAmI(env)}`;
}

function splitList(value: string, flag: string): string[] {
  const items = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (!items.length) throw new UsageError(`${flag} needs at least one name`, { hint: `e.g. ${flag} cluster-a,cluster-b` });
  return [...new Set(items)];
}

/** Flag > config (`fleet`) > default. Argo CD runs on the first cluster unless told otherwise. */
export async function resolveFleetTarget(
  ctx: Ctx,
  flags: KubeFlags & { contexts?: string; selector?: string; requestTimeout?: string },
  apps: string[],
): Promise<FleetTarget> {
  const config = await ctx.config();
  const fleet = config.fleet;
  const contexts = flags.contexts !== undefined ? splitList(flags.contexts, '--contexts') : (fleet?.contexts ?? ['cluster-a', 'cluster-b']);
  return {
    argocdContext: flags.context ?? fleet?.argocd_context ?? contexts[0],
    namespace: flags.namespace ?? fleet?.namespace ?? 'argocd',
    contexts,
    apps: apps.length ? [...new Set(apps)] : undefined,
    selector: flags.selector ?? fleet?.selector,
    requestTimeoutMs:
      flags.requestTimeout !== undefined ? parseDuration(flags.requestTimeout, '--request-timeout') : (fleet?.request_timeout_ms ?? 5_000),
  };
}

/** Real adapters: one KubeClient (one KubeConfig) per context, created once. */
export async function fleetDeps(ctx: Ctx, kubeconfig: string | undefined, namespace: string): Promise<FleetDeps> {
  const { pingApiServer } = await import('../adapters/kube-ping.js');
  const clients = new Map<string, Promise<KubeClient>>();
  return {
    client(context) {
      if (!clients.has(context)) clients.set(context, ctx.kube({ context, namespace, kubeconfig }));
      return clients.get(context)!;
    },
    ping: pingApiServer,
    now: () => ctx.now(),
  };
}
