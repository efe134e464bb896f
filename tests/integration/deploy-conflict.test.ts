import { beforeAll, describe, expect, it } from 'vitest';
import { requireTestenv, useTestenv, kubeFor, freshNamespace, type TestenvInfo } from '../support/testenv.ts';
import type { Kube } from '../support/kube.ts';
import { KubeClient, KubeApiError } from '../../src/adapters/kube.ts';
import { writeCanaryTraffic } from '../../src/deploy/canary.ts';
import { ksvcRef, splitTraffic } from '../../src/deploy/ksvc.ts';
import { helloWithCandidate, ksvcPath, progressAtHalf, racingOnce } from '../helpers/deploy.ts';

describe.skipIf(!requireTestenv())('PATCH semantics against the real API server', () => {
  let env: TestenvInfo;
  let kube: Kube;
  beforeAll(async () => {
    env = await useTestenv({ clusters: 1 });
    kube = await kubeFor(env, 'cluster-a');
  });

  it('a merge patch with a stale resourceVersion gets 409; the traffic writer re-reads and retries', async () => {
    const ns = await freshNamespace(kube, 'conflict');
    const { stable, candidate } = await helloWithCandidate(kube, ns);
    const client = await KubeClient.connect({ kubeconfig: env.kubeconfig, context: 'cluster-a', namespace: ns });

    // The raw adapter: a stale resourceVersion is refused with 409 (optimistic concurrency).
    const before = await client.mustGet(ksvcRef('hello', ns));
    await kube.mergePatch(ksvcPath(ns), { metadata: { labels: { bump: '1' } } });
    const stale = client.mergePatch(
      ksvcRef('hello', ns),
      { metadata: { labels: { x: 'y' } } },
      { resourceVersion: before.metadata.resourceVersion },
    );
    await expect(stale).rejects.toBeInstanceOf(KubeApiError);
    await expect(stale).rejects.toMatchObject({ status: 409 });

    // The traffic writer: someone else updates the KService between its read and its patch, once.
    const racing = racingOnce(client, () => kube.mergePatch(ksvcPath(ns), { metadata: { labels: { bump: '2' } } }));
    const traffic = splitTraffic(stable, candidate, 50);
    const patched = await writeCanaryTraffic(racing.client, 'hello', traffic, progressAtHalf(stable, candidate), () => undefined);
    expect(racing.calls()).toBe(2); // first attempt hit 409, the retry with a fresh resourceVersion went through
    expect(patched.spec.traffic).toEqual(traffic);
    const live = await kube.get(ksvcPath(ns));
    expect(live.metadata.labels.bump).toBe('2'); // the other writer's change was not lost
    expect(JSON.parse(live.metadata.annotations['vpm.dev/canary'])).toMatchObject({ step_index: 1, candidate });
  });

  it('server-side apply is sent as application/apply-patch+yaml with field manager vpm', async () => {
    const ns = await freshNamespace(kube, 'ssa');
    const client = await KubeClient.connect({ kubeconfig: env.kubeconfig, context: 'cluster-a', namespace: ns });
    await client.apply({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' }, data: { a: '1' } } as any);
    const cm = await kube.get(`/api/v1/namespaces/${ns}/configmaps/c`);
    expect(cm.metadata.managedFields).toEqual([expect.objectContaining({ manager: 'vpm', operation: 'Apply' })]);
  });
});
