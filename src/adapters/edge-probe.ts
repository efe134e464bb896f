/**
 * HTTP probes for edge failover. Unlike the SLI prober (adapters/http.ts, fetch with keep-alive),
 * every probe here opens a fresh connection: a reused connection could keep reaching a server the
 * edge no longer routes to, and failover timing must see the routing as it is at each instant.
 * Timestamps are epoch milliseconds (wall clock, for evidence) measured around the request.
 */
import http from 'node:http';
import https from 'node:https';

export interface EdgeProbe {
  /** Epoch ms when the request was sent. */
  sent_at: number;
  /** Epoch ms when the answer (or the failure) arrived. */
  done_at: number;
  ok: boolean;
  status: number | null;
  /** `2xx`…`5xx`, or timeout / connection_refused / connection_reset / other. */
  class: string;
  error?: string;
}

export interface EdgeProbeTarget {
  url: string;
  /** Host header to send (e.g. the Knative route's host behind the edge). */
  host?: string;
  timeoutMs: number;
}

function errorClass(err: NodeJS.ErrnoException): string {
  if (err.code === 'ETIMEDOUT' || err.message === 'probe timeout') return 'timeout';
  if (err.code === 'ECONNREFUSED') return 'connection_refused';
  if (err.code === 'ECONNRESET' || err.code === 'EPIPE') return 'connection_reset';
  return 'other';
}

/** One GET; success means a 2xx answer within the timeout. Never throws. */
export function probeEdge(target: EdgeProbeTarget): Promise<EdgeProbe> {
  const sent_at = Date.now();
  return new Promise((resolve) => {
    let settled = false;
    const finish = (p: Omit<EdgeProbe, 'sent_at' | 'done_at'>) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ sent_at, done_at: Date.now(), ...p });
    };
    let url: URL;
    try {
      url = new URL(target.url);
    } catch {
      finish({ ok: false, status: null, class: 'other', error: `invalid URL ${target.url}` });
      return;
    }
    const mod = url.protocol === 'https:' ? https : http;
    const req = mod.request(
      url,
      {
        method: 'GET',
        agent: false,
        headers: { connection: 'close', 'user-agent': 'vpm-failover-probe', ...(target.host ? { host: target.host } : {}) },
      },
      (res) => {
        res.resume();
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          finish({ ok: status >= 200 && status < 300, status, class: `${Math.floor(status / 100)}xx` });
        });
        res.on('error', (e) => finish({ ok: false, status: res.statusCode ?? null, class: errorClass(e), error: e.message }));
      },
    );
    const timer = setTimeout(() => {
      finish({ ok: false, status: null, class: 'timeout', error: `no answer within ${target.timeoutMs} ms` });
      req.destroy(new Error('probe timeout'));
    }, target.timeoutMs);
    req.on('error', (e: NodeJS.ErrnoException) => finish({ ok: false, status: null, class: errorClass(e), error: e.code ?? e.message }));
    req.end();
  });
}
