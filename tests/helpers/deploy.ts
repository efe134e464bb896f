/** Shared set-up for the deploy-control suites: a namespace with `hello` at two revisions. */
import path from 'node:path';
import { applyFile, REPO_ROOT } from '../support/testenv.ts';
import type { Kube } from '../support/kube.ts';
import type { KubeClient } from '../../src/adapters/kube.ts';

export const HELLO_MANIFEST = path.join(REPO_ROOT, 'infra/k8s/overlays/dev/hello-ksvc.yaml');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export const ksvcPath = (ns: string, name = 'hello') => `/apis/serving.knative.dev/v1/namespaces/${ns}/services/${name}`;
export const revisionPath = (ns: string, name: string) => `/apis/serving.knative.dev/v1/namespaces/${ns}/revisions/${name}`;

export async function waitFor<T>(fn: () => Promise<T | undefined | null | false>, timeoutMs = 20_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v) return v as T;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

function readyCurrent(o: any): boolean {
  const ready = (o?.status?.conditions ?? []).find((c: any) => c.type === 'Ready');
  return ready?.status === 'True' && o.status.observedGeneration === o.metadata.generation;
}

/**
 * `hello` in `ns` with revision 00001 pinned at 100% and a candidate 00002 created with the given
 * simulator annotations (error rate, latency), ready but receiving no traffic.
 */
export async function helloWithCandidate(
  kube: Kube,
  ns: string,
  candidateAnnotations: Record<string, string> = {},
): Promise<{ stable: string; candidate: string }> {
  await applyFile(kube, HELLO_MANIFEST, { namespace: ns });
  const first = await waitFor(
    async () => {
      const o = await kube.get(ksvcPath(ns));
      return readyCurrent(o) && o.status.latestReadyRevisionName ? o : undefined;
    },
    30_000,
    'hello ready',
  );
  const stable = first.status.latestReadyRevisionName as string;
  await kube.mergePatch(ksvcPath(ns), {
    spec: {
      traffic: [{ revisionName: stable, percent: 100 }],
      template: {
        metadata: { annotations: candidateAnnotations },
        spec: {
          containers: [
            { name: 'user-container', image: 'ghcr.io/knative/helloworld-go:latest', env: [{ name: 'TARGET', value: 'candidate' }] },
          ],
        },
      },
    },
  });
  const second = await waitFor(
    async () => {
      const o = await kube.get(ksvcPath(ns));
      return readyCurrent(o) && o.status.latestReadyRevisionName !== stable ? o : undefined;
    },
    30_000,
    'candidate revision ready',
  );
  return { stable, candidate: second.status.latestReadyRevisionName as string };
}

/**
 * `client` whose first mergePatch is preceded by another writer's change (`interfere`), so that patch
 * meets a 409 on a stale resourceVersion; `calls()` counts the mergePatch attempts.
 */
export function racingOnce(client: KubeClient, interfere: () => Promise<unknown>): { client: KubeClient; calls: () => number } {
  let calls = 0;
  const racing = new Proxy(client, {
    get(target, prop, receiver) {
      if (prop === 'mergePatch') {
        return async (...args: Parameters<KubeClient['mergePatch']>) => {
          if (calls++ === 0) await interfere();
          return target.mergePatch(...args);
        };
      }
      return Reflect.get(target, prop, receiver);
    },
  });
  return { client: racing, calls: () => calls };
}

/** The progress annotation of a canary at its second step (50%), as writeCanaryTraffic takes it. */
export function progressAtHalf(stable: string, candidate: string) {
  return {
    run_id: 'r1',
    stable,
    candidate,
    steps: [10, 50, 100],
    step_index: 1,
    phase: 'progressing' as const,
    updated_at: new Date().toISOString(),
  };
}
