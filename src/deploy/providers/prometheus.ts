/**
 * The `prometheus` SLO provider: PromQL over Knative's queue-proxy metrics for the revision,
 * measured over the window after it has elapsed. Metric names are version-aware: current Knative
 * exports `revision_request_count` / `revision_request_latencies`, older releases (and some
 * distributions) `request_count` / `request_latencies`; whichever the server has is used.
 */
import { promInstantQuery } from '../../adapters/prometheus.js';
import { OperationalError } from '../../core/errors.js';
import type { Slo } from '../slo.js';
import type { MeasureTarget, SloProvider } from './types.js';

const NAME_SCHEMES = [
  { count: 'revision_request_count', latencies: 'revision_request_latencies' },
  { count: 'request_count', latencies: 'request_latencies' },
] as const;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function selector(t: MeasureTarget, extra = ''): string {
  const esc = (s: string) => s.replace(/\\/g, '\\\\').replace(/"/g, '\\"');
  return `{namespace_name="${esc(t.namespace)}",revision_name="${esc(t.revision)}"${extra}}`;
}

export function prometheusProvider(opts: { url: string; scrapeIntervalMs?: number }): SloProvider {
  let scheme: (typeof NAME_SCHEMES)[number] | undefined;
  async function detectScheme(t: MeasureTarget) {
    if (scheme) return scheme;
    const found = await promInstantQuery(
      opts.url,
      `count by (__name__) ({__name__=~"${NAME_SCHEMES.map((s) => s.count).join('|')}",namespace_name="${t.namespace}"})`,
    );
    const names = new Set(found.map((s) => s.metric.__name__));
    scheme = NAME_SCHEMES.find((s) => names.has(s.count));
    return scheme ?? NAME_SCHEMES[0];
  }
  return {
    name: 'prometheus',
    async measure(target: MeasureTarget, windowMs: number, slo: Slo) {
      const started = Date.now();
      // The window has to pass (plus one scrape) before its counts are in Prometheus.
      await sleep(windowMs + (opts.scrapeIntervalMs ?? 1_000));
      const names = await detectScheme(target);
      const range = `${Math.max(2, Math.round(windowMs / 1000))}s`;
      const queries = {
        total: `sum(increase(${names.count}${selector(target)}[${range}]))`,
        errors: `sum(increase(${names.count}${selector(target, ',response_code_class="5xx"')}[${range}]))`,
        p95_ms: `histogram_quantile(0.95, sum by (le) (increase(${names.latencies}_bucket${selector(target)}[${range}])))`,
      };
      const at = new Date();
      const [total, errors, p95] = await Promise.all(Object.values(queries).map((q) => promInstantQuery(opts.url, q, { time: at })));
      const value = (s: { value: number }[]) => (s.length && Number.isFinite(s[0].value) ? s[0].value : null);
      const totalN = value(total) ?? 0;
      const errorsN = value(errors) ?? 0;
      if (totalN < 0 || errorsN < 0) throw new OperationalError('Prometheus returned negative counts');
      const requests = Math.round(totalN);
      const successes = Math.max(0, Math.round(totalN - errorsN));
      const successRate = totalN > 0 ? Math.round(((totalN - errorsN) / totalN) * 10_000) / 10_000 : null;
      const p95Value = value(p95);
      return {
        measurement: {
          requests,
          successes,
          success_rate: successRate,
          p95_ms: p95Value === null ? null : Math.round(p95Value * 100) / 100,
        },
        evidence: {
          provider: 'prometheus',
          query: { url: opts.url, metric_names: names, range, ...queries },
          raw: { total: totalN, errors: errorsN, p95_ms: p95Value, evaluated_at: at.toISOString() },
          window_ms: Date.now() - started,
          first_failure_at: errorsN > 0 ? started : null,
        },
      };
    },
  };
}
