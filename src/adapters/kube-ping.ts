/**
 * Reachability of an API server with a hard deadline: `GET /version` over a socket that is destroyed
 * when the deadline passes. (KubeClient.version() races a timer but leaves client-node's request
 * running, so a black-holed cluster would keep the process alive for the OS connect timeout; a
 * status command that promises an answer within its timeout must not.) Credentials and TLS settings
 * come from the context's own KubeConfig via applyToHTTPSOptions.
 */
import https from 'node:https';
import http from 'node:http';
import type { KubeClient } from './kube.js';
import { describeNetworkFailure } from './net-errors.js';

export interface PingResult {
  reachable: boolean;
  server: string | null;
  version: string | null;
  latency_ms: number;
  error: string | null;
}

export async function pingApiServer(client: KubeClient, timeoutMs: number): Promise<PingResult> {
  const server = client.kc.getCurrentCluster()?.server ?? null;
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  if (!server) return { reachable: false, server, version: null, latency_ms: 0, error: 'the context has no cluster server' };
  const opts: https.RequestOptions = { method: 'GET', agent: false, headers: { accept: 'application/json' } };
  try {
    await client.kc.applyToHTTPSOptions(opts);
  } catch (err) {
    return { reachable: false, server, version: null, latency_ms: elapsed(), error: `credentials: ${(err as Error).message}` };
  }
  const url = new URL('/version', server.endsWith('/') ? server : `${server}/`);
  return new Promise((resolve) => {
    let settled = false;
    const finish = (r: Omit<PingResult, 'server' | 'latency_ms'>) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ ...r, server, latency_ms: elapsed() });
    };
    const mod = url.protocol === 'http:' ? http : https;
    const req = mod.request(url, opts, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => {
        if (res.statusCode === 200) {
          let version: string | null = null;
          try {
            version = JSON.parse(body).gitVersion ?? null;
          } catch {
            /* not JSON: still reachable */
          }
          finish({ reachable: true, version, error: null });
        } else if (res.statusCode === 401 || res.statusCode === 403) {
          finish({
            reachable: false,
            version: null,
            error: `API server answered ${res.statusCode}: the context's credentials are not accepted`,
          });
        } else {
          finish({ reachable: false, version: null, error: `API server answered HTTP ${res.statusCode} to /version` });
        }
      });
    });
    const timer = setTimeout(() => {
      finish({
        reachable: false,
        version: null,
        error: `cannot reach the API server at ${server}: no answer within ${timeoutMs} ms (timeout)`,
      });
      req.destroy();
    }, timeoutMs);
    req.on('error', (e: NodeJS.ErrnoException) =>
      finish({
        reachable: false,
        version: null,
        error: `cannot reach the API server at ${server}: ${describeNetworkFailure(e)?.text ?? e.code ?? e.message}`,
      }),
    );
    req.end();
  });
}
