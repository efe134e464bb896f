/**
 * The Knative simulator survives a kube-apiserver restart in the middle of a test: its informers
 * re-list and re-watch, and it keeps reconciling (new revision, status, routing) afterwards.
 * Uses a dedicated cluster (`restart-lab`) so that restarting it does not disturb other suites.
 */
import { describe, it, expect, beforeAll } from 'vitest';
import path from 'node:path';
import {
  requireTestenv,
  useTestenv,
  kubeFor,
  freshNamespace,
  applyFile,
  restartApiServer,
  REPO_ROOT,
  type TestenvInfo,
} from '../support/testenv.ts';
import type { Kube } from '../support/kube.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitKsvc(kube: Kube, p: string, pred: (s: any) => boolean, timeoutMs = 30_000): Promise<any> {
  const deadline = Date.now() + timeoutMs;
  let last: any;
  while (Date.now() < deadline) {
    last = await kube.get(p).catch(() => undefined);
    const ready = (last?.status?.conditions ?? []).find((c: any) => c.type === 'Ready');
    if (last && ready?.status === 'True' && last.status.observedGeneration === last.metadata.generation && pred(last)) return last;
    await sleep(100);
  }
  throw new Error(`timed out: ${JSON.stringify(last?.status)}`);
}

describe.skipIf(!requireTestenv())('kube-apiserver restart', () => {
  let env: TestenvInfo;
  let kube: Kube;
  let ns: string;

  beforeAll(async () => {
    env = await useTestenv({ clusters: ['cluster-a', 'restart-lab'] });
    kube = await kubeFor(env, 'restart-lab');
    ns = await freshNamespace(kube, 'restart');
  });

  it('the simulator keeps reconciling after the API server comes back', async () => {
    await applyFile(kube, path.join(REPO_ROOT, 'infra/k8s/overlays/dev/hello-ksvc.yaml'), { namespace: ns });
    const ksvc = `/apis/serving.knative.dev/v1/namespaces/${ns}/services/hello`;
    const s1 = await waitKsvc(kube, ksvc, (s) => s.status.latestReadyRevisionName === 'hello-00001');

    const before = env.clusters['restart-lab'].apiserverPid;
    const after = await restartApiServer('restart-lab');
    expect(after.clusters['restart-lab'].apiserverPid).not.toBe(before);
    expect((await kube.get(ksvc)).metadata.uid).toBe(s1.metadata.uid); // etcd kept the data

    // The data plane never depended on the API server.
    expect((await fetch(s1.status.url)).status).toBe(200);

    // A change after the restart is reconciled: new revision, Ready, routed.
    await kube.mergePatch(ksvc, { spec: { template: { metadata: { annotations: { 'vpm-sim/latency-ms': '1' } } } } });
    const s2 = await waitKsvc(kube, ksvc, (s) => s.status.latestReadyRevisionName === 'hello-00002');
    expect(s2.status.traffic).toEqual([{ latestRevision: true, percent: 100, revisionName: 'hello-00002' }]);
    const r = await fetch(s2.status.url);
    expect(r.headers.get('x-vpm-revision')).toBe('hello-00002');

    // And a KService created after the restart becomes Ready too.
    await kube.create(`/apis/serving.knative.dev/v1/namespaces/${ns}/services`, {
      apiVersion: 'serving.knative.dev/v1',
      kind: 'Service',
      metadata: { name: 'after' },
      spec: { template: { spec: { containers: [{ image: 'example/after' }] } } },
    });
    await waitKsvc(
      kube,
      `/apis/serving.knative.dev/v1/namespaces/${ns}/services/after`,
      (s) => s.status.latestReadyRevisionName === 'after-00001',
    );
  });
});
