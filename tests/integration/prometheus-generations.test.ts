/**
 * The prometheus provider against every generation of Knative's request metrics, through real
 * Prometheus scraping recorded queue-proxy expositions (tests/fixtures/knative-metrics/) that the
 * test serves over HTTP and advances like a queue-proxy counting traffic:
 *
 * - opencensus-1.15.prom — Knative ≤ 1.18 (OpenCensus): revision_request_count /
 *   revision_request_latencies in ms; source: knative/serving knative-v1.15.2
 *   pkg/queue/request_metric.go and knative/docs docs/serving/metrics.md.
 * - opencensus-legacy.prom — the older request_count / request_latencies.
 * - otel-interim-1.19.0.prom — Knative 1.19.0–1.19.7 / 1.20.0: kn.queueproxy.app.duration (s),
 *   knative/serving knative-v1.19.0 pkg/queue/request_metric.go, renamed by knative/serving#16290.
 * - otel-1.21.prom — Knative ≥ 1.19.8 / 1.20.1 / 1.21 in the format Knative's documentation gives:
 *   https://knative.dev/docs/serving/observability/metrics/serving-metrics/ (kn.serving.invocation.duration,
 *   Float64Histogram, unit s, attribute http.response.status_code, workload attributes
 *   k8s.namespace.name and kn.revision.name) collected as
 *   https://knative.dev/docs/serving/observability/metrics/collecting-metrics/ says (Prometheus's
 *   OTLP receiver; knative-extensions/monitoring promstack-values.yaml: translationStrategy
 *   UnderscoreEscapingWithSuffixes, kn.revision.name and k8s.namespace.name promoted to labels) →
 *   kn_serving_invocation_duration_seconds_{bucket,sum,count}{k8s_namespace_name,kn_revision_name,http_response_status_code}.
 *
 * The real control plane the test environment runs is Knative 1.15.2; the newer generations are
 * covered here by format.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { startPrometheus, promQuery, type PrometheusHandle } from '../support/prometheus.ts';
import { findBinary } from '../support/testenv.ts';
import { REPO_ROOT, tempDir, vpm } from '../helpers/cli.ts';
import { prometheusProvider } from '../../src/deploy/providers/prometheus.ts';
import { CanaryRun } from '../../src/deploy/canary.ts';
import { evaluateSloGate } from '../../src/deploy/slo.ts';
import { exitCodeFor } from '../../src/cli/execute.ts';
import type { KubeClient } from '../../src/adapters/kube.ts';
import type { SloProvider } from '../../src/deploy/providers/types.ts';

const SCRAPE_S = 2;
const WINDOW_MS = 4 * SCRAPE_S * 1000;
const NAMESPACE = 'demo';
const FIXTURES = join(REPO_ROOT, 'tests', 'fixtures', 'knative-metrics');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Sample {
  name: string;
  labels: [string, string][];
  value: number;
}

/** A Prometheus text exposition whose samples can be advanced the way a queue-proxy counts requests. */
class Exposition {
  private readonly lines: (string | Sample)[];
  constructor(text: string) {
    this.lines = text
      .trimEnd()
      .split('\n')
      .map((line) => {
        const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)\{(.*)\} (\S+)$/.exec(line);
        if (!m) return line;
        const labels = [...m[2].matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((l): [string, string] => [l[1], l[2]]);
        return { name: m[1], labels, value: Number(m[3]) };
      });
  }
  private samples(): Sample[] {
    return this.lines.filter((l): l is Sample => typeof l !== 'string');
  }
  label(name: string): string {
    const found = this.samples()[0].labels.find(([k]) => k === name);
    if (!found) throw new Error(`no label ${name} in the exposition`);
    return found[1];
  }
  /** A new pod of the revision: a copy of every series of `from`, each right after its original. */
  addPod(podLabel: string, from: string, to: string): void {
    for (let i = this.lines.length - 1; i >= 0; i--) {
      const l = this.lines[i];
      if (typeof l === 'string' || !l.labels.some(([k, v]) => k === podLabel && v === from)) continue;
      this.lines.splice(i + 1, 0, {
        ...l,
        value: 0,
        labels: l.labels.map(([k, v]): [string, string] => [k, k === podLabel && v === from ? to : v]),
      });
    }
  }
  /** `n` requests answered with `code` after `latency` (in the exposition's unit) on one pod. */
  observe(f: Format, pod: string, code: number, n: number, latency: number): void {
    for (const s of this.samples()) {
      const has = (k: string, v: string) => s.labels.some(([lk, lv]) => lk === k && lv === v);
      if (!has(f.podLabel, pod) || !has(f.codeLabel, String(code))) continue;
      const le = s.labels.find(([k]) => k === 'le')?.[1];
      if (s.name === f.requests || s.name === `${f.histogram}_count`) s.value += n;
      else if (s.name === `${f.histogram}_sum`) s.value += n * latency;
      else if (s.name === `${f.histogram}_bucket` && (le === '+Inf' || Number(le) >= latency)) s.value += n;
    }
  }
  render(): string {
    return `${this.lines.map((l) => (typeof l === 'string' ? l : `${l.name}{${l.labels.map(([k, v]) => `${k}="${v}"`).join(',')}} ${l.value}`)).join('\n')}\n`;
  }
}

interface Format {
  generation: string;
  file: string;
  requests?: string;
  histogram: string;
  podLabel: string;
  codeLabel: string;
  revisionLabel: string;
  /** The value queue-proxy records for a request that took `ms`. */
  latency: (ms: number) => number;
  sourceUnit: 's' | 'ms';
}

const OPENCENSUS = {
  podLabel: 'pod_name',
  codeLabel: 'response_code',
  revisionLabel: 'revision_name',
  latency: (ms: number) => ms,
  sourceUnit: 'ms' as const,
};
const OTEL = {
  podLabel: 'k8s_pod_name',
  codeLabel: 'http_response_status_code',
  revisionLabel: 'kn_revision_name',
  sourceUnit: 's' as const,
};
const FORMATS: Format[] = [
  {
    generation: 'opencensus',
    file: 'opencensus-1.15.prom',
    requests: 'revision_request_count',
    histogram: 'revision_request_latencies',
    ...OPENCENSUS,
  },
  {
    generation: 'opencensus-legacy',
    file: 'opencensus-legacy.prom',
    requests: 'request_count',
    histogram: 'request_latencies',
    ...OPENCENSUS,
  },
  // knative-v1.19.0 pkg/queue/request_metric.go records float64(latency / time.Second): whole seconds.
  {
    generation: 'otel-interim',
    file: 'otel-interim-1.19.0.prom',
    histogram: 'kn_queueproxy_app_duration_seconds',
    ...OTEL,
    latency: (ms) => Math.floor(ms / 1000),
  },
  { generation: 'otel', file: 'otel-1.21.prom', histogram: 'kn_serving_invocation_duration_seconds', ...OTEL, latency: (ms) => ms / 1000 },
];

const hasPrometheus = Boolean(process.env.VPM_PROMETHEUS_BIN || findBinary('prometheus', ['/usr/bin/prometheus']));

describe.skipIf(!hasPrometheus && process.env.VPM_REQUIRE_TESTENV !== '1')('prometheus provider: every Knative metrics generation', () => {
  const servers: Server[] = [];
  const expositions = new Map<string, Exposition>();
  let prom: PrometheusHandle;

  beforeAll(async () => {
    const targets = [];
    for (const f of FORMATS) {
      const exposition = new Exposition(readFileSync(join(FIXTURES, f.file), 'utf8'));
      expositions.set(f.generation, exposition);
      const server = createServer((_req, res) => {
        res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
        res.end(exposition.render());
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
      servers.push(server);
      targets.push({ job: 'knative-queue-proxy', url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics` });
    }
    prom = await startPrometheus({ dir: tempDir('vpm-prom-gen-'), targets, scrapeIntervalS: SCRAPE_S });
    // Every generation scraped at least twice, so each window starts with a sample before it.
    while ((await promQuery(prom.url, 'count_over_time(up{job="knative-queue-proxy"}[1m]) >= 2')).length < FORMATS.length) await sleep(200);
  }, 60_000);

  afterAll(async () => {
    await prom?.stop();
    for (const s of servers) s.close();
  });

  it('measures each generation over the window: exact requests and 5xx (new pods included), p95 normalised to ms, generation and unit in the evidence', async () => {
    const provider = prometheusProvider({ url: prom.url });
    const slo = { success_rate: 0.8, latency_p95_ms: 300, min_requests: 20 };
    const measured = FORMATS.map(async (f) => {
      const exposition = expositions.get(f.generation)!;
      const revision = exposition.label(f.revisionLabel);
      const pod = exposition.label(f.podLabel);
      const measuring = provider.measure({ namespace: NAMESPACE, ksvc: 'hello', revision }, WINDOW_MS, slo);
      // Inside the window: 100 requests of 400 ms, 10 of them 5xx; 10 on a pod that starts now,
      // whose series Prometheus first sees inside the window.
      await sleep(1_000);
      exposition.observe(f, pod, 200, 80, f.latency(400));
      exposition.observe(f, pod, 500, 10, f.latency(400));
      exposition.addPod(f.podLabel, pod, `${pod}-new`);
      exposition.observe(f, `${pod}-new`, 200, 10, f.latency(400));
      return { f, ...(await measuring) };
    });
    for (const { f, measurement, evidence } of await Promise.all(measured)) {
      expect(evidence.query.generation, f.file).toBe(f.generation);
      expect(evidence.query.latency_unit, f.file).toBe(f.sourceUnit);
      expect(evidence.raw.source_unit, f.file).toBe(f.sourceUnit);
      expect(evidence.raw.revision_series, f.file).toBe(true);
      expect(evidence.raw.scraped_after_window, f.file).toBe(true);
      expect(evidence.raw.scrape_interval_ms, f.file).toBe(SCRAPE_S * 1000);
      expect(evidence.raw.scrape_interval_source, f.file).toContain('knative-queue-proxy');
      expect(measurement.requests, f.file).toBe(100);
      expect(measurement.successes, f.file).toBe(90);
      expect(measurement.success_rate, f.file).toBe(0.9);
      expect(evidence.raw.p95_ms, f.file).toBe(measurement.p95_ms);
    }
    const byGeneration = Object.fromEntries((await Promise.all(measured)).map((m) => [m.f.generation, m]));
    // histogram_quantile interpolates inside the bucket holding the 95th request:
    // OpenCensus (ms) 350 < 400 ≤ 400 → 350 + 50 × 0.95 = 397.5 ms.
    for (const g of ['opencensus', 'opencensus-legacy']) {
      expect(byGeneration[g].measurement.p95_ms).toBeCloseTo(397.5, 1);
      expect(byGeneration[g].evidence.raw.p95_source).toBeCloseTo(397.5, 1);
    }
    // OpenTelemetry (s) 0.25 < 0.4 ≤ 0.5 → 0.4875 s, reported as 487.5 ms: read as ms it would be
    // 0.49 and pass any latency SLO; converted, the 300 ms SLO fails.
    expect(byGeneration.otel.evidence.raw.p95_source).toBeCloseTo(0.4875, 4);
    expect(byGeneration.otel.measurement.p95_ms).toBeCloseTo(487.5, 1);
    expect(evaluateSloGate(byGeneration.otel.measurement, slo).decision).toBe('fail');
    expect(evaluateSloGate(byGeneration.opencensus.measurement, slo).decision).toBe('fail');
    expect(evaluateSloGate(byGeneration.otel.measurement, slo).reason).toContain('latency_p95_ms 487.5');
    // 1.19.0's whole seconds put 400 ms requests at 0 s: p95 0.00475 s = 4.75 ms, and the evidence says why.
    expect(byGeneration['otel-interim'].measurement.p95_ms).toBeCloseTo(4.75, 2);
    expect(byGeneration['otel-interim'].evidence.raw.caveat).toContain('whole seconds');
    expect(byGeneration.otel.evidence.raw.caveat).toBeUndefined();
  }, 60_000);

  it('a revision without series of its own (no request yet) in a namespace that has them reads as 0 requests: inconclusive, not an error', async () => {
    const provider = prometheusProvider({ url: prom.url });
    const { measurement, evidence } = await provider.measure({ namespace: NAMESPACE, ksvc: 'hello', revision: 'hello-00099' }, WINDOW_MS, {
      success_rate: 0.9,
      latency_p95_ms: 300,
      min_requests: 20,
    });
    expect(measurement).toEqual({ requests: 0, successes: 0, success_rate: null, p95_ms: null });
    expect(evidence.raw.revision_series).toBe(false);
    expect(evaluateSloGate(measurement, { success_rate: 0.9, latency_p95_ms: 300, min_requests: 20 }).decision).toBe('inconclusive');
  }, 30_000);

  it('no request metrics for the revision nor its namespace: an operational error (exit 1) naming what was looked for and how to enable it', async () => {
    const provider = prometheusProvider({ url: prom.url });
    const err = await provider
      .measure({ namespace: 'shop', ksvc: 'cart', revision: 'cart-00003' }, 100, {
        success_rate: 0.9,
        latency_p95_ms: 300,
        min_requests: 1,
      })
      .then(
        () => undefined,
        (e: unknown) => e as Error & { hint?: string },
      );
    expect(err).toBeDefined();
    expect(exitCodeFor({ error: err })).toBe(1);
    for (const name of [
      'revision_request_count',
      'request_count',
      'kn_queueproxy_app_duration_seconds_count',
      'kn_serving_invocation_duration_seconds_count',
    ]) {
      expect(err!.message).toContain(name);
    }
    expect(err!.message).toContain('revision cart-00003 in namespace shop');
    expect(err!.hint).toContain('request-metrics-protocol');
    expect(err!.hint).toContain('metrics.request-metrics-backend-destination');
  });

  it('a window shorter than 4 × the scrape interval Prometheus reports for the job is refused with both numbers (exit 2); 4 × is accepted', async () => {
    const provider = prometheusProvider({ url: prom.url });
    const err = await provider.validateWindow!(WINDOW_MS - 1_000).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(exitCodeFor({ error: err })).toBe(2);
    expect(err!.message).toContain('window 7 s');
    expect(err!.message).toContain(`scrape interval ${SCRAPE_S} s (scrape interval of job knative-queue-proxy)`);
    expect(err!.message).toContain('= 8 s');
    await expect(provider.validateWindow!(WINDOW_MS)).resolves.toBeUndefined();
    // canary.prometheus_scrape_interval overrides what Prometheus says.
    const configured = prometheusProvider({ url: prom.url, scrapeIntervalMs: 5_000 });
    await expect(configured.validateWindow!(WINDOW_MS)).rejects.toThrow(
      /scrape interval 5 s \(canary\.prometheus_scrape_interval\) = 20 s/,
    );
  });

  it('the canary refuses the short window before it reads or moves anything', async () => {
    const untouchable = new Proxy({} as KubeClient, {
      get: (_t, prop) => {
        throw new Error(`the canary touched the cluster (${String(prop)}) before validating its window`);
      },
    });
    const run = new CanaryRun(
      { kube: untouchable, provider: prometheusProvider({ url: prom.url }) as SloProvider, status: () => undefined },
      {
        ksvc: 'hello',
        steps: [10, 50, 100],
        intervalMs: 3_000,
        slo: { success_rate: 0.9, latency_p95_ms: 300, min_requests: 20 },
        settleTimeoutMs: 1_000,
        maxHolds: 1,
        runId: 'canary_test',
      },
    );
    await expect(run.run()).rejects.toMatchObject({ exitCode: 2, message: expect.stringContaining('window 3 s') });
  });

  it('vpm canary start --provider prometheus with a short --interval exits 2 with the numbers before it connects to the cluster', async () => {
    const cwd = tempDir('vpm-prom-gen-cli-');
    const r = await vpm(['canary', 'start', 'hello', '--provider', 'prometheus', '--prometheus-url', prom.url, '--interval', '5s'], {
      cwd,
      env: { KUBECONFIG: join(cwd, 'no-such-kubeconfig') },
    });
    expect(r.exitCode, String(r.stderr)).toBe(2);
    expect(r.stderr).toContain(`window 5 s is shorter than 4 × the scrape interval ${SCRAPE_S} s`);
    expect(r.stderr).toContain('--interval 8s');
  });
});
