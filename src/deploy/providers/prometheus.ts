/**
 * The `prometheus` SLO provider: PromQL over the request metrics Knative's queue-proxy records for
 * the revision, measured over the window once Prometheus holds a scrape from after its end.
 *
 * Knative changed these metrics three times; which one a revision speaks is read from the series
 * Prometheus has for that revision (its pods run the queue-proxy of the Knative release that
 * created them, so two revisions of one namespace can differ during an upgrade):
 * - ≥ 1.19.8 / 1.20.1 / 1.21 — OpenTelemetry `kn.serving.invocation.duration` (unit s), exported as
 *   `kn_serving_invocation_duration_seconds_{bucket,count,sum}` with `k8s_namespace_name`,
 *   `kn_revision_name` and `http_response_status_code` (no status class);
 * - 1.19.0–1.19.7 and 1.20.0 — the same under the interim name `kn.queueproxy.app.duration`
 *   (knative/serving#16290 renamed it);
 * - ≤ 1.18 — OpenCensus `revision_request_count` and `revision_request_latencies` (ms) with
 *   `namespace_name`, `revision_name`, `response_code_class`; older releases and some
 *   distributions `request_count` / `request_latencies`.
 * Latency is always reported in ms; the evidence records the generation and the source unit.
 */
import { promInstantQuery, promScrapeTargets, type PromSample } from '../../adapters/prometheus.js';
import { OperationalError, UsageError } from '../../core/errors.js';
import type { MeasureTarget, SloProvider } from './types.js';

export interface Generation {
  id: 'otel' | 'otel-interim' | 'opencensus' | 'opencensus-legacy';
  knative: string;
  /** One series per pod and status code whose value is the number of requests so far. */
  requests: string;
  buckets: string;
  unit: 's' | 'ms';
  namespaceLabel: string;
  revisionLabel: string;
  /** Label matcher that keeps only 5xx answers. */
  errors: string;
  /** What the numbers of this generation cannot be trusted for. */
  caveat?: string;
}

const OTEL_LABELS = { namespaceLabel: 'k8s_namespace_name', revisionLabel: 'kn_revision_name', errors: 'http_response_status_code=~"5.."' };
const OPENCENSUS_LABELS = { namespaceLabel: 'namespace_name', revisionLabel: 'revision_name', errors: 'response_code_class="5xx"' };

/** In order of preference when a revision has series of more than one. */
export const GENERATIONS: readonly Generation[] = [
  {
    id: 'otel',
    knative: '≥ 1.19.8 (1.19.x), ≥ 1.20.1',
    requests: 'kn_serving_invocation_duration_seconds_count',
    buckets: 'kn_serving_invocation_duration_seconds_bucket',
    unit: 's',
    ...OTEL_LABELS,
  },
  {
    id: 'otel-interim',
    knative: '1.19.0–1.19.7, 1.20.0',
    requests: 'kn_queueproxy_app_duration_seconds_count',
    buckets: 'kn_queueproxy_app_duration_seconds_bucket',
    unit: 's',
    ...OTEL_LABELS,
    // request_metric.go recorded float64(latency / time.Second) until knative/serving#16358.
    caveat: 'these releases record latency in whole seconds (knative/serving#16358): a p95 under 1 s reads as about 0',
  },
  {
    id: 'opencensus',
    knative: '≤ 1.18',
    requests: 'revision_request_count',
    buckets: 'revision_request_latencies_bucket',
    unit: 'ms',
    ...OPENCENSUS_LABELS,
  },
  {
    id: 'opencensus-legacy',
    knative: 'older releases and some distributions',
    requests: 'request_count',
    buckets: 'request_latencies_bucket',
    unit: 'ms',
    ...OPENCENSUS_LABELS,
  },
];

const ENABLE_HINT =
  'enable request metrics and have Prometheus collect them: Knative ≥ 1.19 — config-observability `request-metrics-protocol: prometheus` ' +
  '(and scrape the queue-proxy) or `http/protobuf` to the OTLP receiver of Prometheus with kn.revision.name and k8s.namespace.name ' +
  'among otlp.promote_resource_attributes; Knative ≤ 1.18 — config-observability `metrics.request-metrics-backend-destination: prometheus` ' +
  'and scrape the metrics port (9091) of the queue-proxy. A service that has had no request yet has no series either: send it some first';

/** Every generation's request series, for questions asked before the revision's generation is known. */
const ANY_REQUEST_SERIES = `{__name__=~"${GENERATIONS.map((g) => g.requests).join('|')}"}`;
/** Windows shorter than this many scrape intervals hold too few samples to be measured. */
const MIN_SCRAPES_PER_WINDOW = 4;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const esc = (s: string) => s.replace(/\\/g, '\\\\').replace(/"/g, '\\"');
const seconds = (ms: number) => `${Math.round(ms) / 1000} s`;

function selector(g: Generation, t: MeasureTarget, extra?: string): string {
  return `{${[`${g.namespaceLabel}="${esc(t.namespace)}"`, `${g.revisionLabel}="${esc(t.revision)}"`, ...(extra ? [extra] : [])].join(',')}}`;
}

/**
 * How much each series grew from the window's start S to its end T, evaluated at T with D = T − S:
 * its last sample in (S, T] minus its last sample at or before S. Chosen over `increase(x[D])`,
 * which extrapolates (fractional counts) and, above all, needs two samples inside the range: a pod
 * started inside the window has no sample before it, so `increase` misses everything it counted
 * before its first scrape. Here a series without a sample at S (new pod, or a pod's first request
 * — queue-proxy creates a series on first use) counts from zero: `or` falls back to its raw value,
 * as it does for a counter that went down (a restarted container). `last_over_time` keeps pods
 * that went away inside the window.
 */
function grown(series: string, rangeMs: number): string {
  const last = `last_over_time(${series}[${rangeMs}ms])`;
  return `((${last} - (${series} offset ${rangeMs}ms)) >= 0 or ${last})`;
}

const first = (s: PromSample[]) => (s.length && Number.isFinite(s[0].value) ? s[0].value : null);

/**
 * The revision's generation from its own series; a revision without any (no request yet: the
 * series appear with the first one) borrows the generation of its namespace, so its zero is a
 * real zero. Neither → nothing measures requests here, which is an error, never a zero.
 */
async function detect(url: string, t: MeasureTarget): Promise<{ generation: Generation; jobs: string[]; revisionSeries: boolean }> {
  const found = await Promise.all(
    GENERATIONS.map(async (g) => ({
      g,
      rows: await promInstantQuery(url, `count by (${g.revisionLabel}, job) (${g.requests}{${g.namespaceLabel}="${esc(t.namespace)}"})`),
    })),
  );
  const forRevision = found.find((f) => f.rows.some((r) => r.metric[f.g.revisionLabel] === t.revision));
  if (forRevision) {
    const jobs = forRevision.rows.filter((r) => r.metric[forRevision.g.revisionLabel] === t.revision).map((r) => r.metric.job ?? '');
    return { generation: forRevision.g, jobs, revisionSeries: true };
  }
  const inNamespace = found.find((f) => f.rows.length > 0);
  if (inNamespace) return { generation: inNamespace.g, jobs: inNamespace.rows.map((r) => r.metric.job ?? ''), revisionSeries: false };
  throw new OperationalError(
    `Prometheus at ${url} has no request metrics for revision ${t.revision} in namespace ${t.namespace}, nor for any revision of that namespace: ` +
      `looked for ${GENERATIONS.map((g) => `${g.requests}{${g.namespaceLabel},${g.revisionLabel}} (Knative ${g.knative})`).join(', ')}`,
    { hint: ENABLE_HINT },
  );
}

/**
 * Requests the revision answered from `at − rangeMs` to `at`, as the queue-proxy counted them: the
 * sample count of named metrics with `min_samples` (analysis.ts), for any revision.
 */
export async function requestCount(
  url: string,
  target: MeasureTarget,
  rangeMs: number,
  at: Date,
): Promise<{ count: number; query: string }> {
  const { generation: g } = await detect(url, target);
  const query = `sum(${grown(`${g.requests}${selector(g, target)}`, rangeMs)})`;
  return { count: first(await promInstantQuery(url, query, { time: at })) ?? 0, query };
}

export function prometheusProvider(opts: { url: string; scrapeIntervalMs?: number }): SloProvider {
  let scrape: Promise<{ ms: number; source: string }> | undefined;

  /**
   * The interval of the job(s) whose targets carry the request metrics, from Prometheus's targets
   * (or `canary.prometheus_scrape_interval`). Before any request series exists, the longest of
   * all targets. Metrics that reach Prometheus without a scrape (OTLP, remote write) have no
   * interval Prometheus knows: the configured value is then required.
   */
  async function resolveScrapeInterval(): Promise<{ ms: number; source: string }> {
    if (opts.scrapeIntervalMs) return { ms: opts.scrapeIntervalMs, source: 'canary.prometheus_scrape_interval' };
    const [jobSamples, targets] = await Promise.all([
      promInstantQuery(opts.url, `group by (job) (${ANY_REQUEST_SERIES})`),
      promScrapeTargets(opts.url),
    ]);
    const jobs = jobSamples.map((s) => s.metric.job ?? '');
    if (jobs.length > 0) {
      const scraped = targets.filter((t) => jobs.includes(t.job));
      if (scraped.length === 0) {
        throw new UsageError(
          `the request metrics in Prometheus at ${opts.url} come from job ${jobs.join(', ')}, which it does not scrape (pushed over OTLP or remote write?), so the interval their samples arrive at is unknown`,
          {
            hint: 'set canary.prometheus_scrape_interval (VPM_PROMETHEUS_SCRAPE_INTERVAL) to it, e.g. config-observability request-metrics-export-interval',
          },
        );
      }
      const ms = Math.max(...scraped.map((t) => t.intervalMs));
      return { ms, source: `scrape interval of job ${[...new Set(scraped.map((t) => t.job))].join(', ')}` };
    }
    if (targets.length === 0) {
      throw new OperationalError(`Prometheus at ${opts.url} has neither Knative request metrics nor any scrape target`, {
        hint: ENABLE_HINT,
      });
    }
    return {
      ms: Math.max(...targets.map((t) => t.intervalMs)),
      source: `longest scrape interval of Prometheus's ${targets.length} targets (no request metrics yet to tell the job)`,
    };
  }
  const scrapeInterval = () => {
    scrape ??= resolveScrapeInterval().catch((err) => {
      scrape = undefined; // a failed look-up is asked again next time
      throw err;
    });
    return scrape;
  };

  /**
   * Waits until every target of the jobs has been scraped at or after `end` (the `up` series gets a
   * sample per scrape), or for metrics that are not scraped until the series themselves have a
   * sample that new; at most two scrape intervals and a second. Returns whether it saw one.
   */
  async function awaitSampleAfter(end: number, jobs: string[], series: string, intervalMs: number): Promise<boolean> {
    const jobMatcher = [...new Set(jobs)].map((j) => esc(j.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))).join('|');
    const deadline = end + 2 * intervalMs + 1_000;
    for (;;) {
      const up = first(await promInstantQuery(opts.url, `min(timestamp(up{job=~"${jobMatcher}"}))`));
      const newest = up ?? first(await promInstantQuery(opts.url, `min(timestamp(${series}))`));
      if (newest !== null && newest * 1000 >= end) return true;
      if (Date.now() >= deadline) return false;
      await sleep(Math.min(250, intervalMs / 4));
    }
  }

  return {
    name: 'prometheus',
    async validateWindow(windowMs: number) {
      const { ms, source } = await scrapeInterval();
      if (windowMs < MIN_SCRAPES_PER_WINDOW * ms) {
        throw new UsageError(
          `the measurement window ${seconds(windowMs)} is shorter than ${MIN_SCRAPES_PER_WINDOW} × the scrape interval ${seconds(ms)} (${source}) = ${seconds(MIN_SCRAPES_PER_WINDOW * ms)}: Prometheus would hold too few samples of it`,
          { hint: `use --interval ${Math.ceil((MIN_SCRAPES_PER_WINDOW * ms) / 1000)}s or longer` },
        );
      }
    },
    async preflight(target: MeasureTarget) {
      await detect(opts.url, target);
    },
    async measure(target: MeasureTarget, windowMs: number) {
      const started = Date.now();
      const interval = await scrapeInterval();
      await sleep(Math.max(0, started + windowMs - Date.now()));
      const windowEnd = Date.now();
      const { generation: g, jobs, revisionSeries } = await detect(opts.url, target);
      const sel = selector(g, target);
      const scrapedAfterWindow = await awaitSampleAfter(windowEnd, jobs, `${g.requests}${sel}`, interval.ms);
      const at = new Date();
      const rangeMs = at.getTime() - started;
      const queries = {
        total: `sum(${grown(`${g.requests}${sel}`, rangeMs)})`,
        errors: `sum(${grown(`${g.requests}${selector(g, target, g.errors)}`, rangeMs)})`,
        p95: `histogram_quantile(0.95, sum by (le) (${grown(`${g.buckets}${sel}`, rangeMs)}))`,
      };
      const [total, errors, p95] = await Promise.all(
        [queries.total, queries.errors, queries.p95].map((q) => promInstantQuery(opts.url, q, { time: at })),
      );
      const totalN = first(total) ?? 0;
      const errorsN = first(errors) ?? 0;
      if (totalN < 0 || errorsN < 0) throw new OperationalError('Prometheus returned negative counts');
      const p95Source = first(p95);
      const p95Ms = p95Source === null ? null : Math.round(p95Source * (g.unit === 's' ? 1000 : 1) * 100) / 100;
      return {
        measurement: {
          requests: Math.round(totalN),
          successes: Math.max(0, Math.round(totalN - errorsN)),
          success_rate: totalN > 0 ? Math.round(((totalN - errorsN) / totalN) * 10_000) / 10_000 : null,
          p95_ms: p95Ms,
        },
        evidence: {
          provider: 'prometheus',
          query: {
            url: opts.url,
            generation: g.id,
            knative: g.knative,
            metric_names: { requests: g.requests, buckets: g.buckets },
            latency_unit: g.unit,
            range: `${rangeMs}ms`,
            ...queries,
          },
          raw: {
            total: totalN,
            errors: errorsN,
            p95_source: p95Source,
            source_unit: g.unit,
            p95_ms: p95Ms,
            revision_series: revisionSeries,
            window_start: new Date(started).toISOString(),
            window_end: new Date(windowEnd).toISOString(),
            evaluated_at: at.toISOString(),
            scrape_interval_ms: interval.ms,
            scrape_interval_source: interval.source,
            scraped_after_window: scrapedAfterWindow,
            ...(g.caveat ? { caveat: g.caveat } : {}),
          },
          window_ms: at.getTime() - started,
          first_failure_at: errorsN > 0 ? started : null,
        },
      };
    },
  };
}
