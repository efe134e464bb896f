/**
 * Knative Serving simulator: plays Knative's controllers and data plane against a real API server.
 *
 * Control plane (watch-driven, one reconcile at a time per KService, resync every 10 s):
 *  - KService `<name>` → Configuration `<name>` (spec.template copied, server-side apply) → Revision
 *    `<name>-00001`, `-00002`, … numbered by the Configuration's generation, i.e. a new Revision on
 *    every template change (name from `spec.template.metadata.name` when set). Revisions carry the
 *    template's labels and annotations plus `serving.knative.dev/{service,configuration,
 *    configurationGeneration}` labels and owner references; Route `<name>` mirrors `spec.traffic`.
 *  - A new Revision is Ready=Unknown (Deploying) and turns Ready=True after `readyDelayMs` (default
 *    200 ms; per revision: annotation `vpm-sim/ready-delay-ms`). Annotation `vpm-sim/ready: "false"`
 *    makes it fail: Ready=False, reason ProgressDeadlineExceeded.
 *  - KService status like Knative's: conditions Ready / ConfigurationsReady / RoutesReady (with
 *    reason/message when not True), `observedGeneration`, `latestCreatedRevisionName`,
 *    `latestReadyRevisionName`, `url`, `address.url`, `traffic[]` (`latestRevision: true` resolved to
 *    the latest *ready* revision's name; `url` for tagged targets). Traffic problems that Knative's
 *    webhook would reject (percents not summing to 100, both revisionName and latestRevision, duplicate
 *    tags) and references to missing/failed revisions give RoutesReady=False (reasons InvalidTraffic,
 *    RevisionMissing, RevisionFailed); the previous routing stays in effect meanwhile, as in Knative.
 *  - Deleting a KService deletes its Configuration, Route and Revisions (there is no garbage
 *    collector in the test env). Namespaces cannot be deleted (no namespace controller either).
 *  - Survives API server restarts: informers re-list and re-watch with backoff; failed reconciles retry.
 *
 * Data plane (all on 127.0.0.1):
 *  - `status.url` = `http://127.0.0.1:<port>`: one listening port per KService (its "route"), and one
 *    per tag: `status.traffic[i].url` = `http://127.0.0.1:<tagport>` reaches the tagged revision. So
 *    `curl $(kubectl get ksvc hello -o jsonpath='{.status.url}')` works without DNS. With
 *    `urlStyle: 'hostname'` the URLs are Knative's `http://hello.default.example.com` and
 *    `http://<tag>-hello.default.example.com` instead, reachable through the ingress below.
 *  - `ingressUrl` (one port per cluster) routes by Host header like Kourier:
 *    `<name>.<ns>.example.com`, `<tag>-<name>.<ns>.example.com`, `<name>.<ns>.svc.cluster.local`,
 *    `<name>.<ns>[.svc]`; an unknown Host goes to `defaultRoute` (default `hello.default`, so
 *    HAProxy can front the ingress without rewriting Host), else 404.
 *  - Requests to a route are split across revisions by `spec.traffic` percentages: smooth weighted
 *    round-robin (exact proportions, deterministic; `routing: 'random'` for weighted random), and
 *    proxied to the revision's own HTTP server. Response: `Hello <TARGET env of container 0 or
 *    World>!\n`, headers `x-vpm-revision`, `x-vpm-service`, `x-vpm-cluster`. No ready revision → 503.
 *  - Per-revision behaviour from the Revision's annotations (copied from the template, patchable on
 *    the Revision at run time; picked up through the watch within milliseconds):
 *      vpm-sim/error-rate  0..1  share of requests answered with 5xx (default 0)
 *      vpm-sim/error-code        status code of those errors (default 500)
 *      vpm-sim/error-mode        `even` (default: exactly every 1/rate-th request) or `random`
 *      vpm-sim/latency-ms        added latency per request in ms (default 0)
 *      vpm-sim/latency-jitter-ms uniform extra latency 0..N ms (default 0)
 *  - On the KService: `vpm-sim/route-down: "true"` resets every connection to its routes while the
 *    status stays Ready (a broken ingress).
 *  - `metricsUrl` (`http://127.0.0.1:<port>/metrics`): queue-proxy style Prometheus metrics of all
 *    revisions of this cluster: counter `revision_request_count` and histogram (ms)
 *    `revision_request_latencies_{bucket,sum,count}`, labels namespace_name, service_name,
 *    configuration_name, revision_name, pod_name, container_name="queue-proxy", response_code,
 *    response_code_class. `GET /routes` on the same port returns the routing table as JSON.
 *
 * Example (tests): set a 50% error rate on a revision
 *   await kube.mergePatch(`/apis/serving.knative.dev/v1/namespaces/${ns}/revisions/hello-00002`,
 *     { metadata: { annotations: { 'vpm-sim/error-rate': '0.5' } } });
 */
import http from 'node:http';
import type net from 'node:net';
import { type Kube, KubeError, retrying, type Informer, type KObj, keyOf } from './kube.ts';

const GROUP = 'serving.knative.dev';
const API = `${GROUP}/v1`;
const MANAGER = 'knative-sim';
const L_SERVICE = `${GROUP}/service`;
const L_CONFIG = `${GROUP}/configuration`;
const L_CONFIG_GEN = `${GROUP}/configurationGeneration`;

export type KnativeSimOptions = {
  kube: Kube;
  /** Cluster name (label in responses/metrics logs). */
  cluster: string;
  readyDelayMs?: number;
  domain?: string;
  routing?: 'wrr' | 'random';
  urlStyle?: 'loopback' | 'hostname';
  /** `<name>.<namespace>` served by the ingress for unknown Host headers; '' disables. */
  defaultRoute?: string;
  resyncMs?: number;
  log?: (msg: string) => void;
};

type Target = { revision: string; percent: number; tag?: string };
type Listener = { server: http.Server; port: number };
type RouteState = {
  ns: string;
  name: string;
  main: Listener;
  tags: Map<string, Listener>;
  /** Effective routing (only applied when the traffic spec resolves). */
  targets: Target[];
  tagTargets: Map<string, string>;
  wrr: Map<string, number>;
};
type RevServer = Listener & { ns: string; name: string; errAcc: number; errKey: string };

const LATENCY_BUCKETS_MS = [
  5, 10, 20, 40, 60, 80, 100, 150, 200, 250, 300, 350, 400, 450, 500, 600, 700, 800, 900, 1000, 2000, 5000, 10000, 20000, 50000, 100000,
];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const now = () => new Date().toISOString();
const cond = (obj: KObj | undefined, type: string) => (obj?.status?.conditions ?? []).find((c: any) => c.type === type);
const isReady = (rev: KObj | undefined) => cond(rev, 'Ready')?.status === 'True';
const isFailed = (rev: KObj | undefined) => cond(rev, 'Ready')?.status === 'False';

async function listen(handler: http.RequestListener): Promise<Listener> {
  const server = http.createServer(handler);
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return { server, port: (server.address() as net.AddressInfo).port };
}

async function close(l: Listener | undefined): Promise<void> {
  if (!l) return;
  l.server.closeAllConnections();
  await new Promise<void>((r) => l.server.close(() => r()));
}

class Metrics {
  private readonly counts = new Map<string, { labels: Record<string, string>; count: number; sum: number; buckets: number[] }>();

  observe(labels: Record<string, string>, ms: number): void {
    const key = JSON.stringify(labels);
    let m = this.counts.get(key);
    if (!m) {
      m = { labels, count: 0, sum: 0, buckets: LATENCY_BUCKETS_MS.map(() => 0) };
      this.counts.set(key, m);
    }
    m.count++;
    m.sum += ms;
    LATENCY_BUCKETS_MS.forEach((b, i) => {
      if (ms <= b) m!.buckets[i]++;
    });
  }

  render(): string {
    const fmt = (l: Record<string, string>) =>
      Object.keys(l)
        .sort()
        .map((k) => `${k}="${l[k].replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`)
        .join(',');
    const out: string[] = [
      '# HELP revision_request_count The number of requests that are routed to queue-proxy',
      '# TYPE revision_request_count counter',
    ];
    for (const m of this.counts.values()) out.push(`revision_request_count{${fmt(m.labels)}} ${m.count}`);
    out.push(
      '# HELP revision_request_latencies The response latencies of requests that are routed to queue-proxy',
      '# TYPE revision_request_latencies histogram',
    );
    for (const m of this.counts.values()) {
      LATENCY_BUCKETS_MS.forEach((b, i) =>
        out.push(`revision_request_latencies_bucket{${fmt({ ...m.labels, le: String(b) })}} ${m.buckets[i]}`),
      );
      out.push(`revision_request_latencies_bucket{${fmt({ ...m.labels, le: '+Inf' })}} ${m.count}`);
      out.push(`revision_request_latencies_sum{${fmt(m.labels)}} ${m.sum}`);
      out.push(`revision_request_latencies_count{${fmt(m.labels)}} ${m.count}`);
    }
    return out.join('\n') + '\n';
  }
}

export class KnativeSim {
  readonly kube: Kube;
  readonly cluster: string;
  readonly domain: string;
  ingressUrl = '';
  metricsUrl = '';
  /** Reconciles done (tests can watch it grow after an API server restart). */
  reconciles = 0;
  private readonly opts: Required<Omit<KnativeSimOptions, 'kube' | 'cluster' | 'log'>>;
  private readonly log: (m: string) => void;
  private services!: Informer;
  private revisions!: Informer;
  private readonly routes = new Map<string, RouteState>();
  private readonly revServers = new Map<string, RevServer>();
  private readonly pendingRev = new Map<string, Promise<RevServer>>();
  private readonly readyTimers = new Map<string, NodeJS.Timeout>();
  private readonly queue = new Map<string, { running: boolean; dirty: boolean; retry?: NodeJS.Timeout; failures: number }>();
  private readonly metrics = new Metrics();
  private ingress: Listener | undefined;
  private metricsServer: Listener | undefined;
  private resync: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 256 });

  constructor(o: KnativeSimOptions) {
    this.kube = o.kube;
    this.cluster = o.cluster;
    this.domain = o.domain ?? 'example.com';
    this.log = o.log ?? (() => undefined);
    this.opts = {
      readyDelayMs: o.readyDelayMs ?? Number(process.env.VPM_SIM_READY_DELAY_MS ?? 200),
      domain: this.domain,
      routing: o.routing ?? ((process.env.VPM_SIM_ROUTING as 'wrr' | 'random') || 'wrr'),
      urlStyle: o.urlStyle ?? ((process.env.VPM_SIM_URL_STYLE as 'loopback' | 'hostname') || 'loopback'),
      defaultRoute: o.defaultRoute ?? 'hello.default',
      resyncMs: o.resyncMs ?? 10_000,
    };
  }

  async start(): Promise<void> {
    this.ingress = await listen((req, res) => this.serveIngress(req, res));
    this.ingressUrl = `http://127.0.0.1:${this.ingress.port}`;
    this.metricsServer = await listen((req, res) => this.serveMetrics(req, res));
    this.metricsUrl = `http://127.0.0.1:${this.metricsServer.port}/metrics`;
    this.revisions = this.kube.informer(
      `/apis/${API}/revisions`,
      {
        onUpsert: (rev, old) => this.onRevision(rev, old),
        onDelete: (rev) => this.onRevisionDeleted(rev),
      },
      { log: this.log },
    );
    await this.revisions.waitForSync();
    this.services = this.kube.informer(
      `/apis/${API}/services`,
      {
        onUpsert: (svc) => this.enqueue(keyOf(svc)),
        onDelete: (svc) => this.enqueue(keyOf(svc)),
      },
      { log: this.log },
    );
    await this.services.waitForSync();
    this.resync = setInterval(() => {
      for (const k of this.services.cache.keys()) this.enqueue(k);
    }, this.opts.resyncMs);
    this.resync.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.resync) clearInterval(this.resync);
    this.services?.stop();
    this.revisions?.stop();
    for (const t of this.readyTimers.values()) clearTimeout(t);
    for (const q of this.queue.values()) if (q.retry) clearTimeout(q.retry);
    await Promise.all([...this.routes.values()].flatMap((r) => [close(r.main), ...[...r.tags.values()].map(close)]));
    await Promise.all([...this.revServers.values()].map(close));
    await close(this.ingress);
    await close(this.metricsServer);
    this.agent.destroy();
  }

  /** Informer list count of the Service informer (grows when it re-lists after an API server restart). */
  get serviceLists(): number {
    return this.services.lists;
  }

  routingTable(): Array<{ service: string; url: string; targets: Target[]; tags: Record<string, { revision: string; url: string }> }> {
    return [...this.routes.entries()].map(([k, r]) => ({
      service: k,
      url: `http://127.0.0.1:${r.main.port}`,
      targets: r.targets,
      tags: Object.fromEntries(
        [...r.tags.entries()].map(([t, l]) => [t, { revision: r.tagTargets.get(t) ?? '', url: `http://127.0.0.1:${l.port}` }]),
      ),
    }));
  }

  // ------------------------------------------------------------------------------------------
  // Work queue

  private enqueue(key: string, delayMs = 0): void {
    if (this.stopped) return;
    let q = this.queue.get(key);
    if (!q) {
      q = { running: false, dirty: false, failures: 0 };
      this.queue.set(key, q);
    }
    if (delayMs > 0) {
      if (!q.retry) {
        q.retry = setTimeout(() => {
          q!.retry = undefined;
          this.enqueue(key);
        }, delayMs);
        q.retry.unref();
      }
      return;
    }
    if (q.running) {
      q.dirty = true;
      return;
    }
    q.running = true;
    void (async () => {
      do {
        q!.dirty = false;
        try {
          await this.reconcile(key);
          q!.failures = 0;
        } catch (e) {
          if (this.stopped) break;
          q!.failures++;
          const delay = Math.min(100 * 2 ** Math.min(q!.failures, 5), 3000);
          if (!(e instanceof KubeError && e.status === 409))
            this.log(`reconcile ${key} failed (retry in ${delay}ms): ${(e as Error).message}`);
          this.enqueue(key, delay);
        }
      } while (q!.dirty && !this.stopped);
      q!.running = false;
      if (!this.services?.cache.has(key) && !q!.retry) this.queue.delete(key);
    })();
  }

  // ------------------------------------------------------------------------------------------
  // Revisions

  private onRevision(rev: KObj, old: KObj | undefined): void {
    const key = keyOf(rev);
    void this.ensureRevServer(rev).catch((e) => this.log(`revision server ${key}: ${e.message}`));
    const a = rev.metadata.annotations ?? {};
    const oa = old?.metadata.annotations ?? {};
    const rs = this.revServers.get(key);
    if (rs && (a['vpm-sim/error-rate'] !== oa['vpm-sim/error-rate'] || a['vpm-sim/error-mode'] !== oa['vpm-sim/error-mode'])) rs.errAcc = 0;
    if (!cond(rev, 'Ready') || cond(rev, 'Ready')?.status === 'Unknown') this.scheduleReady(rev);
    const svc = rev.metadata.labels?.[L_SERVICE];
    if (svc && (!old || JSON.stringify(old.status) !== JSON.stringify(rev.status))) this.enqueue(`${rev.metadata.namespace}/${svc}`);
  }

  private onRevisionDeleted(rev: KObj): void {
    const key = keyOf(rev);
    const t = this.readyTimers.get(key);
    if (t) clearTimeout(t);
    this.readyTimers.delete(key);
    const rs = this.revServers.get(key);
    this.revServers.delete(key);
    void close(rs);
  }

  private ensureRevServer(rev: KObj): Promise<RevServer> {
    const key = keyOf(rev);
    const have = this.revServers.get(key);
    if (have) return Promise.resolve(have);
    let p = this.pendingRev.get(key);
    if (!p) {
      p = listen((req, res) => this.serveRevision(key, req, res)).then((l) => {
        const rs: RevServer = { ...l, ns: rev.metadata.namespace!, name: rev.metadata.name, errAcc: 0, errKey: '' };
        this.pendingRev.delete(key);
        if (this.stopped || !this.revisions.cache.has(key)) {
          void close(rs);
        } else {
          this.revServers.set(key, rs);
        }
        return rs;
      });
      this.pendingRev.set(key, p);
    }
    return p;
  }

  private scheduleReady(rev: KObj): void {
    const key = keyOf(rev);
    if (this.readyTimers.has(key)) return;
    const a = rev.metadata.annotations ?? {};
    const delay = Number(a['vpm-sim/ready-delay-ms'] ?? this.opts.readyDelayMs);
    const fail = a['vpm-sim/ready'] === 'false';
    const t = setTimeout(
      async () => {
        try {
          await this.ensureRevServer(rev);
          const path = `/apis/${API}/namespaces/${rev.metadata.namespace}/revisions/${rev.metadata.name}`;
          await retrying(
            async () => {
              const cur = this.revisions.cache.get(key);
              if (!cur) return;
              await this.kube.patchStatus(path, { status: revisionStatus(cur, fail ? 'failed' : 'ready') });
            },
            { attempts: 60 },
          );
        } catch (e) {
          this.log(`mark revision ${key} ready: ${(e as Error).message}`);
        } finally {
          this.readyTimers.delete(key);
        }
      },
      Math.max(0, delay),
    );
    t.unref();
    this.readyTimers.set(key, t);
  }

  // ------------------------------------------------------------------------------------------
  // Reconcile a KService

  private async reconcile(key: string): Promise<void> {
    if (this.stopped) return;
    this.reconciles++;
    if (process.env.VPM_SIM_DEBUG) this.log(`reconcile ${key} at ${Date.now() % 100000}`);
    const svc = this.services.cache.get(key);
    const [ns, name] = key.split('/');
    if (!svc || svc.metadata.deletionTimestamp) return this.cleanup(ns, name);
    const base = `/apis/${API}/namespaces/${ns}`;
    const template = svc.spec?.template ?? {};
    const owner = (o: KObj) => ({
      apiVersion: API,
      kind: o.kind,
      name: o.metadata.name,
      uid: o.metadata.uid,
      controller: true,
      blockOwnerDeletion: true,
    });

    // 1. Configuration
    const cfg: KObj = await this.kube.apply(
      {
        apiVersion: API,
        kind: 'Configuration',
        metadata: {
          name,
          namespace: ns,
          labels: { [L_SERVICE]: name, [`${GROUP}/serviceUID`]: svc.metadata.uid! },
          ownerReferences: [owner(svc)],
        },
        spec: { template },
      },
      MANAGER,
    );
    const cfgGen = cfg.metadata.generation ?? 1;

    // 2. Revision for the current template
    const revName: string = template.metadata?.name || `${name}-${String(cfgGen).padStart(5, '0')}`;
    let latest = this.revisions.cache.get(`${ns}/${revName}`);
    if (!latest) {
      const tmeta = template.metadata ?? {};
      const body: KObj = {
        apiVersion: API,
        kind: 'Revision',
        metadata: {
          name: revName,
          namespace: ns,
          labels: {
            ...(tmeta.labels ?? {}),
            [L_CONFIG]: name,
            [L_CONFIG_GEN]: String(cfgGen),
            [`${GROUP}/configurationUID`]: cfg.metadata.uid!,
            [L_SERVICE]: name,
            [`${GROUP}/serviceUID`]: svc.metadata.uid!,
            [`${GROUP}/routingState`]: 'active',
          },
          annotations: { ...(tmeta.annotations ?? {}), [`${GROUP}/creator`]: 'admin', [`${GROUP}/routingStateModified`]: now() },
          ownerReferences: [owner(cfg)],
        },
        spec: { containerConcurrency: 0, timeoutSeconds: 300, ...(template.spec ?? {}) },
      };
      // Server-side apply rather than POST: right after CRD creation kube-apiserver holds the first
      // POST of a custom resource for ~2 s, apply is not affected.
      const existing = await this.kube.getOrNull(`${base}/revisions/${revName}`);
      latest = existing ?? (await this.kube.apply(body, MANAGER));
      if (!existing) {
        await this.kube.patchStatus(`${base}/revisions/${revName}`, { status: revisionStatus(latest!, 'deploying') });
        this.log(`created revision ${ns}/${revName}`);
      }
    }

    // Revisions of this configuration, newest generation first.
    const revs = [...this.revisions.cache.values()]
      .filter((r) => r.metadata.namespace === ns && r.metadata.labels?.[L_CONFIG] === name)
      .sort((x, y) => Number(y.metadata.labels?.[L_CONFIG_GEN] ?? 0) - Number(x.metadata.labels?.[L_CONFIG_GEN] ?? 0));
    const latestCreated = this.revisions.cache.get(`${ns}/${revName}`) ?? latest!;
    const latestReady = isReady(latestCreated)
      ? latestCreated
      : revs.find((r) => isReady(r) && Number(r.metadata.labels?.[L_CONFIG_GEN] ?? 0) <= cfgGen);
    const latestReadyName = latestReady?.metadata.name;

    let cfgCond: Cond;
    if (isReady(latestCreated)) cfgCond = { status: 'True' };
    else if (isFailed(latestCreated)) {
      const c = cond(latestCreated, 'Ready');
      cfgCond = {
        status: 'False',
        reason: 'RevisionFailed',
        message: `Revision "${revName}" failed with message: ${c?.message ?? c?.reason}.`,
      };
    } else cfgCond = { status: 'Unknown', reason: 'Deploying', message: `Revision "${revName}" is not yet ready.` };

    // 3. Traffic
    const spec: any[] =
      Array.isArray(svc.spec?.traffic) && svc.spec.traffic.length ? svc.spec.traffic : [{ latestRevision: true, percent: 100 }];
    const res = this.resolveTraffic(ns, name, spec, latestReadyName);
    await this.kube.apply(
      {
        apiVersion: API,
        kind: 'Route',
        metadata: { name, namespace: ns, labels: { [L_SERVICE]: name }, ownerReferences: [owner(svc)] },
        spec: {
          traffic: spec.map((t) =>
            t.latestRevision === true || (!t.revisionName && t.latestRevision !== false)
              ? { configurationName: name, ...t, latestRevision: true }
              : t,
          ),
        },
      },
      MANAGER,
    );
    const route = await this.ensureRoute(ns, name, res.ok ? [...new Set(res.status.filter((t) => t.tag).map((t) => t.tag!))] : undefined);
    if (res.ok) {
      route.targets = res.targets;
      route.tagTargets = new Map(res.status.filter((t) => t.tag).map((t) => [t.tag!, t.revisionName]));
      for (const k of [...route.wrr.keys()]) if (!res.targets.some((t) => t.revision === k)) route.wrr.delete(k);
    }
    const url = this.urlFor(route, ns, name);
    const statusTraffic = res.ok
      ? res.status.map((t) => ({ ...t, ...(t.tag ? { url: this.urlFor(route, ns, name, t.tag) } : {}) }))
      : (svc.status?.traffic ?? []);
    const routeCond: Cond = res.ok ? { status: 'True' } : res.cond;

    // 4. Status of Configuration, Route, Service
    const svcReady: Cond =
      cfgCond.status === 'False'
        ? cfgCond
        : routeCond.status === 'False'
          ? routeCond
          : cfgCond.status === 'Unknown'
            ? cfgCond
            : routeCond.status === 'Unknown'
              ? routeCond
              : { status: 'True' };
    await this.writeStatus(`${base}/configurations/${name}`, cfg, {
      observedGeneration: cfgGen,
      latestCreatedRevisionName: revName,
      latestReadyRevisionName: latestReadyName ?? null,
      conditions: [{ type: 'Ready', ...cfgCond }],
    });
    const routeObj = await this.kube.getOrNull(`${base}/routes/${name}`);
    if (routeObj) {
      await this.writeStatus(`${base}/routes/${name}`, routeObj, {
        observedGeneration: routeObj.metadata.generation,
        url,
        address: { url: `http://${name}.${ns}.svc.cluster.local` },
        traffic: statusTraffic,
        conditions: [
          { type: 'AllTrafficAssigned', ...routeCond },
          { type: 'IngressReady', ...(res.ok ? { status: 'True' } : { status: 'Unknown', reason: 'Uninitialized' }) },
          { type: 'Ready', ...routeCond },
        ],
      });
    }
    await this.writeStatus(`${base}/services/${name}`, svc, {
      observedGeneration: svc.metadata.generation,
      latestCreatedRevisionName: revName,
      latestReadyRevisionName: latestReadyName ?? null,
      url,
      address: { url: `http://${name}.${ns}.svc.cluster.local` },
      traffic: statusTraffic,
      conditions: [
        { type: 'ConfigurationsReady', ...cfgCond },
        { type: 'Ready', ...svcReady },
        { type: 'RoutesReady', ...routeCond },
      ],
    });
  }

  private resolveTraffic(
    ns: string,
    name: string,
    spec: any[],
    latestReady: string | undefined,
  ):
    | { ok: true; targets: Target[]; status: Array<{ tag?: string; revisionName: string; latestRevision: boolean; percent?: number }> }
    | { ok: false; cond: Cond } {
    let sum = 0;
    const tags = new Set<string>();
    const status: Array<{ tag?: string; revisionName: string; latestRevision: boolean; percent?: number }> = [];
    for (const t of spec) {
      const percent = t.percent ?? 0;
      sum += percent;
      if (t.tag) {
        if (tags.has(t.tag))
          return { ok: false, cond: { status: 'False', reason: 'InvalidTraffic', message: `Multiple definitions for tag "${t.tag}".` } };
        if (!/^[a-z]([-a-z0-9]*[a-z0-9])?$/.test(t.tag))
          return { ok: false, cond: { status: 'False', reason: 'InvalidTraffic', message: `Invalid tag "${t.tag}".` } };
        tags.add(t.tag);
      }
      if (t.revisionName && t.latestRevision === true) {
        return {
          ok: false,
          cond: {
            status: 'False',
            reason: 'InvalidTraffic',
            message: 'may not set revisionName when latestRevision is true: spec.traffic',
          },
        };
      }
      if (t.configurationName && t.configurationName !== name) {
        return {
          ok: false,
          cond: {
            status: 'False',
            reason: 'InvalidTraffic',
            message: `configurationName "${t.configurationName}" is not this service's configuration`,
          },
        };
      }
      let rev: string | undefined;
      const latest = !t.revisionName;
      if (t.revisionName) {
        const r = this.revisions.cache.get(`${ns}/${t.revisionName}`);
        if (!r)
          return {
            ok: false,
            cond: { status: 'False', reason: 'RevisionMissing', message: `Revision "${t.revisionName}" referenced in traffic not found.` },
          };
        if (isFailed(r))
          return { ok: false, cond: { status: 'False', reason: 'RevisionFailed', message: `Revision "${t.revisionName}" failed.` } };
        if (!isReady(r))
          return {
            ok: false,
            cond: { status: 'Unknown', reason: 'RevisionMissing', message: `Revision "${t.revisionName}" is not yet ready.` },
          };
        rev = t.revisionName;
      } else {
        if (!latestReady)
          return {
            ok: false,
            cond: { status: 'Unknown', reason: 'RevisionMissing', message: `Configuration "${name}" does not have any ready Revision.` },
          };
        rev = latestReady;
      }
      status.push({
        ...(t.tag ? { tag: t.tag } : {}),
        revisionName: rev!,
        latestRevision: latest,
        ...(t.percent !== undefined ? { percent: t.percent } : {}),
      });
    }
    if (sum !== 100)
      return {
        ok: false,
        cond: { status: 'False', reason: 'InvalidTraffic', message: `Traffic targets sum to ${sum}, want 100: spec.traffic` },
      };
    const byRev = new Map<string, number>();
    for (const s of status) if ((s.percent ?? 0) > 0) byRev.set(s.revisionName, (byRev.get(s.revisionName) ?? 0) + s.percent!);
    return { ok: true, targets: [...byRev].map(([revision, percent]) => ({ revision, percent })), status };
  }

  private async writeStatus(path: string, current: KObj, desired: Record<string, any>): Promise<void> {
    const old = current.status ?? {};
    const conditions = (desired.conditions as any[]).map((c) => {
      const prev = (old.conditions ?? []).find((p: any) => p.type === c.type);
      const same =
        prev && prev.status === c.status && (prev.reason ?? null) === (c.reason ?? null) && (prev.message ?? null) === (c.message ?? null);
      return { ...c, lastTransitionTime: same ? prev.lastTransitionTime : now() };
    });
    const next = { ...desired, conditions };
    const strip = (s: any) => JSON.stringify(s, (k, v) => (k === 'lastTransitionTime' ? undefined : v === null ? undefined : v));
    const changed = Object.keys(next).some((k) => strip((next as any)[k]) !== strip(old[k]));
    if (!changed) return;
    await this.kube.patchStatus(path, { status: next });
  }

  private async ensureRoute(ns: string, name: string, tags: string[] | undefined): Promise<RouteState> {
    const key = `${ns}/${name}`;
    let r = this.routes.get(key);
    if (!r) {
      const main = await listen((req, res) => this.serveRoute(key, undefined, req, res));
      const existing = this.routes.get(key);
      if (existing) {
        void close(main);
        r = existing;
      } else {
        r = { ns, name, main, tags: new Map(), targets: [], tagTargets: new Map(), wrr: new Map() };
        this.routes.set(key, r);
      }
    }
    if (tags) {
      for (const t of tags) {
        if (!r.tags.has(t)) {
          const l = await listen((req, res) => this.serveRoute(key, t, req, res));
          if (r.tags.has(t)) void close(l);
          else r.tags.set(t, l);
        }
      }
      for (const [t, l] of [...r.tags]) {
        if (!tags.includes(t)) {
          r.tags.delete(t);
          void close(l);
        }
      }
    }
    return r;
  }

  private urlFor(r: RouteState, ns: string, name: string, tag?: string): string {
    if (this.opts.urlStyle === 'hostname') return `http://${tag ? tag + '-' : ''}${name}.${ns}.${this.domain}`;
    const l = tag ? r.tags.get(tag) : r.main;
    return `http://127.0.0.1:${l?.port ?? r.main.port}`;
  }

  private async cleanup(ns: string, name: string): Promise<void> {
    const key = `${ns}/${name}`;
    const r = this.routes.get(key);
    if (r) {
      this.routes.delete(key);
      await Promise.all([close(r.main), ...[...r.tags.values()].map(close)]);
    }
    // No garbage collector in the test env: delete the dependents ourselves.
    const base = `/apis/${API}/namespaces/${ns}`;
    await this.kube.delete(`${base}/routes/${name}`);
    await this.kube.delete(`${base}/configurations/${name}`);
    await this.kube.delete(`${base}/revisions`, { labelSelector: `${L_SERVICE}=${name}` });
  }

  // ------------------------------------------------------------------------------------------
  // Data plane

  private pick(r: RouteState): string | undefined {
    const ts = r.targets;
    if (!ts.length) return undefined;
    if (ts.length === 1) return ts[0].revision;
    const total = ts.reduce((s, t) => s + t.percent, 0);
    if (this.opts.routing === 'random') {
      let x = Math.random() * total;
      for (const t of ts) if ((x -= t.percent) < 0) return t.revision;
      return ts[ts.length - 1].revision;
    }
    let best: Target | undefined;
    let bestW = -Infinity;
    for (const t of ts) {
      const w = (r.wrr.get(t.revision) ?? 0) + t.percent;
      r.wrr.set(t.revision, w);
      if (w > bestW) {
        bestW = w;
        best = t;
      }
    }
    r.wrr.set(best!.revision, bestW - total);
    return best!.revision;
  }

  private serveRoute(key: string, tag: string | undefined, req: http.IncomingMessage, res: http.ServerResponse): void {
    // `vpm-sim/route-down: "true"` on the KService breaks its ingress route (connections are reset)
    // while the control plane keeps reporting Ready: the "READY but unreachable" case.
    if (this.services.cache.get(key)?.metadata.annotations?.['vpm-sim/route-down'] === 'true') {
      req.socket.destroy();
      return;
    }
    const r = this.routes.get(key);
    const rev = r ? (tag ? r.tagTargets.get(tag) : this.pick(r)) : undefined;
    if (!r || !rev) {
      res.writeHead(503, { 'content-type': 'text/plain' });
      res.end(`no ready revision for ${key}${tag ? ` tag ${tag}` : ''}\n`);
      return;
    }
    const rs = this.revServers.get(`${r.ns}/${rev}`);
    if (!rs) {
      res.writeHead(503, { 'content-type': 'text/plain' });
      res.end(`revision ${rev} has no endpoint\n`);
      return;
    }
    const up = http.request(
      {
        host: '127.0.0.1',
        port: rs.port,
        method: req.method,
        path: req.url,
        headers: { ...req.headers, 'x-forwarded-for': req.socket.remoteAddress ?? '' },
        agent: this.agent,
      },
      (ures) => {
        res.writeHead(ures.statusCode ?? 502, ures.headers);
        ures.pipe(res);
      },
    );
    up.on('error', (e) => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(`upstream error: ${e.message}\n`);
    });
    req.pipe(up);
  }

  private serveIngress(req: http.IncomingMessage, res: http.ServerResponse): void {
    const host = (req.headers.host ?? '').replace(/:\d+$/, '').toLowerCase();
    const found = this.routeForHost(host) ?? (this.opts.defaultRoute ? this.routeForHost(this.opts.defaultRoute) : undefined);
    if (!found) {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end(`no route for host ${host}\n`);
      return;
    }
    this.serveRoute(found.key, found.tag, req, res);
  }

  private routeForHost(host: string): { key: string; tag?: string } | undefined {
    for (const [key, r] of this.routes) {
      const hosts = [
        `${r.name}.${r.ns}.${this.domain}`,
        `${r.name}.${r.ns}.svc.cluster.local`,
        `${r.name}.${r.ns}.svc`,
        `${r.name}.${r.ns}`,
      ];
      if (hosts.includes(host)) return { key };
      for (const t of r.tags.keys()) if (host === `${t}-${r.name}.${r.ns}.${this.domain}`) return { key, tag: t };
    }
    return undefined;
  }

  private async serveRevision(key: string, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const t0 = performance.now();
    for await (const _ of req) {
      /* drain body */
    }
    const rev = this.revisions.cache.get(key);
    const rs = this.revServers.get(key);
    if (!rev || !rs) {
      res.writeHead(503);
      res.end();
      return;
    }
    const a = rev.metadata.annotations ?? {};
    const num = (v: string | undefined, d: number) => (v !== undefined && Number.isFinite(Number(v)) ? Number(v) : d);
    const latency = Math.max(0, num(a['vpm-sim/latency-ms'], 0)) + Math.random() * Math.max(0, num(a['vpm-sim/latency-jitter-ms'], 0));
    const rate = Math.min(1, Math.max(0, num(a['vpm-sim/error-rate'], 0)));
    let fail: boolean;
    if (a['vpm-sim/error-mode'] === 'random') fail = Math.random() < rate;
    else {
      rs.errAcc += rate;
      fail = rs.errAcc >= 1 - 1e-9;
      if (fail) rs.errAcc -= 1;
    }
    if (latency > 0) await sleep(latency);
    const code = fail ? num(a['vpm-sim/error-code'], 500) : 200;
    const svc = rev.metadata.labels?.[L_SERVICE] ?? '';
    const target = (rev.spec?.containers?.[0]?.env ?? []).find((e: any) => e?.name === 'TARGET')?.value ?? 'World';
    const body = fail ? `simulated failure (${rev.metadata.name})\n` : `Hello ${target}!\n`;
    res.writeHead(code, {
      'content-type': 'text/plain; charset=utf-8',
      'x-vpm-revision': rev.metadata.name,
      'x-vpm-service': svc,
      'x-vpm-cluster': this.cluster,
    });
    res.end(body);
    this.metrics.observe(
      {
        namespace_name: rev.metadata.namespace!,
        service_name: svc,
        configuration_name: rev.metadata.labels?.[L_CONFIG] ?? '',
        revision_name: rev.metadata.name,
        pod_name: `${rev.metadata.name}-deployment-sim`,
        container_name: 'queue-proxy',
        response_code: String(code),
        response_code_class: `${String(code)[0]}xx`,
      },
      performance.now() - t0,
    );
  }

  private serveMetrics(req: http.IncomingMessage, res: http.ServerResponse): void {
    const u = new URL(req.url ?? '/', 'http://x');
    if (u.pathname === '/metrics') {
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
      res.end(this.metrics.render());
    } else if (u.pathname === '/routes') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ cluster: this.cluster, ingressUrl: this.ingressUrl, routes: this.routingTable() }, null, 2));
    } else if (u.pathname === '/healthz') {
      res.writeHead(200);
      res.end('ok\n');
    } else {
      res.writeHead(404);
      res.end();
    }
  }
}

type Cond = { status: 'True' | 'False' | 'Unknown'; reason?: string; message?: string };

function revisionStatus(rev: KObj, state: 'deploying' | 'ready' | 'failed'): Record<string, unknown> {
  const t = now();
  const c = (type: string, s: Cond) => ({ type, ...s, lastTransitionTime: t });
  const container = rev.spec?.containers?.[0] ?? {};
  const base = { observedGeneration: rev.metadata.generation ?? 1 };
  if (state === 'deploying') {
    const u: Cond = { status: 'Unknown', reason: 'Deploying' };
    return { ...base, conditions: [c('Active', u), c('ContainerHealthy', u), c('Ready', u), c('ResourcesAvailable', u)] };
  }
  if (state === 'failed') {
    const f: Cond = { status: 'False', reason: 'ProgressDeadlineExceeded', message: 'Initial scale was never achieved' };
    return {
      ...base,
      actualReplicas: 0,
      desiredReplicas: 0,
      conditions: [
        c('Active', { status: 'False', reason: 'NoTraffic' }),
        c('ContainerHealthy', { status: 'Unknown' }),
        c('Ready', f),
        c('ResourcesAvailable', f),
      ],
    };
  }
  const ok: Cond = { status: 'True' };
  return {
    ...base,
    serviceName: rev.metadata.name,
    actualReplicas: 1,
    desiredReplicas: 1,
    containerStatuses: [
      { name: container.name ?? 'user-container', imageDigest: `${container.image ?? 'unknown'}@sha256:${'0'.repeat(64)}` },
    ],
    conditions: [c('Active', ok), c('ContainerHealthy', ok), c('Ready', ok), c('ResourcesAvailable', ok)],
  };
}
