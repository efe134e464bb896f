/**
 * Issue 18 against REAL Knative Serving (tests/support/knative-real.ts, stack 3 so it never meets the
 * other suites' stacks): `vpm release` with the project's own manifest (latestRevision routing, the
 * test app's image) and the SLO file's named PromQL metrics, evaluated by real Prometheus over the
 * real queue-proxies' request metrics while a load generator sends users' traffic through Traefik.
 *
 * - a release goes 10 → 50 → 100 with a passing named metric, never ahead of its step in any observed status.traffic,
 *   and its guard window judges the metric too; `vpm guard` fails on a named metric the promoted revision breaks;
 * - a named metric that fails aborts the release (exit 4, stable 100%) although the built-in checks pass;
 * - the same metric with dry_run: true is recorded (decision fail) and the release goes through;
 * - compare: stable on a p95 latency metric fails a slower candidate and records both revisions' values.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import { type RealKnative, requireKnative, startScrapedStack, steadyRequests } from '../support/knative-real.ts';
import { promQuery, type PrometheusHandle } from '../support/prometheus.ts';
import type { Kube } from '../support/kube.ts';
import { tempDir, vpmJson } from '../helpers/cli.ts';
import { ksvcPath, waitFor } from '../helpers/deploy.ts';
import { observed, split, realHelloManifest } from '../helpers/release.ts';

const SCRAPE_S = 2;
const INTERVAL = `${4 * SCRAPE_S}s`;
/** A first deploy, a release through three windows (and a guard): minutes on a loaded machine. */
const TEST_TIMEOUT = 300_000;
/** Share of 5xx answers of a revision over the window (0 when it had none: `or vector(0)`). */
const ERROR_RATIO =
  '(sum(rate(revision_request_count{namespace_name="{{namespace}}",revision_name="{{revision}}",response_code_class="5xx"}[{{window}}])) or vector(0))' +
  ' / sum(rate(revision_request_count{namespace_name="{{namespace}}",revision_name="{{revision}}"}[{{window}}]))';
/** p95 latency (ms) of a revision over the window, from the queue-proxy's histogram. */
const P95_MS =
  'histogram_quantile(0.95, sum by (le) (rate(revision_request_latencies_bucket{namespace_name="{{namespace}}",revision_name="{{revision}}"}[{{window}}])))';

describe.skipIf(!requireKnative())('vpm release with named metrics against real Knative Serving', () => {
  let stack: Awaited<ReturnType<typeof startScrapedStack>> | undefined;
  let kn: RealKnative;
  let kube: Kube;
  let prom: PrometheusHandle;
  const run = (args: string[], cwd: string) =>
    vpmJson(args, { cwd, env: { KUBECONFIG: kn.kubeconfig, VPM_INGRESS_URL: kn.ingressUrl }, timeoutMs: 300_000 });
  const readJson = (cwd: string, rel: string) => JSON.parse(fs.readFileSync(path.join(cwd, rel), 'utf8'));

  beforeAll(async () => {
    // stack 3: stacks 0 and 1 are the fleet suite's clusters, 2 the real-Knative suite's
    stack = await startScrapedStack({ index: 3, prefix: 'vpm-release-real-', scrapeIntervalS: SCRAPE_S });
    ({ kn, prom } = stack);
    kube = kn.kube;
  }, 300_000);

  afterAll(async () => {
    await stack?.stop();
  }, 120_000);

  const namespace = (prefix: string) => stack!.namespace(prefix);

  function sloFile(cwd: string, slo: Record<string, unknown>): string {
    fs.writeFileSync(path.join(cwd, 'slo.yaml'), stringify(slo));
    return 'slo.yaml';
  }

  /**
   * First release of hello in a fresh namespace (the manifest's own traffic), then users' traffic
   * through Traefik until Prometheus holds the serving revision's request series.
   */
  async function deployed(prefix: string) {
    const ns = await namespace(prefix);
    const cwd = tempDir();
    const first = await run(['release', 'hello', '-f', realHelloManifest(cwd, ns, 'v1', {}), '--ready-timeout', '180s'], cwd);
    expect(first.result.exitCode, String(first.result.stderr)).toBe(0);
    expect(first.json).toMatchObject({ result: 'first_deploy', first_deploy: true });
    const stable = first.json.candidate as string;
    const load = steadyRequests(kn.ingressUrl, `hello.${ns}.example.com`);
    await waitFor(
      async () => (await promQuery(prom.url, `revision_request_count{namespace_name="${ns}",revision_name="${stable}"}`)).length > 0,
      60_000,
      `series of ${stable} in Prometheus`,
    );
    return { ns, cwd, stable, load };
  }

  const release = (cwd: string, file: string, slo: string, guard = '0') =>
    run(
      [
        'release',
        'hello',
        '-f',
        file,
        '--slo',
        slo,
        '--steps',
        '10,50,100',
        '--interval',
        INTERVAL,
        '--guard-window',
        guard,
        '--provider',
        'prometheus',
        '--prometheus-url',
        prom.url,
        '--ready-timeout',
        '180s',
      ],
      cwd,
    );

  it(
    'the project manifest: first release deploys, the second goes 10 → 50 → 100 with a passing named metric and never ahead of its step',
    async () => {
      const { ns, cwd, stable, load } = await deployed('rel-real');
      try {
        expect((await kube.get(ksvcPath(ns))).spec.traffic).toEqual([{ latestRevision: true, percent: 100 }]);
        const slo = sloFile(cwd, {
          min_requests: 10,
          metrics: [{ name: 'error-ratio', query: ERROR_RATIO, condition: '< 0.05', min_samples: 10 }],
        });
        const { value: second, seen } = await observed(kube, ns, () =>
          release(cwd, realHelloManifest(cwd, ns, 'v2', {}), slo, `${2 * 4 * SCRAPE_S}s`),
        );
        expect(second.result.exitCode, String(second.result.stderr)).toBe(0);
        const candidate = second.json.candidate as string;
        expect(second.json).toMatchObject({ result: 'released', stable, first_deploy: false });
        const weights: number[] = [];
        for (const { traffic, canary } of seen) {
          const w = split(traffic)[candidate] ?? 0;
          const step = canary?.candidate === candidate ? canary.steps[canary.step_index] : 0;
          expect(w, JSON.stringify({ traffic, canary })).toBeLessThanOrEqual(step);
          if (weights.at(-1) !== w) weights.push(w);
        }
        expect(weights.filter((w) => w > 0)).toEqual([10, 50, 100]);
        const record = readJson(cwd, second.json.evidence);
        expect(record.phases.map((p: any) => `${p.phase}:${p.verdict}`)).toEqual([
          'apply:applied',
          'ready:ready',
          'canary:promoted',
          'guard:ok',
        ]);
        const canary = readJson(cwd, record.phases[2].evidence);
        const passed = canary.checks.filter((c: any) => c.decision === 'pass');
        expect(passed.map((c: any) => c.percent)).toEqual([10, 50, 100]);
        for (const c of passed) {
          const [m] = c.metrics;
          expect(m).toMatchObject({ name: 'error-ratio', decision: 'pass', value: 0, condition: '< 0.05', dry_run: false });
          expect(m.query).toContain(`revision_name="${candidate}"`);
          expect(m.query).toMatch(/\[\d+ms\]/);
          expect(m.samples.candidate).toBeGreaterThanOrEqual(10);
        }
        expect(split((await kube.get(ksvcPath(ns))).status.traffic)).toMatchObject({ [candidate]: 100 });
        // the guard window judged the named metric too, on the promoted revision
        const guarded = readJson(cwd, record.phases[3].evidence);
        expect(guarded.checks.length).toBeGreaterThan(0);
        for (const c of guarded.checks)
          expect(c.metrics[0]).toMatchObject({ name: 'error-ratio', decision: 'pass', dry_run: false, value: 0 });

        // `vpm guard` with a named metric the promoted revision breaks: NG on the metric alone, traffic back on stable
        const strict = sloFile(cwd, {
          min_requests: 10,
          metrics: [{ name: 'served-fast', query: P95_MS, condition: '< 0.001', min_samples: 10 }],
        });
        const guard = await run(
          [
            'guard',
            'hello',
            '-n',
            ns,
            '--slo',
            strict,
            '--window',
            INTERVAL,
            '--interval',
            INTERVAL,
            '--provider',
            'prometheus',
            '--prometheus-url',
            prom.url,
            '--no-issue',
          ],
          cwd,
        );
        expect(guard.result.exitCode, String(guard.result.stderr)).toBe(4);
        expect(guard.json.error.message).toMatch(/guard NG on hello: metric served-fast: \S+ is not < 0\.001/);
        expect(split((await kube.get(ksvcPath(ns))).spec.traffic)).toEqual({ [stable]: 100, [candidate]: 0 });
        const ng = readJson(cwd, guard.json.error.details.evidence);
        expect(ng.checks[0].checks.every((c: any) => c.ok)).toBe(true);
        expect(ng.checks[0].metrics[0]).toMatchObject({ name: 'served-fast', decision: 'fail', condition: '< 0.001' });
        expect(ng.checks[0].metrics[0].query).toContain(`revision_name="${candidate}"`);
      } finally {
        load.stop();
      }
    },
    TEST_TIMEOUT,
  );

  it(
    'a named metric that fails aborts the release (exit 4, 100% on stable) while the built-in checks pass; its query, value and condition are in the evidence',
    async () => {
      const { ns, cwd, stable, load } = await deployed('metric-fail');
      try {
        const slo = sloFile(cwd, {
          success_rate: 0.5, // the built-in check lets ERROR_RATE=0.2 through: only the named metric catches it
          min_requests: 10,
          metrics: [{ name: 'error-ratio', query: ERROR_RATIO, condition: '< 0.05', min_samples: 10 }],
        });
        const r = await release(cwd, realHelloManifest(cwd, ns, 'bad', { ERROR_RATE: '0.2' }), slo);
        expect(r.result.exitCode, String(r.result.stderr)).toBe(4);
        const candidate = r.json.error.details.candidate as string;
        expect(r.json.error.message).toMatch(/aborted at 10%: metric error-ratio: 0\.\d+ is not < 0\.05/);
        expect(split((await kube.get(ksvcPath(ns))).spec.traffic)).toEqual({ [stable]: 100, [candidate]: 0 });
        const canary = readJson(cwd, readJson(cwd, r.json.error.details.evidence).phases[2].evidence);
        const failed = canary.checks.find((c: any) => c.decision === 'fail');
        expect(failed.checks.find((c: any) => c.name === 'success_rate').ok).toBe(true);
        const [m] = failed.metrics;
        expect(m).toMatchObject({ name: 'error-ratio', decision: 'fail', condition: '< 0.05', dry_run: false });
        expect(m.value).toBeGreaterThan(0.05);
        expect(m.value).toBeLessThan(0.5);
        expect(m.query).toContain(`revision_name="${candidate}"`);
      } finally {
        load.stop();
      }
    },
    TEST_TIMEOUT,
  );

  it(
    'the same metric with dry_run: true is evaluated and recorded (decision fail) and does not abort the release',
    async () => {
      const { ns, cwd, load } = await deployed('metric-dry');
      try {
        const slo = sloFile(cwd, {
          success_rate: 0.5,
          min_requests: 10,
          metrics: [{ name: 'error-ratio', query: ERROR_RATIO, condition: '< 0.05', min_samples: 10, dry_run: true }],
        });
        const r = await release(cwd, realHelloManifest(cwd, ns, 'bad', { ERROR_RATE: '0.2' }), slo);
        expect(r.result.exitCode, String(r.result.stderr)).toBe(0);
        expect(r.json.result).toBe('released');
        const canary = readJson(cwd, readJson(cwd, r.json.evidence).phases[2].evidence);
        expect(canary.checks.map((c: any) => `${c.percent}:${c.decision}`)).toEqual(['10:pass', '50:pass', '100:pass']);
        for (const c of canary.checks) {
          expect(c.metrics[0]).toMatchObject({ name: 'error-ratio', dry_run: true, decision: 'fail' });
          expect(c.metrics[0].value).toBeGreaterThan(0.05);
        }
      } finally {
        load.stop();
      }
    },
    TEST_TIMEOUT,
  );

  it(
    'compare: stable on p95 latency: a candidate 150 ms slower fails the difference threshold; both revisions’ values recorded',
    async () => {
      const { ns, cwd, stable, load } = await deployed('compare');
      try {
        const slo = sloFile(cwd, {
          latency_p95_ms: 5_000, // the built-in p95 check lets it through: the comparison with stable decides
          min_requests: 10,
          metrics: [{ name: 'p95-vs-stable', query: P95_MS, compare: 'stable', difference: '< 50', min_samples: 10 }],
        });
        const r = await release(cwd, realHelloManifest(cwd, ns, 'slow', { LATENCY_MS: '150' }), slo);
        expect(r.result.exitCode, String(r.result.stderr)).toBe(4);
        const candidate = r.json.error.details.candidate as string;
        expect(r.json.error.message).toMatch(/metric p95-vs-stable: difference to stable/);
        expect(split((await kube.get(ksvcPath(ns))).spec.traffic)).toEqual({ [stable]: 100, [candidate]: 0 });
        const canary = readJson(cwd, readJson(cwd, r.json.error.details.evidence).phases[2].evidence);
        const m = canary.checks.find((c: any) => c.decision === 'fail').metrics[0];
        expect(m.stable.revision).toBe(stable);
        expect(m.stable.query).toContain(`revision_name="${stable}"`);
        expect(m.stable.value).toBeLessThan(50);
        expect(m.value).toBeGreaterThanOrEqual(140);
        expect(m.comparison).toMatchObject({ kind: 'difference', condition: '< 50' });
        expect(m.comparison.value).toBeCloseTo(m.value - m.stable.value, 3);
        expect(m.samples.stable).toBeGreaterThanOrEqual(10);
      } finally {
        load.stop();
      }
    },
    TEST_TIMEOUT,
  );
});
