/**
 * How the Kubernetes adapter treats an API server that answers but is not ready (HTTP 503 while it
 * starts, 429 when it throttles): reads wait a moment and try again, and an error that remains says
 * the API server is the problem. A real kube-apiserver restart exercises this in
 * tests/reliability/fault-kube.reliability.ts; the local server here makes each answer deterministic.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../helpers/cli.ts';
import { findKubeconfig, isUnreachable, KubeApiError, KubeClient, KubeUnreachableError, toKubeError } from '../../src/adapters/kube.ts';
import { describeNetworkFailure } from '../../src/adapters/net-errors.ts';
import { EnvironmentError, ExitCode, VpmError } from '../../src/core/errors.ts';

const STARTING = {
  kind: 'Status',
  apiVersion: 'v1',
  status: 'Failure',
  message: 'the request has been made before all known HTTP paths have been installed, please try again',
  reason: 'ServiceUnavailable',
  code: 503,
};

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
      res.end(
        JSON.stringify({
          kind: 'APIResourceList',
          groupVersion: 'v1',
          resources: [{ name: 'configmaps', singularName: 'configmap', namespaced: true, kind: 'ConfigMap', verbs: ['get', 'list'] }],
        }),
      );
      return;
    }
    const status = script[Math.min(n++, script.length - 1)];
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify(
        status === 200
          ? { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cm', namespace: 'default' } }
          : { ...STARTING, code: status, message: status === 503 ? STARTING.message : 'forbidden' },
      ),
    );
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', () => r()));
  const dir = tempDir('kube-errors');
  const kubeconfig = join(dir, 'kubeconfig');
  writeFileSync(
    kubeconfig,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      'current-context': 'local',
      clusters: [
        {
          name: 'local',
          cluster: { server: `http://127.0.0.1:${(server!.address() as AddressInfo).port}`, 'insecure-skip-tls-verify': true },
        },
      ],
      users: [{ name: 'u', user: { token: 't' } }],
      contexts: [{ name: 'local', context: { cluster: 'local', user: 'u' } }],
    }),
  );
  return { kube: await KubeClient.connect({ kubeconfig }), requests: () => n };
}

const cm = { apiVersion: 'v1', kind: 'ConfigMap', name: 'cm' };

describe('API server not ready', () => {
  it('a 503 error names the API server as the cause and keeps the server text', () => {
    const err = toKubeError({ code: 503, body: JSON.stringify(STARTING) }, 'get Service/hello');
    expect(err.message).toBe(`get Service/hello: API server unavailable: ${STARTING.message} (HTTP 503)`);
    expect(err.retryable).toBe(true);
    expect(toKubeError({ code: 404, body: { message: 'services "x" not found' } }, 'get x').message).toBe(
      'get x: services "x" not found (HTTP 404)',
    );
  });

  it('get waits through a starting API server (503, 503, 200)', async () => {
    const { kube, requests } = await clientAgainst([503, 503, 200]);
    expect((await kube.get(cm))?.metadata.name).toBe('cm');
    expect(requests()).toBe(3);
  });

  it('get gives up after a few tries with a clear error', async () => {
    const { kube, requests } = await clientAgainst([503]);
    const err = await kube.get(cm).then(
      () => undefined,
      (e) => e,
    );
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

/** What undici's fetch throws when no connection is made: TypeError('fetch failed') caused by the socket error. */
function fetchFailed(code: string, message = `connect ${code} 127.0.0.1:1`): TypeError {
  return new TypeError('Failed to fetch resource metadata for v1/ConfigMap: fetch failed', {
    cause: Object.assign(new Error(message), { code }),
  });
}

const endpoint = { server: 'https://10.0.0.1:6443', context: 'prod' };

describe('connection failures are classified, not blamed on the request', () => {
  it.each([
    ['ECONNREFUSED', 'connection refused (ECONNREFUSED)'],
    ['ENOTFOUND', 'host name not found in DNS (ENOTFOUND)'],
    ['EAI_AGAIN', 'DNS lookup failed (temporary) (EAI_AGAIN)'],
    ['ETIMEDOUT', 'connection timed out (ETIMEDOUT)'],
    ['UND_ERR_CONNECT_TIMEOUT', 'connection timed out (UND_ERR_CONNECT_TIMEOUT)'],
    ['ECONNRESET', 'connection reset (ECONNRESET)'],
    ['EHOSTUNREACH', 'host unreachable (EHOSTUNREACH)'],
  ])('%s → "cannot reach the API server at URL for context C: %s" (exit 1, retryable)', (code, text) => {
    const err = toKubeError(fetchFailed(code), 'get ConfigMap/cm', endpoint);
    expect(err).toBeInstanceOf(KubeUnreachableError);
    expect(err.message).toBe(`cannot reach the API server at https://10.0.0.1:6443 for context prod: ${text}`);
    expect(err.exitCode).toBe(ExitCode.failure);
    expect(err.retryable).toBe(true);
    expect(err.status).toBe(0);
    expect(isUnreachable(err)).toBe(true);
    expect(err.hint).toMatch(/kubectl --context prod cluster-info$/);
    expect(err.message + err.hint).not.toMatch(/manifest|bug in vpm/);
  });

  it.each([
    [
      'DEPTH_ZERO_SELF_SIGNED_CERT',
      'self-signed certificate; if the root CA is installed locally, try running Node.js with --use-system-ca',
      'TLS failed: self-signed certificate (DEPTH_ZERO_SELF_SIGNED_CERT)',
    ],
    [
      'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
      'unable to verify the first certificate',
      'TLS failed: unable to verify the first certificate (UNABLE_TO_VERIFY_LEAF_SIGNATURE)',
    ],
    ['CERT_HAS_EXPIRED', 'certificate has expired', 'TLS failed: certificate has expired (CERT_HAS_EXPIRED)'],
    [
      'ERR_TLS_CERT_ALTNAME_INVALID',
      "Hostname/IP does not match certificate's altnames",
      "TLS failed: Hostname/IP does not match certificate's altnames (ERR_TLS_CERT_ALTNAME_INVALID)",
    ],
  ])('certificate error %s is a TLS failure with a certificate hint', (code, message, text) => {
    const err = toKubeError(fetchFailed(code, message), 'get ConfigMap/cm', endpoint);
    expect(err).toBeInstanceOf(KubeUnreachableError);
    expect(err.message).toBe(`cannot reach the API server at https://10.0.0.1:6443 for context prod: ${text}`);
    expect(err.hint).toMatch(/certificate authority/);
  });

  it('a port fetch refuses to dial (kubeconfig server on :1) is named as such, not "fetch failed"', async () => {
    const kube = await KubeClient.connect({ kubeconfig: kubeconfigFor('https://127.0.0.1:1') });
    const err = await kube.get(cm).then(
      () => 'resolved',
      (e) => e,
    );
    expect(err).toBeInstanceOf(KubeUnreachableError);
    expect(err.message).toBe(
      'cannot reach the API server at https://127.0.0.1:1 for context local: fetch never connects to this port (a port the Fetch standard blocks)',
    );
    expect(err.hint).toMatch(/the port the server really listens on/);
  });

  it('a client-side deadline (AbortSignal.timeout) is a timeout', async () => {
    const abort = await fetch('http://127.0.0.1:1', { signal: AbortSignal.abort(new DOMException('t', 'TimeoutError')) }).catch((e) => e);
    expect(describeNetworkFailure(abort)).toMatchObject({ kind: 'timeout', code: 'timeout' });
  });

  it('an answer is not a connection failure: a 404 stays a 404; an API group not served is not "absent"', () => {
    expect(describeNetworkFailure({ code: 404, body: '{}' })).toBeUndefined();
    const notFound = toKubeError({ code: 404, body: { message: 'configmaps "cm" not found' } }, 'get cm', endpoint);
    expect(notFound).not.toBeInstanceOf(KubeUnreachableError);
    expect(notFound.status).toBe(404);
    expect(isUnreachable(notFound)).toBe(false);
    const noKind = toKubeError(
      Object.assign(new Error('Failed to fetch resource metadata for serving.knative.dev/v1/Service: HTTP-Code: 404'), {
        code: 404,
        body: '404 page not found',
      }),
      'get Service/x',
      endpoint,
    );
    expect(noKind).toMatchObject({ status: 404, reason: 'NoKindMatch' });
    expect(noKind.message).toBe(
      'get Service/x: the API server does not serve serving.knative.dev/v1 Service (is its CustomResourceDefinition installed?)',
    );
    const noKind2 = toKubeError(new Error('Unrecognized API version and kind: example.com/v1 Widget'), 'get Widget/w', endpoint);
    expect(noKind2).toMatchObject({ status: 404, reason: 'NoKindMatch' });
  });

  it('a CRD that is not installed makes get throw, not return "absent"', async () => {
    server = createServer((req, res) => {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('404 page not found');
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', () => r()));
    const kube = await KubeClient.connect({ kubeconfig: kubeconfigFor(`http://127.0.0.1:${(server!.address() as AddressInfo).port}`) });
    await expect(kube.get({ apiVersion: 'serving.knative.dev/v1', kind: 'Service', name: 'hello' })).rejects.toThrow(
      /does not serve serving\.knative\.dev\/v1 Service/,
    );
  });
});

/** A kubeconfig for one http:// server (client-node wants insecure-skip-tls-verify for http). */
function kubeconfigFor(server: string): string {
  const kubeconfig = join(tempDir('kube-errors'), 'kubeconfig');
  writeFileSync(
    kubeconfig,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      'current-context': 'local',
      clusters: [{ name: 'local', cluster: { server, 'insecure-skip-tls-verify': true } }],
      users: [{ name: 'u', user: { token: 't' } }],
      contexts: [{ name: 'local', context: { cluster: 'local', user: 'u' } }],
    }),
  );
  return kubeconfig;
}

async function closedPort(): Promise<number> {
  const s = createNetServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe('a real refused connection vs a real 404', () => {
  it('get against a closed port throws KubeUnreachableError (it never reads as "absent")', async () => {
    const server = `http://127.0.0.1:${await closedPort()}`;
    const kube = await KubeClient.connect({ kubeconfig: kubeconfigFor(server) });
    const err = await kube.get(cm).then(
      () => 'resolved',
      (e) => e,
    );
    expect(err).toBeInstanceOf(KubeUnreachableError);
    expect(err.message).toBe(`cannot reach the API server at ${server} for context local: connection refused (ECONNREFUSED)`);
  });

  it('watchUntil fails after a short grace when the API server was never reached, instead of waiting for the signal', async () => {
    const kube = await KubeClient.connect({ kubeconfig: kubeconfigFor(`http://127.0.0.1:${await closedPort()}`) });
    const t0 = Date.now();
    const err = await kube
      .watchUntil(cm, 'configmaps', () => false, AbortSignal.timeout(30_000))
      .then(
        () => 'resolved',
        (e) => e,
      );
    expect(err).toBeInstanceOf(KubeUnreachableError);
    // The grace (5 s) lets a restarting API server answer; a dead one is reported well before 30 s.
    expect(Date.now() - t0).toBeLessThan(10_000);
  });

  it('a 404 from a reachable server is "absent" (null)', async () => {
    const { kube } = await clientAgainst([404]);
    expect(await kube.get(cm)).toBeNull();
  });
});

describe('finding the kubeconfig', () => {
  it('KUBECONFIG unset and no ~/.kube/config: an EnvironmentError (exit 1) naming both', async () => {
    const home = tempDir('kube-home');
    const err = await KubeClient.connect({ env: { HOME: home } }).then(
      () => 'connected',
      (e) => e,
    );
    expect(err).toBeInstanceOf(EnvironmentError);
    expect(err).toBeInstanceOf(VpmError);
    expect(err.exitCode).toBe(1);
    expect(err.message).toBe('no Kubernetes configuration found (KUBECONFIG unset, ~/.kube/config missing)');
  });

  it('KUBECONFIG lists missing and existing files: the existing ones are used, like kubectl', async () => {
    const home = tempDir('kube-home');
    const good = kubeconfigFor('http://127.0.0.1:1234');
    const search = findKubeconfig({ HOME: home, KUBECONFIG: `/nope/one:${good}` });
    expect(search).toEqual({ from: 'KUBECONFIG', candidates: ['/nope/one', good], existing: [good] });
    const kube = await KubeClient.connect({ env: { HOME: home, KUBECONFIG: `/nope/one:${good}` } });
    expect(kube.endpoint).toEqual({ server: 'http://127.0.0.1:1234', context: 'local' });
  });

  it('~/.kube/config is used when KUBECONFIG is unset', async () => {
    const home = tempDir('kube-home');
    mkdirSync(join(home, '.kube'));
    writeFileSync(
      join(home, '.kube', 'config'),
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Config',
        'current-context': 'h',
        clusters: [{ name: 'h', cluster: { server: 'https://127.0.0.1:6443' } }],
        users: [{ name: 'u', user: { token: 't' } }],
        contexts: [{ name: 'h', context: { cluster: 'h', user: 'u' } }],
      }),
    );
    expect((await KubeClient.connect({ env: { HOME: home } })).endpoint).toEqual({ server: 'https://127.0.0.1:6443', context: 'h' });
  });
});
