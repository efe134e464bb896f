/**
 * Minimal Kubernetes REST client + informer used by the test environment and the simulators.
 *
 * Why not only @kubernetes/client-node's typed APIs: the simulators need status subresources of
 * custom resources, server-side apply of arbitrary kinds, and a watch loop that survives API server
 * restarts (re-list + re-watch with backoff). Authentication/TLS still come from client-node's
 * KubeConfig (`applyToHTTPSOptions`), so any kubeconfig/context works.
 *
 *   const kube = await Kube.fromKubeconfig(file, 'cluster-a');
 *   await kube.get('/apis/serving.knative.dev/v1/namespaces/default/services/hello');
 *   await kube.apply(obj, 'my-manager');                  // server-side apply, discovers the plural
 *   await kube.patchStatus(path, { status: {...} });      // merge patch on /status
 *   const inf = kube.informer('/apis/serving.knative.dev/v1/services', { onUpsert, onDelete });
 */
import https from 'node:https';
import http from 'node:http';
import { KubeConfig } from '@kubernetes/client-node';

export type KObj = {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    generation?: number;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    ownerReferences?: Array<Record<string, unknown>>;
    deletionTimestamp?: string;
    creationTimestamp?: string;
    [k: string]: unknown;
  };
  spec?: any;
  status?: any;
  [k: string]: any;
};

export class KubeError extends Error {
  readonly status: number;
  readonly body: any;
  constructor(method: string, path: string, status: number, body: any) {
    const msg = typeof body === 'object' && body?.message ? body.message : String(body).slice(0, 300);
    super(`${method} ${path} -> ${status}: ${msg}`);
    this.status = status;
    this.body = body;
  }
}

const isNotFound = (e: unknown): boolean => e instanceof KubeError && e.status === 404;
const isConflict = (e: unknown): boolean => e instanceof KubeError && e.status === 409;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export type RequestOptions = {
  contentType?: string;
  query?: Record<string, string | number | boolean | undefined>;
  timeoutMs?: number;
};

type ResourceInfo = { plural: string; namespaced: boolean };

export class Kube {
  readonly kc: KubeConfig;
  readonly server: string;
  private readonly base: URL;
  private httpsOpts: https.RequestOptions = {};
  private agent: http.Agent | undefined;
  private readonly discovery = new Map<string, Promise<Map<string, ResourceInfo>>>();

  private constructor(kc: KubeConfig) {
    this.kc = kc;
    const cluster = kc.getCurrentCluster();
    if (!cluster) throw new Error(`kubeconfig context ${kc.getCurrentContext()} has no cluster`);
    this.server = cluster.server.replace(/\/$/, '');
    this.base = new URL(this.server);
  }

  /** Builds a client for one context (a private copy of the KubeConfig: one KubeConfig per context). */
  static async fromKubeConfig(kc: KubeConfig, context?: string): Promise<Kube> {
    const own = new KubeConfig();
    own.loadFromString(kc.exportConfig());
    if (context) own.setCurrentContext(context);
    const k = new Kube(own);
    const opts: https.RequestOptions = { headers: {} };
    await own.applyToHTTPSOptions(opts);
    k.httpsOpts = opts;
    const agentOpts = {
      keepAlive: true,
      maxSockets: 64,
      ca: opts.ca,
      cert: opts.cert,
      key: opts.key,
      rejectUnauthorized: opts.rejectUnauthorized,
    };
    k.agent = k.base.protocol === 'https:' ? new https.Agent(agentOpts) : new http.Agent({ keepAlive: true });
    return k;
  }

  static async fromKubeconfig(file: string, context?: string): Promise<Kube> {
    const kc = new KubeConfig();
    kc.loadFromFile(file);
    return Kube.fromKubeConfig(kc, context);
  }

  close(): void {
    this.agent?.destroy();
  }

  private url(path: string, query?: RequestOptions['query']): URL {
    const u = new URL(this.server + path);
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) u.searchParams.set(k, String(v));
    return u;
  }

  private baseHeaders(): Record<string, string> {
    const h: Record<string, string> = {};
    for (const [k, v] of Object.entries(this.httpsOpts.headers ?? {})) if (typeof v === 'string') h[k] = v;
    return h;
  }

  private open(method: string, u: URL, headers: Record<string, string>, agent = this.agent): http.ClientRequest {
    const mod = u.protocol === 'https:' ? https : http;
    return mod.request(u, {
      method,
      agent,
      headers: { ...this.baseHeaders(), ...headers },
      ca: this.httpsOpts.ca,
      cert: this.httpsOpts.cert,
      key: this.httpsOpts.key,
      rejectUnauthorized: this.httpsOpts.rejectUnauthorized,
      auth: this.httpsOpts.auth,
    });
  }

  /** One request; JSON in/out. Throws KubeError for status >= 400 and network errors as-is. */
  async request<T = any>(method: string, path: string, body?: unknown, opts: RequestOptions = {}): Promise<T> {
    const u = this.url(path, opts.query);
    const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
    const headers: Record<string, string> = { accept: 'application/json' };
    if (payload !== undefined) {
      headers['content-type'] = opts.contentType ?? 'application/json';
      headers['content-length'] = String(Buffer.byteLength(payload));
    }
    return new Promise<T>((resolve, reject) => {
      const req = this.open(method, u, headers);
      req.setTimeout(opts.timeoutMs ?? 30_000, () => req.destroy(new Error(`${method} ${path}: timeout`)));
      req.on('error', reject);
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: any = text;
          try {
            parsed = text ? JSON.parse(text) : undefined;
          } catch {
            /* keep text */
          }
          if ((res.statusCode ?? 0) >= 400) reject(new KubeError(method, path, res.statusCode ?? 0, parsed));
          else resolve(parsed as T);
        });
      });
      req.end(payload);
    });
  }

  get<T = any>(path: string, query?: RequestOptions['query']): Promise<T> {
    return this.request<T>('GET', path, undefined, { query });
  }
  async getOrNull<T = any>(path: string): Promise<T | null> {
    try {
      return await this.get<T>(path);
    } catch (e) {
      if (isNotFound(e)) return null;
      throw e;
    }
  }
  create<T = any>(collectionPath: string, obj: unknown): Promise<T> {
    return this.request<T>('POST', collectionPath, obj);
  }
  replace<T = any>(path: string, obj: unknown): Promise<T> {
    return this.request<T>('PUT', path, obj);
  }
  mergePatch<T = any>(path: string, patch: unknown): Promise<T> {
    return this.request<T>('PATCH', path, patch, { contentType: 'application/merge-patch+json' });
  }
  jsonPatch<T = any>(path: string, ops: unknown[]): Promise<T> {
    return this.request<T>('PATCH', path, ops, { contentType: 'application/json-patch+json' });
  }
  patchStatus<T = any>(path: string, patch: unknown): Promise<T> {
    return this.mergePatch<T>(path + '/status', patch);
  }
  async delete(path: string, query?: RequestOptions['query']): Promise<boolean> {
    try {
      await this.request('DELETE', path, undefined, { query });
      return true;
    } catch (e) {
      if (isNotFound(e)) return false;
      throw e;
    }
  }

  /** Resource info (plural, namespaced) for apiVersion+kind through discovery (cached per group/version). */
  async resourceFor(apiVersion: string, kind: string): Promise<ResourceInfo> {
    const gvPath = apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
    const load = async (): Promise<Map<string, ResourceInfo>> => {
      const list = await this.get<{ resources: Array<{ name: string; kind: string; namespaced: boolean }> }>(gvPath);
      const m = new Map<string, ResourceInfo>();
      for (const r of list.resources) if (!r.name.includes('/')) m.set(r.kind, { plural: r.name, namespaced: r.namespaced });
      return m;
    };
    let p = this.discovery.get(gvPath);
    if (!p) {
      p = load();
      this.discovery.set(gvPath, p);
      p.catch(() => this.discovery.delete(gvPath));
    }
    let info = (await p).get(kind);
    if (!info) {
      // CRDs installed after the first lookup: refresh once.
      p = load();
      this.discovery.set(gvPath, p);
      info = (await p).get(kind);
    }
    if (!info) throw new Error(`no resource for kind ${kind} in ${apiVersion} on ${this.server}`);
    return info;
  }

  /** API path of an object (namespace defaulted to `defaultNamespace` for namespaced kinds). */
  async pathFor(
    obj: { apiVersion?: string; kind?: string; metadata?: { name?: string; namespace?: string } },
    defaultNamespace = 'default',
  ): Promise<string> {
    if (!obj.apiVersion || !obj.kind) throw new Error('object without apiVersion/kind');
    const info = await this.resourceFor(obj.apiVersion, obj.kind);
    const prefix = obj.apiVersion.includes('/') ? `/apis/${obj.apiVersion}` : `/api/${obj.apiVersion}`;
    const ns = info.namespaced ? `/namespaces/${obj.metadata?.namespace ?? defaultNamespace}` : '';
    return `${prefix}${ns}/${info.plural}${obj.metadata?.name ? '/' + obj.metadata.name : ''}`;
  }

  /** Server-side apply (application/apply-patch+yaml with a JSON body), force by default. */
  async apply<T = any>(
    obj: KObj,
    fieldManager: string,
    opts: { force?: boolean; defaultNamespace?: string; dryRun?: boolean } = {},
  ): Promise<T> {
    const path = await this.pathFor(obj, opts.defaultNamespace);
    const info = await this.resourceFor(obj.apiVersion!, obj.kind!);
    const body =
      info.namespaced && !obj.metadata.namespace
        ? { ...obj, metadata: { ...obj.metadata, namespace: opts.defaultNamespace ?? 'default' } }
        : obj;
    return this.request<T>('PATCH', path, body, {
      contentType: 'application/apply-patch+yaml',
      query: { fieldManager, force: opts.force ?? true, dryRun: opts.dryRun ? 'All' : undefined },
    });
  }

  async ensureNamespace(name: string): Promise<void> {
    try {
      await this.create('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
    } catch (e) {
      if (!isConflict(e)) throw e;
    }
  }

  /**
   * Streams a watch. Resolves when the stream ends (server timeout, disconnect). Calls `onEvent` for
   * every event (types ADDED, MODIFIED, DELETED, BOOKMARK, ERROR). Abort with `signal`.
   */
  watchOnce(path: string, query: RequestOptions['query'], onEvent: (type: string, obj: any) => void, signal: AbortSignal): Promise<void> {
    const u = this.url(path, { ...query, watch: 1 });
    return new Promise<void>((resolve, reject) => {
      if (signal.aborted) return resolve();
      // A watch holds its socket: use a dedicated agent-less connection.
      const req = this.open('GET', u, { accept: 'application/json' }, undefined);
      const onAbort = () => req.destroy();
      signal.addEventListener('abort', onAbort, { once: true });
      req.on('error', (e) => {
        signal.removeEventListener('abort', onAbort);
        if (signal.aborted) resolve();
        else reject(e);
      });
      req.on('response', (res) => {
        if ((res.statusCode ?? 0) >= 400) {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            let body: any = Buffer.concat(chunks).toString('utf8');
            try {
              body = JSON.parse(body);
            } catch {
              /* text */
            }
            reject(new KubeError('WATCH', path, res.statusCode ?? 0, body));
          });
          return;
        }
        let buf = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          buf += chunk;
          let i: number;
          while ((i = buf.indexOf('\n')) >= 0) {
            const line = buf.slice(0, i).trim();
            buf = buf.slice(i + 1);
            if (!line) continue;
            try {
              const ev = JSON.parse(line);
              onEvent(ev.type, ev.object);
            } catch (e) {
              req.destroy(e as Error);
            }
          }
        });
        res.on('end', () => {
          signal.removeEventListener('abort', onAbort);
          resolve();
        });
        res.on('error', (e) => {
          signal.removeEventListener('abort', onAbort);
          if (signal.aborted) resolve();
          else reject(e);
        });
      });
      req.end();
    });
  }

  /** List+watch loop keeping a cache; survives API server restarts (re-list/re-watch with backoff). */
  informer(collectionPath: string, handlers: InformerHandlers, opts: InformerOptions = {}): Informer {
    return new Informer(this, collectionPath, handlers, opts);
  }
}

export type InformerHandlers = {
  onUpsert?: (obj: KObj, old: KObj | undefined) => void;
  onDelete?: (obj: KObj) => void;
  /** After every successful (re-)list. */
  onSync?: () => void;
};
export type InformerOptions = { labelSelector?: string; log?: (msg: string) => void; maxBackoffMs?: number };

export const keyOf = (o: { metadata: { namespace?: string; name: string } }): string =>
  o.metadata.namespace ? `${o.metadata.namespace}/${o.metadata.name}` : o.metadata.name;

export class Informer {
  readonly cache = new Map<string, KObj>();
  private readonly ac = new AbortController();
  private rv = '';
  private synced = false;
  private readonly syncWaiters: Array<() => void> = [];
  /** Number of (re-)lists done; tests can observe recovery after an API server restart. */
  lists = 0;
  readonly done: Promise<void>;
  private readonly kube: Kube;
  private readonly path: string;
  private readonly handlers: InformerHandlers;
  private readonly opts: InformerOptions;

  constructor(kube: Kube, path: string, handlers: InformerHandlers, opts: InformerOptions) {
    this.kube = kube;
    this.path = path;
    this.handlers = handlers;
    this.opts = opts;
    this.done = this.run();
  }

  stop(): void {
    this.ac.abort();
  }

  hasSynced(): boolean {
    return this.synced;
  }

  waitForSync(): Promise<void> {
    if (this.synced) return Promise.resolve();
    return new Promise((r) => this.syncWaiters.push(r));
  }

  private async list(): Promise<void> {
    const list = await this.kube.get<{ metadata: { resourceVersion: string }; items: KObj[] }>(this.path, {
      labelSelector: this.opts.labelSelector,
    });
    const seen = new Set<string>();
    for (const item of list.items) {
      const k = keyOf(item);
      seen.add(k);
      const old = this.cache.get(k);
      this.cache.set(k, item);
      if (!old || old.metadata.resourceVersion !== item.metadata.resourceVersion) this.safe(() => this.handlers.onUpsert?.(item, old));
    }
    for (const [k, old] of [...this.cache]) {
      if (!seen.has(k)) {
        this.cache.delete(k);
        this.safe(() => this.handlers.onDelete?.(old));
      }
    }
    this.rv = list.metadata.resourceVersion;
    this.lists++;
    this.synced = true;
    this.syncWaiters.splice(0).forEach((r) => r());
    this.safe(() => this.handlers.onSync?.());
  }

  private safe(f: () => void): void {
    try {
      f();
    } catch (e) {
      this.opts.log?.(`informer ${this.path}: handler failed: ${(e as Error).stack ?? e}`);
    }
  }

  private async run(): Promise<void> {
    let backoff = 100;
    let needList = true;
    while (!this.ac.signal.aborted) {
      try {
        if (needList) {
          await this.list();
          needList = false;
        }
        let gone = false;
        await this.kube.watchOnce(
          this.path,
          { resourceVersion: this.rv, allowWatchBookmarks: true, timeoutSeconds: 240, labelSelector: this.opts.labelSelector },
          (type, obj) => {
            if (type === 'ERROR') {
              if (obj?.code === 410) gone = true;
              this.opts.log?.(`informer ${this.path}: watch error ${obj?.code} ${obj?.message}`);
              return;
            }
            if (obj?.metadata?.resourceVersion) this.rv = obj.metadata.resourceVersion;
            if (type === 'BOOKMARK') return;
            const k = keyOf(obj);
            if (type === 'DELETED') {
              this.cache.delete(k);
              this.safe(() => this.handlers.onDelete?.(obj));
            } else {
              const old = this.cache.get(k);
              this.cache.set(k, obj);
              this.safe(() => this.handlers.onUpsert?.(obj, old));
            }
          },
          this.ac.signal,
        );
        if (gone) needList = true;
        backoff = 100;
      } catch (e) {
        if (this.ac.signal.aborted) break;
        if (e instanceof KubeError && e.status === 410) needList = true;
        else {
          // Connection refused / reset (API server restarting): back off, then re-list to catch up.
          this.opts.log?.(`informer ${this.path}: ${(e as Error).message}; retrying in ${backoff}ms`);
          await sleep(backoff);
          backoff = Math.min(backoff * 2, this.opts.maxBackoffMs ?? 2000);
          needList = true;
        }
      }
    }
  }
}

/** Retries `f` on network errors and 409/5xx (API server restarting, conflicts) with backoff. */
export async function retrying<T>(f: () => Promise<T>, opts: { attempts?: number; signal?: AbortSignal } = {}): Promise<T> {
  const attempts = opts.attempts ?? 30;
  let delay = 100;
  for (let i = 1; ; i++) {
    try {
      return await f();
    } catch (e) {
      const retryable = !(e instanceof KubeError) || e.status === 409 || e.status === 429 || e.status >= 500;
      if (!retryable || i >= attempts || opts.signal?.aborted) throw e;
      await sleep(delay);
      delay = Math.min(delay * 2, 2000);
    }
  }
}
