/**
 * Acceptance tests of the test environment itself (issue 5): a real kube-apiserver, the Knative
 * simulator against it, real Prometheus scraping the simulator, optimistic concurrency, and the
 * simulator surviving an API server restart.
 */
import { describe, it, expect, beforeAll } from 'vitest';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { requireTestenv, useTestenv, kubeFor, applyFile, findBinary, REPO_ROOT, type TestenvInfo } from '../support/testenv.ts';
import { KubeError, type Kube } from '../support/kube.ts';
import { promQuery } from '../support/prometheus.ts';

const KSVC = '/apis/serving.knative.dev/v1/namespaces/default/services/hello';
const HELLO = path.join(REPO_ROOT, 'infra/k8s/overlays/dev/hello-ksvc.yaml');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitReady(kube: Kube, p: string, pred: (o: any) => boolean = () => true, timeoutMs = 20_000): Promise<any> {
  const deadline = Date.now() + timeoutMs;
  let last: any;
  while (Date.now() < deadline) {
    last = await kube.get(p).catch(() => undefined);
    const ready = (last?.status?.conditions ?? []).find((c: any) => c.type === 'Ready');
    if (last && ready?.status === 'True' && last.status.observedGeneration === last.metadata.generation && pred(last)) return last;
    await sleep(50);
  }
  throw new Error(`not ready: ${p}: ${JSON.stringify(last?.status)}`);
}

describe.skipIf(!requireTestenv({ prometheus: true }))('test environment', () => {
  let env: TestenvInfo;
  let kube: Kube;

  beforeAll(async () => {
    env = await useTestenv({ clusters: 2, prometheus: true });
    kube = await kubeFor(env, 'cluster-a');
  });

  it('serves /version on both clusters, each with its own API server and credentials', async () => {
    const a = await kube.get('/version');
    expect(a.gitVersion).toMatch(/^v1\.\d+\.\d+$/);
    const b = await kubeFor(env, 'cluster-b');
    expect((await b.get('/version')).gitVersion).toBe(a.gitVersion);
    expect(env.clusters['cluster-a'].server).not.toBe(env.clusters['cluster-b'].server);
    expect(env.contexts).toEqual(expect.arrayContaining(['cluster-a', 'cluster-b', 'vpm-test']));
    const kubectl = findBinary('kubectl');
    if (kubectl) {
      const out = execFileSync(kubectl, ['--kubeconfig', env.kubeconfig, 'get', '--raw', '/version'], { encoding: 'utf8' });
      expect(JSON.parse(out).gitVersion).toBe(a.gitVersion);
    }
  });

  it('rejects a KService whose spec has the wrong types (structural schema)', async () => {
    const bad = (spec: any) =>
      kube.create('/apis/serving.knative.dev/v1/namespaces/default/services', {
        apiVersion: 'serving.knative.dev/v1',
        kind: 'Service',
        metadata: { name: 'bad' },
        spec,
      });
    await expect(bad({ template: { spec: { containers: 'nginx' } } })).rejects.toMatchObject({ status: 422 });
    await expect(
      bad({ template: { spec: { containers: [{ image: 'x' }] } }, traffic: [{ latestRevision: true, percent: 'all' }] }),
    ).rejects.toMatchObject({ status: 422 });
  });

  it('hello: Ready through the simulator, 200 over HTTP, 50/50 split observed and counted by Prometheus', async () => {
    await applyFile(kube, HELLO);
    const s1 = await waitReady(kube, KSVC, (s) => s.status.latestReadyRevisionName === 'hello-00001');
    expect(s1.status).toMatchObject({
      latestCreatedRevisionName: 'hello-00001',
      traffic: [{ latestRevision: true, percent: 100, revisionName: 'hello-00001' }],
      address: { url: 'http://hello.default.svc.cluster.local' },
    });
    const r = await fetch(s1.status.url);
    expect(r.status).toBe(200);
    expect(await r.text()).toBe('Hello vpm dev!\n');

    // New template → hello-00002; then split 50/50 by revision name, with a tag on the candidate.
    await kube.mergePatch(KSVC, {
      spec: {
        template: {
          spec: {
            containers: [{ name: 'user-container', image: 'ghcr.io/knative/helloworld-go:v2', env: [{ name: 'TARGET', value: 'v2' }] }],
          },
        },
      },
    });
    await waitReady(kube, KSVC, (s) => s.status.latestReadyRevisionName === 'hello-00002');
    await kube.mergePatch(KSVC, {
      spec: {
        traffic: [
          { revisionName: 'hello-00001', percent: 50 },
          { revisionName: 'hello-00002', percent: 50, tag: 'candidate' },
        ],
      },
    });
    const s2 = await waitReady(kube, KSVC, (s) => s.status.traffic?.length === 2);
    const tagged = s2.status.traffic.find((t: any) => t.tag === 'candidate');
    expect(tagged).toMatchObject({ revisionName: 'hello-00002', percent: 50, latestRevision: false });
    expect((await fetch(tagged.url)).headers.get('x-vpm-revision')).toBe('hello-00002');

    const counts: Record<string, number> = {};
    const N = 1000;
    for (let i = 0; i < N; i += 50) {
      await Promise.all(
        Array.from({ length: 50 }, async () => {
          const res = await fetch(s2.status.url);
          await res.text();
          expect(res.status).toBe(200);
          const rev = res.headers.get('x-vpm-revision')!;
          counts[rev] = (counts[rev] ?? 0) + 1;
        }),
      );
    }
    const share = counts['hello-00001'] / N;
    expect(share).toBeGreaterThanOrEqual(0.45);
    expect(share).toBeLessThanOrEqual(0.55);

    // Prometheus scrapes the simulator's queue-proxy metrics every second.
    const q =
      'sum by (revision_name) (revision_request_count{cluster="cluster-a",namespace_name="default",service_name="hello",response_code_class="2xx"})';
    const deadline = Date.now() + 15_000;
    let got: Record<string, number> = {};
    while (Date.now() < deadline) {
      got = Object.fromEntries((await promQuery(env.prometheus!.url, q)).map((s) => [s.metric.revision_name, s.value]));
      // hello-00001: 1 direct request + its share; hello-00002: 1 tagged request + its share
      if (got['hello-00001'] === counts['hello-00001'] + 1 && got['hello-00002'] === counts['hello-00002'] + 1) break;
      await sleep(250);
    }
    expect(got).toEqual({ 'hello-00001': counts['hello-00001'] + 1, 'hello-00002': counts['hello-00002'] + 1 });
  });

  it('error rate and latency annotations are picked up at run time', async () => {
    const rev = '/apis/serving.knative.dev/v1/namespaces/default/revisions/hello-00002';
    await kube.mergePatch(rev, { metadata: { annotations: { 'vpm-sim/error-rate': '0.5', 'vpm-sim/latency-ms': '30' } } });
    const s = await kube.get(KSVC);
    const tagUrl = s.status.traffic.find((t: any) => t.tag === 'candidate').url;
    await sleep(200);
    let errors = 0;
    const t0 = performance.now();
    for (let i = 0; i < 20; i++) if ((await fetch(tagUrl)).status >= 500) errors++;
    expect(errors).toBe(10);
    expect((performance.now() - t0) / 20).toBeGreaterThanOrEqual(30);
    await kube.mergePatch(rev, { metadata: { annotations: { 'vpm-sim/error-rate': null, 'vpm-sim/latency-ms': null } } });
  });

  it('a stale resourceVersion update gets 409 Conflict', async () => {
    const cur = await kube.get(KSVC);
    await kube.mergePatch(KSVC, { metadata: { labels: { bump: String(Date.now()) } } });
    const err = await kube.replace(KSVC, cur).catch((e) => e);
    expect(err).toBeInstanceOf(KubeError);
    expect(err.status).toBe(409);
  });
});
