/**
 * Deploy control against REAL Knative Serving 1.15.2 (tests/support/knative-real.ts): real controller,
 * webhook, autoscaler and activator, revision pods run by a real kubelet + containerd with Knative's real
 * queue-proxy beside the project's test app (tests/testenv/knative/images/testapp: ERROR_RATE and
 * LATENCY_MS from its environment), Traefik's Knative provider as the ingress, and real Prometheus
 * scraping every queue-proxy pod directly. vpm runs as users run it: the built CLI,
 * a kubeconfig, and `VPM_INGRESS_URL` (the KService domain does not resolve here, as on a kind cluster).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import { type RealKnative, requireKnative, startScrapedStack, trafficWithSeries as trafficUntilScraped } from '../support/knative-real.ts';
import { startPrometheus, promQuery, type PrometheusHandle } from '../support/prometheus.ts';
import type { Kube } from '../support/kube.ts';
import { KubeClient } from '../../src/adapters/kube.ts';
import { writeCanaryTraffic } from '../../src/deploy/canary.ts';
import { splitTraffic } from '../../src/deploy/ksvc.ts';
import { tempDir, vpm, vpmJson, VPM_BIN } from '../helpers/cli.ts';
import { ksvcPath, progressAtHalf, racingOnce, waitFor } from '../helpers/deploy.ts';

const IMAGE = 'dev.local/vpm-testapp:v1';
const SCRAPE_S = 2;

describe.skipIf(!requireKnative())('deploy control against real Knative Serving', () => {
  let stack: Awaited<ReturnType<typeof startScrapedStack>> | undefined;
  let kn: RealKnative;
  let kube: Kube;
  let prom: PrometheusHandle;
  let envDir: string;
  const vpmEnv = () => ({ KUBECONFIG: kn.kubeconfig, VPM_INGRESS_URL: kn.ingressUrl });
  const run = (args: string[], cwd: string) => vpmJson(args, { cwd, env: vpmEnv(), timeoutMs: 240_000 });

  beforeAll(async () => {
    // stack 2: stacks 0 and 1 are the fleet suite's clusters, which may run at the same time
    stack = await startScrapedStack({ index: 2, prefix: 'vpm-knative-real-', scrapeIntervalS: SCRAPE_S });
    ({ kn, prom, dir: envDir } = stack);
    kube = kn.kube;
  }, 300_000);

  afterAll(async () => {
    await stack?.stop();
  }, 120_000);

  const namespace = (prefix: string) => stack!.namespace(prefix);

  function manifest(ns: string, env: Record<string, string> = {}, traffic?: unknown[]): string {
    const file = path.join(envDir, `${ns}-${Object.keys(env).join('-') || 'base'}.yaml`);
    fs.writeFileSync(
      file,
      stringify({
        apiVersion: 'serving.knative.dev/v1',
        kind: 'Service',
        metadata: { name: 'hello', namespace: ns },
        spec: {
          template: {
            spec: { containers: [{ image: IMAGE, env: Object.entries(env).map(([name, value]) => ({ name, value })) }] },
          },
          ...(traffic ? { traffic } : {}),
        },
      }),
    );
    return file;
  }

  const ksvc = (ns: string) => kube.get(ksvcPath(ns));

  /** Users' traffic to hello, running until Prometheus holds the serving revision's request series. */
  const trafficWithSeries = (ns: string, revision: string) =>
    trafficUntilScraped(kn.ingressUrl, `hello.${ns}.example.com`, prom.url, { namespace: ns, revision });
  const weights = (o: any) => Object.fromEntries((o.spec.traffic ?? []).map((t: any) => [t.revisionName, t.percent]));

  /** hello at a first revision serving 100%, then a candidate with `env` ready at 0%. */
  async function stableAndCandidate(ns: string, cwd: string, env: Record<string, string>) {
    const first = await run(['apply', manifest(ns), '-n', ns], cwd);
    expect(first.result.exitCode, String(first.result.stderr)).toBe(0);
    const ready = await run(['ready', 'hello', '-n', ns, '--timeout', '90s'], cwd);
    expect(ready.result.exitCode, String(ready.result.stderr)).toBe(0);
    const stable = (await ksvc(ns)).status.latestReadyRevisionName as string;
    const second = await run(['apply', manifest(ns, env, [{ revisionName: stable, percent: 100 }]), '-n', ns], cwd);
    expect(second.result.exitCode, String(second.result.stderr)).toBe(0);
    const candidate = await waitFor(
      async () => {
        const o = await ksvc(ns);
        const rev = o.status?.latestReadyRevisionName;
        return rev && rev !== stable && o.status.observedGeneration === o.metadata.generation ? (rev as string) : undefined;
      },
      90_000,
      'candidate revision ready',
    );
    return { stable, candidate };
  }

  it('apply (server-side) creates a real Revision whose pod runs the app and queue-proxy; ready; sli through Traefik', async () => {
    const ns = await namespace('apply');
    const cwd = tempDir();
    const applied = await run(['apply', manifest(ns, { MESSAGE: 'real' }), '-n', ns], cwd);
    expect(applied.result.exitCode, String(applied.result.stderr)).toBe(0);
    const ready = await run(['ready', 'hello', '-n', ns, '--timeout', '90s'], cwd);
    expect(ready.result.exitCode, String(ready.result.stderr)).toBe(0);
    const o = await ksvc(ns);
    // the real controller's status, what `kubectl get ksvc` prints: URL, latest revision, Ready
    expect(o.status.url).toBe(`http://hello.${ns}.example.com`);
    expect(o.status.latestReadyRevisionName).toBe('hello-00001');
    expect(o.status.conditions.find((c: any) => c.type === 'Ready').status).toBe('True');
    // the defaulting webhook ran: it records who created the KService and names the container
    expect(o.metadata.annotations['serving.knative.dev/creator']).toBe('admin');
    expect(o.spec.template.spec.containers[0].name).toBe('user-container');
    const pods = (await kube.get(`/api/v1/namespaces/${ns}/pods`)).items as any[];
    expect(pods.length).toBe(1);
    expect(pods[0].status.phase).toBe('Running');
    expect(pods[0].spec.containers.map((c: any) => c.name).sort()).toEqual(['queue-proxy', 'user-container']);
    const sli = await run(['sli', 'hello', '--namespace', ns, '--requests', '20'], cwd);
    expect(sli.result.exitCode, String(sli.result.stderr)).toBe(0);
    expect(sli.json.summary ?? sli.json).toMatchObject({ requests: 20, successes: 20 });
    const evidence = JSON.parse(fs.readFileSync(path.join(cwd, sli.json.evidence), 'utf8'));
    expect(evidence.target).toBe(`http://hello.${ns}.example.com`);
    expect(evidence.via_ingress).toBe(kn.ingressUrl);
  });

  it('the real webhook rejects an invalid traffic split: vpm names the field (exit 1: the manifest is at fault), traffic unchanged', async () => {
    const ns = await namespace('webhook');
    const cwd = tempDir();
    const { stable } = await stableAndCandidate(ns, cwd, { MESSAGE: 'two' });
    const before = weights(await ksvc(ns));
    // --traffic: a live KService's routing is only applied from the manifest when asked (traffic ownership)
    const bad = await run(
      ['apply', manifest(ns, { MESSAGE: 'three' }, [{ revisionName: stable, percent: 90 }]), '-n', ns, '--traffic'],
      cwd,
    );
    expect(bad.result.exitCode, String(bad.result.stderr)).toBe(1);
    expect(bad.json.error.hint).toMatch(/fix the manifest/);
    expect(bad.json.error.message).toMatch(/spec\.traffic/);
    expect(bad.json.error.message).toMatch(/sum to 90, want 100/);
    expect(weights(await ksvc(ns))).toEqual(before);
  });

  it('healthy candidate: 10 → 50 → 100 through Traefik (probe provider), real status.traffic at every step', async () => {
    const ns = await namespace('canary-ok');
    const cwd = tempDir();
    const { stable, candidate } = await stableAndCandidate(ns, cwd, { MESSAGE: 'candidate' });
    const seen: number[] = [];
    const watcher = setInterval(async () => {
      const o = await ksvc(ns).catch(() => undefined);
      const t = (o?.status?.traffic ?? []).find((x: any) => x.revisionName === candidate);
      if (t && seen.at(-1) !== t.percent) seen.push(t.percent);
    }, 200);
    const { result, json } = await run(['canary', 'start', 'hello', '-n', ns, '--interval', '2s', '--provider', 'probe'], cwd);
    clearInterval(watcher);
    expect(result.exitCode, String(result.stderr)).toBe(0);
    expect(json).toMatchObject({ result: 'promoted', stable, candidate });
    // the real Route reconciled each step's weights into status.traffic
    expect(seen.filter((p) => p > 0)).toEqual(expect.arrayContaining([10, 50, 100]));
    const final = await ksvc(ns);
    expect(
      Object.fromEntries(final.status.traffic.filter((t: any) => t.revisionName).map((t: any) => [t.revisionName, t.percent])),
    ).toMatchObject({
      [candidate]: 100,
    });
    const evidence = JSON.parse(fs.readFileSync(path.join(cwd, json.evidence), 'utf8'));
    expect(evidence.checks.filter((c: any) => c.decision === 'pass').map((c: any) => c.percent)).toEqual([10, 50, 100]);
    for (const c of evidence.checks.filter((c: any) => c.decision === 'pass'))
      expect(c.query.url).toBe(`http://candidate-hello.${ns}.example.com`);
  });

  it('ERROR_RATE=0.3 candidate: aborted at 10% by the probe provider, 100% back on stable (exit 4)', async () => {
    const ns = await namespace('canary-bad');
    const cwd = tempDir();
    const { stable, candidate } = await stableAndCandidate(ns, cwd, { ERROR_RATE: '0.3' });
    const { result, json } = await run(['canary', 'start', 'hello', '-n', ns, '--interval', '2s', '--provider', 'probe'], cwd);
    expect(result.exitCode, String(result.stderr)).toBe(4);
    expect(json.error.message).toMatch(/aborted at 10%/);
    expect(weights(await ksvc(ns))).toEqual({ [stable]: 100, [candidate]: 0 });
    const evidence = JSON.parse(fs.readFileSync(path.join(cwd, json.error.details.evidence), 'utf8'));
    const failed = evidence.checks.find((c: any) => c.decision === 'fail');
    expect(failed.raw.success_rate).toBeLessThan(0.99);
    expect(evidence.detect_to_restore_ms).toBeGreaterThan(0);
    process.stderr.write(`[knative figures] probe provider: first bad request → restored ${evidence.detect_to_restore_ms} ms\n`);
  });

  it('Prometheus provider over real queue-proxy metrics: a healthy candidate is promoted with per-revision counts', async () => {
    const ns = await namespace('prom-ok');
    const cwd = tempDir();
    const { stable, candidate } = await stableAndCandidate(ns, cwd, { MESSAGE: 'prom' });
    // traffic for the windows: vpm's Prometheus provider only reads, so a load generator sends requests
    const load = await trafficWithSeries(ns, stable);
    try {
      const { result, json } = await run(
        ['canary', 'start', 'hello', '-n', ns, '--interval', `${4 * SCRAPE_S}s`, '--provider', 'prometheus', '--prometheus-url', prom.url],
        cwd,
      );
      expect(result.exitCode, String(result.stderr)).toBe(0);
      expect(json.result).toBe('promoted');
      const evidence = JSON.parse(fs.readFileSync(path.join(cwd, json.evidence), 'utf8'));
      const passed = evidence.checks.filter((c: any) => c.decision === 'pass');
      expect(passed.map((c: any) => c.percent)).toEqual([10, 50, 100]);
      // the queue-proxy's own count of the candidate's requests in each window
      for (const c of passed) {
        expect(c.query.total).toContain(`revision_name="${candidate}"`);
        expect(c.raw.total).toBeGreaterThan(0);
        expect(check(c, 'min_requests').value).toBeGreaterThanOrEqual(20);
      }
    } finally {
      load.stop();
    }
    const series = await promQuery(prom.url, `sum by (revision_name) (revision_request_count{namespace_name="${ns}"})`);
    expect(series.map((s) => s.metric.revision_name)).toContain(candidate);
  });

  it('ERROR_RATE=0.3 candidate: aborted by the Prometheus provider over real queue-proxy metrics (exit 4)', async () => {
    const ns = await namespace('prom-bad');
    const cwd = tempDir();
    const { stable, candidate } = await stableAndCandidate(ns, cwd, { ERROR_RATE: '0.3' });
    const load = await trafficWithSeries(ns, stable);
    try {
      const { result, json } = await run(
        ['canary', 'start', 'hello', '-n', ns, '--interval', `${4 * SCRAPE_S}s`, '--provider', 'prometheus', '--prometheus-url', prom.url],
        cwd,
      );
      expect(result.exitCode, String(result.stderr)).toBe(4);
      expect(weights(await ksvc(ns))).toEqual({ [stable]: 100, [candidate]: 0 });
      const evidence = JSON.parse(fs.readFileSync(path.join(cwd, json.error.details.evidence), 'utf8'));
      const failed = evidence.checks.find((c: any) => c.decision === 'fail');
      expect(check(failed, 'success_rate').value).toBeLessThan(0.99);
      expect(check(failed, 'success_rate').value).toBeGreaterThan(0.5);
      process.stderr.write(`[knative figures] prometheus provider: first bad request → restored ${evidence.detect_to_restore_ms} ms\n`);
    } finally {
      load.stop();
    }
  });

  it('LATENCY_MS=400 against an SLO p95 of 300 ms fails the Prometheus gate (latency read in the right unit)', async () => {
    const ns = await namespace('prom-slow');
    const cwd = tempDir();
    const { stable, candidate } = await stableAndCandidate(ns, cwd, { LATENCY_MS: '400' });
    const slo = path.join(cwd, 'slo.yaml');
    fs.writeFileSync(slo, stringify({ success_rate: 0.99, latency_p95_ms: 300, min_requests: 5 }));
    const load = await trafficWithSeries(ns, stable);
    try {
      const { result, json } = await run(
        [
          'canary',
          'start',
          'hello',
          '-n',
          ns,
          '--slo',
          slo,
          '--interval',
          `${4 * SCRAPE_S}s`,
          '--provider',
          'prometheus',
          '--prometheus-url',
          prom.url,
        ],
        cwd,
      );
      expect(result.exitCode, String(result.stderr)).toBe(4);
      expect(weights(await ksvc(ns))).toEqual({ [stable]: 100, [candidate]: 0 });
      const evidence = JSON.parse(fs.readFileSync(path.join(cwd, json.error.details.evidence), 'utf8'));
      const failed = evidence.checks.find((c: any) => c.decision === 'fail');
      // 400 ms of app latency read as ~400 ms, not 0.4 (seconds) nor 400,000 (microseconds)
      expect(check(failed, 'latency_p95_ms').value).toBeGreaterThanOrEqual(300);
      expect(check(failed, 'latency_p95_ms').value).toBeLessThan(2_000);
      expect(check(failed, 'latency_p95_ms').ok).toBe(false);
    } finally {
      load.stop();
    }
  });

  it('a Prometheus without queue-proxy series for the revision: clear error, exit 1, traffic untouched', async () => {
    const ns = await namespace('prom-none');
    const cwd = tempDir();
    const { stable } = await stableAndCandidate(ns, cwd, { MESSAGE: 'unscraped' });
    // a Prometheus that scrapes something (itself), just not the queue-proxies
    const empty = await startPrometheus({ dir: path.join(envDir, 'prometheus-empty'), targets: [], scrapeIntervalS: SCRAPE_S });
    await empty.setTargets([{ job: 'prometheus', url: `${empty.url}/metrics` }]);
    await waitFor(async () => (await promQuery(empty.url, 'up{job="prometheus"}')).length > 0, 30_000, 'self-scrape');
    try {
      const before = weights(await ksvc(ns));
      const { result, json } = await run(
        ['canary', 'start', 'hello', '-n', ns, '--interval', `${4 * SCRAPE_S}s`, '--provider', 'prometheus', '--prometheus-url', empty.url],
        cwd,
      );
      expect(result.exitCode, String(result.stderr)).toBe(1);
      expect(json.error.message).toMatch(/revision_request_count|kn_serving_invocation_duration_seconds/);
      expect(json.error.message).toContain(ns);
      // found out before any traffic moved
      expect(weights(await ksvc(ns))).toEqual(before);
      expect(before).toEqual({ [stable]: 100 });
    } finally {
      await empty.stop();
    }
  });

  it('a window shorter than 4 × the scrape interval Prometheus reports is refused with the numbers (exit 2), traffic untouched', async () => {
    const ns = await namespace('short-window');
    const cwd = tempDir();
    const { stable } = await stableAndCandidate(ns, cwd, { MESSAGE: 'short' });
    const load = await trafficWithSeries(ns, stable);
    try {
      const { result, json } = await run(
        ['canary', 'start', 'hello', '-n', ns, '--interval', `${SCRAPE_S}s`, '--provider', 'prometheus', '--prometheus-url', prom.url],
        cwd,
      );
      expect(result.exitCode, String(result.stderr)).toBe(2);
      expect(json.error.message).toContain(`window ${SCRAPE_S} s is shorter than 4 × the scrape interval ${SCRAPE_S} s`);
      expect(json.error.message).toContain(`= ${4 * SCRAPE_S} s`);
      expect(weights(await ksvc(ns))).toEqual({ [stable]: 100 });
    } finally {
      load.stop();
    }
  });

  it('the API server killed mid-canary: vpm rides it out and finishes (real controller reconciles after)', async () => {
    const ns = await namespace('apiserver');
    const cwd = tempDir();
    const { candidate } = await stableAndCandidate(ns, cwd, { MESSAGE: 'restart' });
    const child = spawn(process.execPath, [VPM_BIN, '--cwd', cwd, '--json', 'canary', 'start', 'hello', '-n', ns, '--interval', '3s'], {
      env: { ...process.env, ...vpmEnv() },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    const exited = new Promise<number | null>((r) => child.once('exit', r));
    await waitFor(async () => (weights(await ksvc(ns))[candidate] ?? 0) >= 10, 60_000, 'first step');
    await kn.restartApiServer(2_000);
    const code = await exited;
    expect(code, out).toBe(0);
    expect(JSON.parse(out).result).toBe('promoted');
    expect(weights(await ksvc(ns))[candidate]).toBe(100);
  });

  it('SIGKILL mid-canary: a re-run resumes from the step recorded on the KService', async () => {
    const ns = await namespace('resume');
    const cwd = tempDir();
    const { candidate } = await stableAndCandidate(ns, cwd, { MESSAGE: 'resume' });
    const child = spawn(process.execPath, [VPM_BIN, '--cwd', cwd, 'canary', 'start', 'hello', '-n', ns, '--interval', '3s'], {
      env: { ...process.env, ...vpmEnv() },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let log = '';
    child.stderr.on('data', (d) => (log += d));
    await waitFor(async () => (weights(await ksvc(ns))[candidate] ?? 0) >= 50, 90_000, 'second step').catch((err) => {
      throw new Error(`${err.message}; vpm said:\n${log}`);
    });
    child.kill('SIGKILL');
    const again = await run(['canary', 'start', 'hello', '-n', ns, '--interval', '2s'], cwd);
    expect(again.result.exitCode, String(again.result.stderr)).toBe(0);
    expect(weights(await ksvc(ns))[candidate]).toBe(100);
  });

  it('a candidate changed while the canary was down (a new template applied): the re-run aborts to stable, exit 3', async () => {
    const ns = await namespace('changed');
    const cwd = tempDir();
    const { stable, candidate } = await stableAndCandidate(ns, cwd, { MESSAGE: 'first' });
    const child = spawn(process.execPath, [VPM_BIN, '--cwd', cwd, 'canary', 'start', 'hello', '-n', ns, '--interval', '4s'], {
      env: { ...process.env, ...vpmEnv() },
      stdio: 'ignore',
    });
    await waitFor(async () => (weights(await ksvc(ns))[candidate] ?? 0) >= 10, 60_000, 'first step');
    child.kill('SIGKILL');
    // someone applies another template: the real controller creates and readies hello-00003
    await kube.mergePatch(ksvcPath(ns), {
      spec: { template: { spec: { containers: [{ image: IMAGE, env: [{ name: 'MESSAGE', value: 'other' }] }] } } },
    });
    await waitFor(async () => (await ksvc(ns)).status?.latestReadyRevisionName === 'hello-00003', 90_000, 'hello-00003 ready');
    const again = await run(['canary', 'start', 'hello', '-n', ns, '--interval', '2s'], cwd);
    expect(again.result.exitCode, String(again.result.stderr)).toBe(3);
    expect(again.json.error.message).toMatch(`candidate changed mid-run from ${candidate} to hello-00003`);
    expect(weights(await ksvc(ns))[stable]).toBe(100);
  });

  it('409 from the real API server: the controller and another writer race the traffic patch of vpm, which re-reads and retries', async () => {
    const ns = await namespace('conflict');
    const cwd = tempDir();
    const { stable, candidate } = await stableAndCandidate(ns, cwd, { MESSAGE: 'conflict' });
    const client = await KubeClient.connect({ kubeconfig: kn.kubeconfig, namespace: ns });
    const racing = racingOnce(client, () => kube.mergePatch(ksvcPath(ns), { metadata: { labels: { bump: '1' } } }));
    const traffic = splitTraffic(stable, candidate, 50);
    const patched = await writeCanaryTraffic(racing.client, 'hello', traffic, progressAtHalf(stable, candidate), () => undefined);
    expect(racing.calls()).toBe(2);
    // the real defaulting webhook adds latestRevision: false to every pinned target
    const pinned = (ts: any[]) => ts.map(({ revisionName, percent, tag }) => ({ revisionName, percent, tag }));
    expect(pinned(patched.spec.traffic)).toEqual(pinned(traffic));
    expect(patched.spec.traffic.every((t: any) => t.latestRevision === false)).toBe(true);
    const live = await ksvc(ns);
    expect(live.metadata.labels.bump).toBe('1');
    // the real Route reconciled the split the patch asked for
    await waitFor(
      async () => {
        const o = await ksvc(ns);
        return (
          o.status.observedGeneration === o.metadata.generation &&
          o.status.traffic?.find((t: any) => t.revisionName === candidate)?.percent === 50
        );
      },
      60_000,
      'status.traffic at 50%',
    );
  });

  it('guard after promotion: a breach rolls back to the previous revision (exit 4)', async () => {
    const ns = await namespace('guard');
    const cwd = tempDir();
    const { stable, candidate } = await stableAndCandidate(ns, cwd, { ERROR_RATE: '0.5' });
    // promote by hand (as if the breach appeared only after promotion), then guard it
    await kube.mergePatch(ksvcPath(ns), {
      spec: {
        traffic: [
          { revisionName: stable, percent: 0 },
          { revisionName: candidate, percent: 100, tag: 'candidate' },
        ],
      },
    });
    const r = await vpm(
      [
        '--json',
        'guard',
        'hello',
        '-n',
        ns,
        '--window',
        '20s',
        '--interval',
        '2s',
        '--revision',
        candidate,
        '--previous',
        stable,
        '--no-issue',
      ],
      { cwd, env: vpmEnv(), timeoutMs: 120_000 },
    );
    expect(r.exitCode, String(r.stderr)).toBe(4);
    expect(weights(await ksvc(ns))[stable]).toBe(100);
  });
});

const check = (c: any, name: string) => c.checks.find((x: any) => x.name === name);
