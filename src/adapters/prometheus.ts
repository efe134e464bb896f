/** Prometheus HTTP API client (instant queries, scrape targets). The only code that talks to Prometheus. */
import { OperationalError } from '../core/errors.js';

export interface PromSample {
  metric: Record<string, string>;
  value: number;
}

interface PromBody<T> {
  status?: string;
  error?: string;
  data?: T;
}

/** GET one API path; an unreachable server or an answer that is not `status: success` is an OperationalError. */
async function promGet<T>(baseUrl: string, path: string, params: Record<string, string>, timeoutMs: number, what: string): Promise<T> {
  const url = new URL(path, baseUrl);
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  } catch (err) {
    throw new OperationalError(
      `Prometheus at ${baseUrl} unreachable: ${(err as Error).cause ? String((err as { cause: Error }).cause.message) : (err as Error).message}`,
      {
        retryable: true,
        hint: 'check --prometheus-url / VPM_PROMETHEUS_URL, or use --provider probe',
      },
    );
  }
  const body = (await res.json().catch(() => ({}))) as PromBody<T>;
  if (!res.ok || body.status !== 'success' || body.data === undefined) {
    throw new OperationalError(`Prometheus ${what} failed (HTTP ${res.status}): ${body.error ?? 'unknown error'}`, {
      retryable: res.status >= 500,
    });
  }
  return body.data;
}

export async function promInstantQuery(
  baseUrl: string,
  query: string,
  opts: { time?: Date; timeoutMs?: number } = {},
): Promise<PromSample[]> {
  const params: Record<string, string> = { query };
  if (opts.time) params.time = (opts.time.getTime() / 1000).toFixed(3);
  const data = await promGet<
    | { resultType: 'vector'; result: Array<{ metric: Record<string, string>; value: [number, string] }> }
    | { resultType: 'scalar'; result: [number, string] }
    | { resultType: 'matrix' | 'string'; result: unknown }
  >(baseUrl, '/api/v1/query', params, opts.timeoutMs ?? 5_000, `query ${query}`);
  // A scalar (`scalar(…)`, a literal) is one unlabelled sample.
  if (data.resultType === 'scalar') return [{ metric: {}, value: Number(data.result[1]) }];
  if (data.resultType !== 'vector') return [];
  return data.result.map((r) => ({ metric: r.metric, value: Number(r.value[1]) }));
}

const PROM_UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000, y: 31_536_000_000 };

/** A Prometheus duration (`15s`, `1m30s`, `500ms`) in ms; undefined when it is not one. */
export function promDurationMs(text: string | undefined): number | undefined {
  if (!text) return undefined;
  const re = /(\d+)(ms|s|m|h|d|w|y)/gy;
  let total = 0;
  let consumed = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    total += Number(m[1]) * PROM_UNIT_MS[m[2]];
    consumed = re.lastIndex;
  }
  return consumed === text.length && consumed > 0 ? total : undefined;
}

export interface ScrapeTarget {
  /** The `job` label the target's series carry. */
  job: string;
  intervalMs: number;
}

/**
 * The active scrape targets with their scrape interval. The targets API gives `scrapeInterval`
 * (Prometheus ≥ 2.30; older ones only `__scrape_interval__` among the discovered labels); targets
 * that give neither take their scrape pool's `scrape_interval` (else the global one) from the
 * loaded configuration.
 */
export async function promScrapeTargets(baseUrl: string, timeoutMs = 5_000): Promise<ScrapeTarget[]> {
  const data = await promGet<{
    activeTargets?: Array<{
      labels?: Record<string, string>;
      discoveredLabels?: Record<string, string>;
      scrapePool?: string;
      scrapeInterval?: string;
    }>;
  }>(baseUrl, '/api/v1/targets', { state: 'active' }, timeoutMs, 'targets API');
  const targets = (data.activeTargets ?? []).map((t) => ({
    job: t.labels?.job ?? t.scrapePool ?? '',
    pool: t.scrapePool ?? '',
    intervalMs: promDurationMs(t.scrapeInterval) ?? promDurationMs(t.discoveredLabels?.__scrape_interval__),
  }));
  let fromConfig: ((pool: string) => number | undefined) | undefined;
  if (targets.some((t) => t.intervalMs === undefined)) {
    const { yaml } = await promGet<{ yaml?: string }>(baseUrl, '/api/v1/status/config', {}, timeoutMs, 'config API');
    const config = ((await import('yaml')).parse(yaml ?? '') ?? {}) as {
      global?: { scrape_interval?: string };
      scrape_configs?: Array<{ job_name?: string; scrape_interval?: string }>;
    };
    const globalMs = promDurationMs(config.global?.scrape_interval) ?? 60_000; // Prometheus's own default
    fromConfig = (pool) => promDurationMs(config.scrape_configs?.find((c) => c.job_name === pool)?.scrape_interval) ?? globalMs;
  }
  return targets.map((t) => ({ job: t.job, intervalMs: t.intervalMs ?? fromConfig?.(t.pool) ?? 60_000 }));
}
