/**
 * HTTP probing: the only code that sends requests to services under test. Each probe records the
 * status, latency and an error class, so SLI/SLO evidence can show what actually happened.
 */
import { get as httpGet } from 'node:http';
import { get as httpsGet } from 'node:https';

type ErrorClass = '2xx' | '3xx' | '4xx' | '5xx' | 'timeout' | 'connection_refused' | 'connection_reset' | 'dns' | 'other';

export interface ProbeResult {
  at: number;
  ok: boolean;
  status: number | null;
  latency_ms: number;
  class: ErrorClass;
  error?: string;
}

function classifyError(err: unknown): ErrorClass {
  const e = err as { name?: string; code?: string; cause?: { code?: string; name?: string } };
  const code = e?.cause?.code ?? e?.code;
  if (
    e?.name === 'TimeoutError' ||
    e?.cause?.name === 'TimeoutError' ||
    code === 'UND_ERR_CONNECT_TIMEOUT' ||
    code === 'UND_ERR_HEADERS_TIMEOUT'
  )
    return 'timeout';
  if (code === 'ECONNREFUSED') return 'connection_refused';
  if (code === 'ECONNRESET' || code === 'UND_ERR_SOCKET' || code === 'EPIPE') return 'connection_reset';
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return 'dns';
  return 'other';
}

/**
 * The address a request for `url` is sent to: the URL itself, or — when an ingress is configured and the
 * URL names a host (a KService URL such as http://hello.default.example.com, whose domain a kind cluster
 * does not resolve) — the ingress, with the URL's host in the Host header, as `curl -H 'Host: …'` does.
 * URLs that already give an IP address or localhost are sent as they are.
 */
export function routeFor(url: string, ingressUrl: string | undefined): { target: string; host?: string } {
  if (!ingressUrl) return { target: url };
  const u = new URL(url);
  if (u.hostname === 'localhost' || /^[\d.]+$|^\[/.test(u.hostname)) return { target: url };
  const via = new URL(ingressUrl);
  return { target: new URL(`${u.pathname}${u.search}`, via).toString(), host: u.host };
}

/** fetch() will not send a Host header of the caller's choosing; node:http does. */
function requestVia(target: string, host: string, timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const get = target.startsWith('https:') ? httpsGet : httpGet;
    const req = get(target, { headers: { host }, timeout: timeoutMs, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error('timed out'), { name: 'TimeoutError' })));
    req.on('error', reject);
  });
}

async function probeOnce(url: string, timeoutMs: number, ingressUrl?: string): Promise<ProbeResult> {
  const at = Date.now();
  const t0 = performance.now();
  try {
    const route = routeFor(url, ingressUrl);
    let status: number;
    if (route.host) status = await requestVia(route.target, route.host, timeoutMs);
    else {
      const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), redirect: 'manual' });
      await res.arrayBuffer();
      status = res.status;
    }
    const cls = `${Math.floor(status / 100)}xx` as ErrorClass;
    return { at, ok: status >= 200 && status < 400, status, latency_ms: round(performance.now() - t0), class: cls };
  } catch (err) {
    return {
      at,
      ok: false,
      status: null,
      latency_ms: round(performance.now() - t0),
      class: classifyError(err),
      error: (err as Error)?.cause ? String((err as { cause: Error }).cause.message ?? '') : (err as Error).message,
    };
  }
}

const round = (x: number) => Math.round(x * 100) / 100;

export interface ProbeSummary {
  url: string;
  requests: number;
  successes: number;
  success_rate: number | null;
  p50_ms: number | null;
  p95_ms: number | null;
  p99_ms: number | null;
  max_ms: number | null;
  classes: Partial<Record<ErrorClass, number>>;
}

function percentile(sorted: number[], p: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

export function summariseProbes(url: string, results: ProbeResult[]): ProbeSummary {
  const latencies = results
    .filter((r) => r.status !== null)
    .map((r) => r.latency_ms)
    .sort((a, b) => a - b);
  const classes: Partial<Record<ErrorClass, number>> = {};
  for (const r of results) classes[r.class] = (classes[r.class] ?? 0) + 1;
  const successes = results.filter((r) => r.ok).length;
  return {
    url,
    requests: results.length,
    successes,
    success_rate: results.length ? round(successes / results.length) : null,
    p50_ms: percentile(latencies, 50),
    p95_ms: percentile(latencies, 95),
    p99_ms: percentile(latencies, 99),
    max_ms: latencies.length ? latencies[latencies.length - 1] : null,
    classes,
  };
}

/** Runs probes with bounded concurrency until `count` are done, `until` passes, or `stop()` says so. */
/**
 * Waits, at most `timeoutMs`, until `url` answers anything but 404. A traffic split the API reports
 * settled is not always programmed into the ingress yet (a new tag's host answers 404 for a moment on
 * ingresses that do not probe their own configuration), and those answers say nothing about the revision.
 * Returns the milliseconds waited.
 */
export async function waitUntilRouted(url: string, opts: { timeoutMs: number; ingressUrl?: string }): Promise<number> {
  const t0 = Date.now();
  while (Date.now() - t0 < opts.timeoutMs) {
    const r = await probeOnce(url, Math.min(2_000, opts.timeoutMs), opts.ingressUrl);
    if (r.status !== 404) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return Date.now() - t0;
}

export async function probeMany(
  url: string,
  opts: {
    count: number;
    concurrency?: number;
    timeoutMs?: number;
    until?: number;
    spacingMs?: number;
    stop?: (results: ProbeResult[]) => boolean;
    /** The configured ingress (config `ingress.url`), see routeFor. */
    ingressUrl?: string;
  },
): Promise<ProbeResult[]> {
  const results: ProbeResult[] = [];
  let issued = 0;
  let stopped = false;
  const lane = async () => {
    while (!stopped && issued < opts.count && (opts.until === undefined || Date.now() < opts.until)) {
      issued++;
      results.push(await probeOnce(url, opts.timeoutMs ?? 2_000, opts.ingressUrl));
      if (opts.stop?.(results)) stopped = true;
      // The pause between requests never carries a lane past the window's end.
      const pauseMs = Math.min(opts.spacingMs ?? 0, opts.until === undefined ? Number.POSITIVE_INFINITY : opts.until - Date.now());
      if (pauseMs > 0) await new Promise((r) => setTimeout(r, pauseMs));
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, opts.concurrency ?? 4) }, lane));
  return results;
}
