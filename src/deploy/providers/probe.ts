/**
 * The `probe` SLO provider: vpm itself sends requests to the revision's tag URL during the window.
 * It stops early once a breach is certain (enough requests seen and the failures already exceed the
 * error budget), which is what makes detection fast.
 */
import { probeMany, summariseProbes } from '../../adapters/http.js';
import { OperationalError } from '../../core/errors.js';
import type { Slo } from '../slo.js';
import type { MeasureTarget, SloProvider } from './types.js';

export interface ProbeProviderOptions {
  /** Request cap per window. */
  maxRequests: number;
  concurrency: number;
  timeoutMs: number;
  /** config `ingress.url`: where KService URLs are sent when their domain does not resolve. */
  ingressUrl?: string;
}

export function probeProvider(opts: ProbeProviderOptions): SloProvider {
  return {
    name: 'probe',
    async measure(target: MeasureTarget, windowMs: number, slo: Slo) {
      if (!target.url)
        throw new OperationalError(`no tag URL for revision ${target.revision}: cannot probe it`, {
          hint: 'check status.traffic of the KService',
        });
      const started = Date.now();
      const budget = 1 - slo.success_rate;
      const results = await probeMany(target.url, {
        count: opts.maxRequests,
        concurrency: opts.concurrency,
        timeoutMs: opts.timeoutMs,
        ingressUrl: opts.ingressUrl,
        until: started + windowMs,
        // Spread the requests over the whole window: a pass has to hold for the window, not a burst.
        spacingMs: Math.floor((windowMs * opts.concurrency) / opts.maxRequests),
        stop: (rs) => {
          if (rs.length < slo.min_requests) return false;
          const failures = rs.filter((r) => !r.ok).length;
          return failures / Math.max(opts.maxRequests, rs.length) > budget;
        },
      });
      const summary = summariseProbes(target.url, results);
      const firstFailure =
        results
          .filter((r) => !r.ok)
          .map((r) => r.at)
          .sort((a, b) => a - b)[0] ?? null;
      return {
        measurement: {
          requests: summary.requests,
          successes: summary.successes,
          success_rate: summary.success_rate,
          p95_ms: summary.p95_ms,
        },
        evidence: {
          provider: 'probe',
          query: {
            url: target.url,
            ...(opts.ingressUrl ? { via_ingress: opts.ingressUrl } : {}),
            max_requests: opts.maxRequests,
            concurrency: opts.concurrency,
            timeout_ms: opts.timeoutMs,
          },
          raw: { ...summary, stopped_early: results.length < opts.maxRequests && Date.now() < started + windowMs },
          window_ms: Date.now() - started,
          first_failure_at: firstFailure,
        },
      };
    },
  };
}
