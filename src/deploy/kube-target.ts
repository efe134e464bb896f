import type { KubeClient } from '../adapters/kube.js';
import type { Ctx } from '../core/context.js';

export interface KubeFlags {
  context?: string;
  namespace?: string;
  kubeconfig?: string;
}

/** Flag > VPM_* env / config file (already merged by ctx.config()) > kubeconfig's own default. */
export async function connectKube(ctx: Ctx, flags: KubeFlags): Promise<KubeClient> {
  const config = await ctx.config();
  const { KubeClient } = await import('../adapters/kube.js');
  return KubeClient.connect({
    context: flags.context ?? config.kube?.context,
    namespace: flags.namespace ?? config.kube?.namespace,
    kubeconfig: flags.kubeconfig,
    env: ctx.env,
  });
}
