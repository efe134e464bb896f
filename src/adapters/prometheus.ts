/** Prometheus HTTP API client (instant queries). The only code that talks to Prometheus. */
import { OperationalError } from '../core/errors.js';

export interface PromSample {
  metric: Record<string, string>;
  value: number;
}

export async function promInstantQuery(
  baseUrl: string,
  query: string,
  opts: { time?: Date; timeoutMs?: number } = {},
): Promise<PromSample[]> {
  const url = new URL('/api/v1/query', baseUrl);
  url.searchParams.set('query', query);
  if (opts.time) url.searchParams.set('time', (opts.time.getTime() / 1000).toFixed(3));
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(opts.timeoutMs ?? 5_000) });
  } catch (err) {
    throw new OperationalError(
      `Prometheus at ${baseUrl} unreachable: ${(err as Error).cause ? String((err as { cause: Error }).cause.message) : (err as Error).message}`,
      {
        retryable: true,
        hint: 'check --prometheus-url / VPM_PROMETHEUS_URL, or use --provider probe',
      },
    );
  }
  const body = (await res.json().catch(() => ({}))) as {
    status?: string;
    error?: string;
    data?: { resultType: string; result: Array<{ metric: Record<string, string>; value: [number, string] }> };
  };
  if (!res.ok || body.status !== 'success') {
    throw new OperationalError(`Prometheus query failed (HTTP ${res.status}): ${body.error ?? 'unknown error'}: ${query}`, {
      retryable: res.status >= 500,
    });
  }
  if (body.data?.resultType !== 'vector') return [];
  return body.data.result.map((r) => ({ metric: r.metric, value: Number(r.value[1]) }));
}
