import { beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { requireTestenv, useTestenv, kubeFor, freshNamespace, restartApiServer, type TestenvInfo } from '../support/testenv.ts';
import type { Kube } from '../support/kube.ts';
import { tempDir, vpmJson, VPM_BIN } from '../helpers/cli.ts';
import { helloWithCandidate, ksvcPath, waitFor } from '../helpers/deploy.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Records every spec.traffic the KService ever had while the test runs (polling the real API server). */
function recordTraffic(kube: Kube, ns: string): { stop: () => Promise<any[][]> } {
  const seen: any[][] = [];
  let running = true;
  const loop = (async () => {
    let last = '';
    while (running) {
      const o = await kube.get(ksvcPath(ns)).catch(() => undefined);
      const t = JSON.stringify(o?.spec?.traffic ?? null);
      if (o && t !== last) {
        seen.push(o.spec.traffic);
        last = t;
      }
      await sleep(20);
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return seen;
    },
  };
}

function expectOnlyPinnedSplits(history: any[][], stable: string, candidate: string): void {
  for (const traffic of history.slice(1)) {
    expect(traffic.reduce((n: number, t: any) => n + t.percent, 0)).toBe(100);
    for (const t of traffic) {
      expect([stable, candidate]).toContain(t.revisionName);
      expect(t.latestRevision).toBeFalsy();
    }
  }
}

describe.skipIf(!requireTestenv({ prometheus: true }))('canary resilience', () => {
  let env: TestenvInfo;
  let kube: Kube;
  const run = (args: string[], cwd: string, extraEnv: Record<string, string> = {}) =>
    vpmJson(args, { cwd, env: { KUBECONFIG: env.kubeconfig, ...extraEnv }, timeoutMs: 180_000 });

  beforeAll(async () => {
    env = await useTestenv({ clusters: 1, prometheus: true });
    kube = await kubeFor(env, 'cluster-a');
  });

  it('too little traffic is inconclusive: the canary holds, says why, never promotes (exit 5)', async () => {
    const ns = await freshNamespace(kube, 'hold');
    const cwd = tempDir();
    const { stable, candidate } = await helloWithCandidate(kube, ns);
    const { result, json } = await run(
      ['canary', 'start', 'hello', '-n', ns, '--interval', '1s', '--requests', '5', '--max-holds', '2'],
      cwd,
    );
    expect(result.exitCode).toBe(5);
    expect(json.error.message).toMatch(/held at 10%/);
    expect(String(result.stderr)).toMatch(/too little traffic: 5 requests < min_requests 20/);
    const ksvc = await kube.get(ksvcPath(ns));
    expect(Object.fromEntries(ksvc.spec.traffic.map((t: any) => [t.revisionName, t.percent]))).toEqual({ [stable]: 90, [candidate]: 10 });
    const progress = JSON.parse(ksvc.metadata.annotations['vpm.dev/canary']);
    expect(progress.phase).toBe('holding');
    const evidence = JSON.parse(readFileSync(join(cwd, json.error.details.evidence), 'utf8'));
    expect(evidence.result).toBe('held');
    expect(evidence.checks.map((c: any) => c.decision)).toEqual(['inconclusive', 'inconclusive']);
    expect(evidence.checks.some((c: any) => c.decision === 'pass')).toBe(false);
  });

  it('crash safety: SIGKILL during step 2, the re-run resumes and finishes; every split sums to 100 over the two pinned revisions', async () => {
    const ns = await freshNamespace(kube, 'crash');
    const cwd = tempDir();
    const { stable, candidate } = await helloWithCandidate(kube, ns);
    const recorder = recordTraffic(kube, ns);
    const child = execa(process.execPath, [VPM_BIN, '--cwd', cwd, 'canary', 'start', 'hello', '-n', ns, '--interval', '4s'], {
      env: { KUBECONFIG: env.kubeconfig },
      reject: false,
    });
    await waitFor(
      async () => {
        const o = await kube.get(ksvcPath(ns));
        const p = JSON.parse(o.metadata.annotations?.['vpm.dev/canary'] ?? '{}');
        return p.step_index === 1 && p.phase === 'progressing';
      },
      60_000,
      'step 2',
    );
    await sleep(500);
    child.kill('SIGKILL');
    await child;
    const mid = await kube.get(ksvcPath(ns));
    expect(Object.fromEntries(mid.spec.traffic.map((t: any) => [t.revisionName, t.percent]))).toEqual({ [stable]: 50, [candidate]: 50 });

    const resumed = await run(['canary', 'start', 'hello', '-n', ns, '--interval', '1s'], cwd);
    expect(resumed.result.exitCode, String(resumed.result.stderr)).toBe(0);
    expect(resumed.json.result).toBe('promoted');
    const evidence = JSON.parse(readFileSync(join(cwd, resumed.json.evidence), 'utf8'));
    expect(evidence.resumed_from).toMatchObject({ step_index: 1 });
    expect(evidence.checks.filter((c: any) => c.decision === 'pass').map((c: any) => c.percent)).toEqual([50, 100]);
    const history = await recorder.stop();
    expectOnlyPinnedSplits(history, stable, candidate);
    expect(history.at(-1)!.find((t: any) => t.revisionName === candidate).percent).toBe(100);
  });

  it('a changed candidate mid-run aborts to stable (exit 3)', async () => {
    const ns = await freshNamespace(kube, 'changed');
    const cwd = tempDir();
    const { stable, candidate } = await helloWithCandidate(kube, ns);
    const child = execa(process.execPath, [VPM_BIN, '--cwd', cwd, 'canary', 'start', 'hello', '-n', ns, '--interval', '5s'], {
      env: { KUBECONFIG: env.kubeconfig },
      reject: false,
    });
    await waitFor(
      async () => JSON.parse((await kube.get(ksvcPath(ns))).metadata.annotations?.['vpm.dev/canary'] ?? '{}').phase === 'progressing',
      60_000,
      'canary progressing',
    );
    child.kill('SIGKILL');
    await child;
    // A third revision appears (someone deployed again).
    await kube.mergePatch(ksvcPath(ns), {
      spec: {
        template: {
          spec: {
            containers: [
              { name: 'user-container', image: 'ghcr.io/knative/helloworld-go:latest', env: [{ name: 'TARGET', value: 'third' }] },
            ],
          },
        },
      },
    });
    await waitFor(
      async () => {
        const o = await kube.get(ksvcPath(ns));
        return o.status.latestReadyRevisionName !== candidate && o.status.latestReadyRevisionName !== stable;
      },
      30_000,
      'third revision',
    );
    const { result, json } = await run(['canary', 'start', 'hello', '-n', ns, '--interval', '1s'], cwd);
    expect(result.exitCode).toBe(3);
    expect(json.error.message).toMatch(/candidate changed mid-run/);
    const ksvc = await kube.get(ksvcPath(ns));
    expect(Object.fromEntries(ksvc.spec.traffic.map((t: any) => [t.revisionName, t.percent]))).toEqual({ [stable]: 100, [candidate]: 0 });
  });

  it('kube-apiserver restarted in the middle of a canary: vpm retries with backoff and completes or aborts to stable, never an unknown split', async () => {
    const ns = await freshNamespace(kube, 'restart');
    const cwd = tempDir();
    const { stable, candidate } = await helloWithCandidate(kube, ns);
    const canary = run(['canary', 'start', 'hello', '-n', ns, '--interval', '3s'], cwd);
    await waitFor(
      async () => JSON.parse((await kube.get(ksvcPath(ns))).metadata.annotations?.['vpm.dev/canary'] ?? '{}').phase === 'progressing',
      60_000,
      'canary progressing',
    );
    await restartApiServer('cluster-a');
    const { result, json } = await canary;
    expect([0, 4], String(result.stderr)).toContain(result.exitCode);
    const fresh = await kubeFor(env, 'cluster-a');
    const ksvc = await fresh.get(ksvcPath(ns));
    const split = Object.fromEntries(ksvc.spec.traffic.map((t: any) => [t.revisionName, t.percent]));
    if (result.exitCode === 0) expect(split).toEqual({ [stable]: 0, [candidate]: 100 });
    else expect(split).toEqual({ [stable]: 100, [candidate]: 0 });
    const files = readdirSync(join(cwd, 'reports', 'canary', 'hello'));
    expect(files).toHaveLength(1);
    expect(json).toBeTruthy();
  });

  it('the Prometheus provider computes the same success rate as the probe provider within 2 points on the same traffic', async () => {
    const ns = await freshNamespace(kube, 'prom');
    const cwd = tempDir();
    const { candidate } = await helloWithCandidate(kube, ns, { 'vpm-sim/error-rate': '0.1' });
    // Pin the candidate at 100% with a tag so both providers see the same revision, then measure
    // the same window with both: the probe sends the traffic, Prometheus counts it.
    const { probeProvider } = await import('../../src/deploy/providers/probe.ts');
    const { prometheusProvider } = await import('../../src/deploy/providers/prometheus.ts');
    await kube.mergePatch(ksvcPath(ns), { spec: { traffic: [{ revisionName: candidate, percent: 100, tag: 'candidate' }] } });
    const url = await waitFor(
      async () => (await kube.get(ksvcPath(ns))).status.traffic?.find((t: any) => t.tag === 'candidate')?.url,
      20_000,
      'tag url',
    );
    const slo = { success_rate: 0.5, latency_p95_ms: 5000, min_requests: 20 };
    const target = { namespace: ns, ksvc: 'hello', revision: candidate, url };
    const probe = probeProvider({ maxRequests: 400, concurrency: 4, timeoutMs: 2000 });
    const prom = prometheusProvider({ url: env.prometheus!.url, scrapeIntervalMs: 2_000 });
    await sleep(2_500); // a scrape before the window, so increase() has a baseline sample
    const [p, q] = await Promise.all([probe.measure(target, 6_000, slo), prom.measure(target, 6_000, slo)]);
    expect(p.measurement.requests).toBeGreaterThan(100);
    expect(q.measurement.requests).toBeGreaterThan(50);
    expect(Math.abs(p.measurement.success_rate! - q.measurement.success_rate!)).toBeLessThanOrEqual(0.02);
    expect(q.evidence.query.total).toContain(`revision_name="${candidate}"`);
    void cwd;
  });
});
