import type { Ctx } from '../core/context.js';
import { UsageError } from '../core/errors.js';
import { parseDuration } from './duration.js';
import { loadAnalysis, type AnalysisSpec, type Slo } from './slo.js';
import { Analysis } from './analysis.js';
import type { SloProvider } from './providers/types.js';

export interface ProviderFlags {
  provider?: string;
  prometheusUrl?: string;
  requests?: string;
  concurrency?: string;
}

/**
 * What judges a rollout (`canary start`, `release`), validated before anything is read or changed:
 * the SLO file's thresholds, named metrics and hooks, --max-holds (default the file's
 * limits.inconclusive_windows, else 3), the provider and the analysis.
 */
export async function buildGate(ctx: Ctx, flags: ProviderFlags & { slo?: string; maxHolds?: string }, intervalMs: number) {
  const config = await ctx.config();
  const { slo, metrics, limits, hooks } = await loadAnalysis(
    ctx.root,
    flags.slo === undefined ? undefined : ctx.userPath(flags.slo),
    config.canary?.slo,
    config.canary?.hooks,
  );
  const maxHolds = Number(flags.maxHolds ?? limits.inconclusive_windows ?? 3);
  if (!Number.isInteger(maxHolds) || maxHolds < 1) throw new UsageError('--max-holds must be a positive whole number');
  const provider = await buildProvider(ctx, flags, slo, intervalMs);
  const analysis = await buildAnalysis(ctx, flags, { metrics, limits });
  return { slo, hooks, maxHolds, provider, analysis };
}

/**
 * Builds the SLO provider from flags > env/config > defaults, validating before any work — the
 * window against what the provider can measure too (the Prometheus provider's scrape interval).
 */
export async function buildProvider(ctx: Ctx, flags: ProviderFlags, slo: Slo, windowMs: number): Promise<SloProvider> {
  const config = await ctx.config();
  const name = flags.provider ?? config.canary?.provider ?? 'probe';
  if (name === 'prometheus') {
    const url = prometheusUrl(flags, config.canary?.prometheus_url);
    if (!url) throw new UsageError('the prometheus provider needs --prometheus-url (or VPM_PROMETHEUS_URL / canary.prometheus_url)');
    const configured = config.canary?.prometheus_scrape_interval;
    const scrapeIntervalMs = configured === undefined ? undefined : parseDuration(String(configured), 'canary.prometheus_scrape_interval');
    const provider = await ctx.prometheus(url, { scrapeIntervalMs });
    await provider.validateWindow?.(windowMs);
    return provider;
  }
  if (name !== 'probe') throw new UsageError(`unknown provider '${name}'`, { hint: 'use probe or prometheus' });
  const maxRequests = Number(flags.requests ?? Math.max(60, slo.min_requests * 3));
  const concurrency = Number(flags.concurrency ?? 4);
  if (!Number.isInteger(maxRequests) || maxRequests < 1) throw new UsageError('--requests must be a positive whole number');
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new UsageError('--concurrency must be a positive whole number');
  const { probeProvider } = await import('./providers/probe.js');
  return probeProvider({ maxRequests, concurrency, timeoutMs: 2_000, ingressUrl: config.ingress?.url });
}

const prometheusUrl = (flags: ProviderFlags, configured: string | undefined) => flags.prometheusUrl ?? configured;

/** The named metrics of the SLO file (none → undefined); they are PromQL, so they need Prometheus whatever the provider. */
async function buildAnalysis(
  ctx: Ctx,
  flags: ProviderFlags,
  spec: Pick<AnalysisSpec, 'metrics' | 'limits'>,
): Promise<Analysis | undefined> {
  if (spec.metrics.length === 0) return undefined;
  const url = prometheusUrl(flags, (await ctx.config()).canary?.prometheus_url);
  if (!url)
    throw new UsageError(
      `the SLO file's metrics (${spec.metrics.map((m) => m.name).join(', ')}) are PromQL: they need --prometheus-url (or VPM_PROMETHEUS_URL / canary.prometheus_url)`,
    );
  return new Analysis(url, spec.metrics, spec.limits);
}
