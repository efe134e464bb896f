/** The project's own hello manifest (latestRevision routing) in a test namespace, with template variants. */
import { readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import type { Kube } from '../support/kube.ts';
import { HELLO_MANIFEST, ksvcPath } from './deploy.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Writes `<file>` in `cwd`: infra/k8s/overlays/dev/hello-ksvc.yaml with the namespace replaced, the
 * container's TARGET set to `target` and extra template annotations (e.g. the simulator's error rate).
 */
export function helloManifest(cwd: string, file: string, ns: string, target: string, annotations: Record<string, string> = {}): string {
  const doc = parse(readFileSync(HELLO_MANIFEST, 'utf8'));
  doc.metadata.namespace = ns;
  doc.spec.template.spec.containers[0].env = [{ name: 'TARGET', value: target }];
  Object.assign(doc.spec.template.metadata.annotations, annotations);
  writeFileSync(join(cwd, file), stringify(doc));
  return file;
}

/** The test app every real-Knative suite deploys (tests/testenv/knative/images/testapp). */
export const TESTAPP_IMAGE = 'dev.local/vpm-testapp:v1';

/**
 * Writes `<version>.yaml` in `cwd` for the real Knative stack: the project's hello manifest (its
 * latestRevision routing and probe timing kept) with the test app's image, readiness on the app's
 * /healthz and MESSAGE=`version` plus `env` (e.g. ERROR_RATE) — each version a new template.
 */
export function realHelloManifest(cwd: string, ns: string, version: string, env: Record<string, string> = {}): string {
  const doc = parse(readFileSync(HELLO_MANIFEST, 'utf8'));
  doc.metadata.namespace = ns;
  const container = doc.spec.template.spec.containers[0];
  container.image = TESTAPP_IMAGE;
  container.readinessProbe.httpGet.path = '/healthz';
  container.env = Object.entries({ MESSAGE: version, ...env }).map(([name, value]) => ({ name, value }));
  writeFileSync(join(cwd, `${version}.yaml`), stringify(doc));
  return `${version}.yaml`;
}

/**
 * One request to `host` through the real stack's ingress (node:http: fetch drops a Host header), with
 * the revision that answered it (the test app's X-Revision header).
 */
export function askVia(ingressUrl: string, host: string): Promise<{ status: number; body: string; revision?: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(`${ingressUrl}/`, { headers: { host }, agent: false, timeout: 5_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, revision: res.headers['x-revision'] as string | undefined }));
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error(`no answer from ${host} via ${ingressUrl} in 5 s`)));
  });
}

/** Percent per revision name in a traffic list (spec or status). */
export function split(traffic: any[] | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  for (const t of traffic ?? []) {
    const key = t.revisionName ?? (t.latestRevision ? 'latest' : '?');
    out[key] = (out[key] ?? 0) + (t.percent ?? 0);
  }
  return out;
}

export async function annotation(kube: Kube, ns: string, key: string): Promise<any> {
  const raw = (await kube.get(ksvcPath(ns))).metadata.annotations?.[key];
  return raw === undefined ? undefined : JSON.parse(raw);
}

/** The first `vpm release` of hello in `ns` (nothing live yet): returns the revision it deployed. */
export async function firstRelease(
  run: (args: string[], cwd: string) => Promise<{ result: { exitCode?: number; stderr: unknown }; json: any }>,
  cwd: string,
  ns: string,
): Promise<string> {
  const first = await run(['release', 'hello', '-f', helloManifest(cwd, 'v1.yaml', ns, 'v1'), '--interval', '1s'], cwd);
  if (first.result.exitCode !== 0 || first.json.result !== 'first_deploy')
    throw new Error(`first release failed (${first.result.exitCode}): ${String(first.result.stderr)}`);
  return first.json.candidate;
}

/**
 * Watches the KService (polling the API server) and keeps every distinct status.traffic together
 * with the canary step recorded on the object at the same read.
 */
export function observe(kube: Kube, ns: string) {
  const seen: Array<{ traffic: any[]; canary: any }> = [];
  let running = true;
  const loop = (async () => {
    let last = '';
    while (running) {
      const o = await kube.get(ksvcPath(ns)).catch(() => undefined);
      const key = JSON.stringify([o?.status?.traffic, o?.metadata?.annotations?.['vpm.dev/canary']]);
      if (o && key !== last) {
        seen.push({ traffic: o.status?.traffic ?? [], canary: JSON.parse(o.metadata.annotations?.['vpm.dev/canary'] ?? 'null') });
        last = key;
      }
      await sleep(20);
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return seen;
    },
  };
}

/** What `observe` saw while `during` ran (the watch ends either way). */
export async function observed<T>(
  kube: Kube,
  ns: string,
  during: () => Promise<T>,
): Promise<{ value: T; seen: Array<{ traffic: any[]; canary: any }> }> {
  const watch = observe(kube, ns);
  const settled = await during().then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  );
  const seen = await watch.stop();
  if ('error' in settled) throw settled.error;
  return { value: settled.value, seen };
}

/** What a notification target received: its path, the JSON body, and the raw text (Basic marker + body). */
export type Notification = { path: string; body: any; raw: string };

/** A local HTTP server that records every notification POSTed to it and answers 200. */
export async function notificationSink(): Promise<{ port: number; received: Notification[]; close(): void }> {
  const received: Notification[] = [];
  const server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (c) => (raw += c));
    req.on('end', () => {
      // The Basic header carries the URL's password (that is its purpose); the body must not.
      received.push({ path: req.url ?? '', body: JSON.parse(raw), raw: `${req.headers.authorization ? 'Basic ' : ''}${raw}` });
      res.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { port: (server.address() as AddressInfo).port, received, close: () => server.close() };
}

/**
 * Writes `vpm.config.yaml` in `cwd` with three notification targets on the sink at `port`: JSON with a
 * token in its query (paused, promoted, released, aborted), Slack with a password in its URL (every
 * event), and `dead` — a port nothing listens on — for `released`.
 */
export function writeNotifyConfig(cwd: string, o: { port: number; dead: number; token: string; password: string }): void {
  writeFileSync(
    join(cwd, 'vpm.config.yaml'),
    [
      'notify:',
      `  - url: http://127.0.0.1:${o.port}/hook?token=${o.token}`,
      '    events: [paused, promoted, released, aborted]',
      '    format: json',
      `  - url: http://vpm:${o.password}@127.0.0.1:${o.port}/slack`,
      '    format: slack',
      `  - url: http://127.0.0.1:${o.dead}/gone`,
      '    events: [released]',
      '',
    ].join('\n'),
  );
}
