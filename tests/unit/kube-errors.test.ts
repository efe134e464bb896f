/**
 * How the Kubernetes adapter treats an API server that answers but is not ready (HTTP 503 while it
 * starts, 429 when it throttles): reads wait a moment and try again, and an error that remains says
 * the API server is the problem. A real kube-apiserver restart exercises this in
 * tests/reliability/fault-kube.reliability.ts; the local server here makes each answer deterministic.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../helpers/cli.ts';
import { KubeApiError, KubeClient, toKubeError } from '../../src/adapters/kube.ts';

const STARTING = { kind: 'Status', apiVersion: 'v1', status: 'Failure', message: 'the request has been made before all known HTTP paths have been installed, please try again', reason: 'ServiceUnavailable', code: 503 };

let server: Server | undefined;
afterEach(() => {
  server?.closeAllConnections();
  server?.close();
  server = undefined;
});

/** A server answering each request with the next status of `script` (the last one repeats). */
async function clientAgainst(script: number[]): Promise<{ kube: KubeClient; requests: () => number }> {
  let n = 0;
  server = createServer((req, res) => {
    if (req.url?.startsWith('/api/v1?') || req.url === '/api/v1') {
      // Discovery, which client-node reads once to find the resource's plural.
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ kind: 'APIResourceList', groupVersion: 'v1', resources: [{ name: 'configmaps', singularName: 'configmap', namespaced: true, kind: 'ConfigMap', verbs: ['get', 'list'] }] }));
      return;
    }
    const status = script[Math.min(n++, script.length - 1)];
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(status === 200 ? { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cm', namespace: 'default' } } : { ...STARTING, code: status, message: status === 503 ? STARTING.message : 'forbidden' }));
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', () => r()));
  const dir = tempDir('kube-errors');
  const kubeconfig = join(dir, 'kubeconfig');
  writeFileSync(kubeconfig, JSON.stringify({
    apiVersion: 'v1', kind: 'Config', 'current-context': 'local',
    clusters: [{ name: 'local', cluster: { server: `http://127.0.0.1:${(server!.address() as AddressInfo).port}`, 'insecure-skip-tls-verify': true } }],
    users: [{ name: 'u', user: { token: 't' } }],
    contexts: [{ name: 'local', context: { cluster: 'local', user: 'u' } }],
  }));
  return { kube: await KubeClient.connect({ kubeconfig }), requests: () => n };
}

const cm = { apiVersion: 'v1', kind: 'ConfigMap', name: 'cm' };

describe('API server not ready', () => {
  it('a 503 error names the API server as the cause and keeps the server text', () => {
    const err = toKubeError({ code: 503, body: JSON.stringify(STARTING) }, 'get Service/hello');
    expect(err.message).toBe(`get Service/hello: API server unavailable: ${STARTING.message} (HTTP 503)`);
    expect(err.retryable).toBe(true);
    expect(toKubeError({ code: 404, body: { message: 'services "x" not found' } }, 'get x').message).toBe('get x: services "x" not found (HTTP 404)');
  });

  it('get waits through a starting API server (503, 503, 200)', async () => {
    const { kube, requests } = await clientAgainst([503, 503, 200]);
    expect((await kube.get(cm))?.metadata.name).toBe('cm');
    expect(requests()).toBe(3);
  });

  it('get gives up after a few tries with a clear error', async () => {
    const { kube, requests } = await clientAgainst([503]);
    const err = await kube.get(cm).then(() => undefined, (e) => e);
    expect(err).toBeInstanceOf(KubeApiError);
    expect(err.message).toMatch(/API server unavailable: the request has been made before all known HTTP paths/);
    expect(requests()).toBe(5);
  });

  it('a refusal (403) is not retried', async () => {
    const { kube, requests } = await clientAgainst([403, 200]);
    await expect(kube.get(cm)).rejects.toThrow(/forbidden \(HTTP 403\)/);
    expect(requests()).toBe(1);
  });
});
