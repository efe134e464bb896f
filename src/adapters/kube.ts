/**
 * The Kubernetes adapter: the only code that talks to an API server. Built on
 * @kubernetes/client-node (loaded lazily: it is the heaviest module vpm has), with one KubeConfig
 * object per context, kubeconfig read the standard way (KUBECONFIG, ~/.kube/config).
 *
 * PATCH content types are explicit (client-node ≥ 1.0 otherwise sends application/json, which the
 * API server rejects for PATCH): merge patches use application/merge-patch+json and applies use
 * server-side apply (application/apply-patch+yaml) with field manager `vpm`.
 */
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import type { KubeConfig, KubernetesObject, KubernetesObjectApi } from '@kubernetes/client-node';
import { EnvironmentError, OperationalError, UsageError } from '../core/errors.js';
import { describeNetworkFailure, networkHint } from './net-errors.js';

const FIELD_MANAGER = 'vpm';

export interface KObj extends KubernetesObject {
  apiVersion: string;
  kind: string;
  metadata: NonNullable<KubernetesObject['metadata']> & { name: string };
  spec?: any;
  status?: any;
  [key: string]: unknown;
}

export interface ObjRef {
  apiVersion: string;
  kind: string;
  name: string;
  namespace?: string;
}

export interface KubeTarget {
  context?: string;
  namespace?: string;
  /** Path of a kubeconfig file; default: KUBECONFIG / ~/.kube/config. */
  kubeconfig?: string;
  /** Where KUBECONFIG and HOME are read (default process.env). */
  env?: NodeJS.ProcessEnv;
}

/** Where kubectl would look for its configuration, and which of those files exist. */
export interface KubeconfigSearch {
  /** KUBECONFIG's list when it is set (and not empty), else ~/.kube/config. */
  from: 'KUBECONFIG' | 'home';
  candidates: string[];
  existing: string[];
}

export function findKubeconfig(env: NodeJS.ProcessEnv = process.env): KubeconfigSearch {
  const list = (env.KUBECONFIG ?? '').split(delimiter).filter(Boolean);
  if (list.length) return { from: 'KUBECONFIG', candidates: list, existing: list.filter((f) => existsSync(f)) };
  const home = join(env.HOME || homedir(), '.kube', 'config');
  return { from: 'home', candidates: [home], existing: existsSync(home) ? [home] : [] };
}

/** In a pod, kubectl (and client-node) use the service account; so does vpm. */
const SERVICE_ACCOUNT_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';

/**
 * Without any configuration client-node invents a context `loaded-context` pointing at
 * http://localhost:8080, and every later error then blames the request; vpm stops here instead.
 */
function noKubeconfig(search: KubeconfigSearch): EnvironmentError {
  const why =
    search.from === 'KUBECONFIG'
      ? `KUBECONFIG=${search.candidates.join(delimiter)}: no such file`
      : 'KUBECONFIG unset, ~/.kube/config missing';
  return new EnvironmentError(`no Kubernetes configuration found (${why})`, {
    hint: 'point KUBECONFIG at a kubeconfig file (export KUBECONFIG=/path/to/kubeconfig), create ~/.kube/config, or pass --kubeconfig FILE',
    details: { looked_in: search.candidates },
  });
}

/** An API answer that is not a success, with the status code kept for decisions (409, 404, 422). */
export class KubeApiError extends OperationalError {
  readonly status: number;
  readonly reason?: string;
  constructor(
    status: number,
    message: string,
    opts: { reason?: string; retryable?: boolean; hint?: string; details?: unknown; cause?: unknown } = {},
  ) {
    super(message, {
      retryable: opts.retryable ?? (status === 429 || status >= 500 || status === 0),
      hint: opts.hint,
      details: opts.details,
      cause: opts.cause,
    });
    this.status = status;
    this.reason = opts.reason;
  }
}

/** Where a client's requests go, for messages that name the server and the context. */
export interface KubeEndpoint {
  server: string;
  context: string;
}

/**
 * No answer from the API server at all (refused, DNS, TLS, timeout): nothing about the request was
 * judged. Status 0, retryable (the server may be restarting), exit 1.
 */
export class KubeUnreachableError extends KubeApiError {
  readonly server: string;
  readonly context: string;
  readonly code: string;
  constructor(endpoint: KubeEndpoint, why: { code: string; text: string; hint: string }, opts: { what?: string; cause?: unknown } = {}) {
    super(0, `cannot reach the API server at ${endpoint.server} for context ${endpoint.context}: ${why.text}`, {
      retryable: true,
      hint: `${why.hint}; check it with: kubectl --context ${endpoint.context} cluster-info`,
      details: { server: endpoint.server, context: endpoint.context, code: why.code, ...(opts.what ? { while: opts.what } : {}) },
      cause: opts.cause,
    });
    this.server = endpoint.server;
    this.context = endpoint.context;
    this.code = why.code;
  }
}

/**
 * What an answer's status says about the API server itself. The server's own text alone (e.g. "the
 * request has been made before all known HTTP paths have been installed" while it starts) does not
 * tell a user that the cluster, not their request, is the problem.
 */
function serverCondition(status: number): string | undefined {
  if (status === 503) return 'API server unavailable';
  if (status === 429) return 'API server is throttling requests';
  if (status >= 500) return 'API server error';
  return undefined;
}

/** Answers that mean "the server is up but not ready for you yet": worth a short wait on reads. */
const isServerNotReady = (e: KubeApiError) => e.status === 503 || e.status === 429;

/** Short retry for idempotent reads that meet a starting or throttling API server (≈3 s in all). */
const READ_RETRY: RetryOptions = { attempts: 5, baseMs: 250, maxMs: 1_500, retryIf: isServerNotReady };

/** client-node's words for "this API group/version or kind is not served" (a CRD not installed). */
const NO_KIND = /Failed to fetch resource metadata for (\S+)\/(\w+):|Unrecognized API version and kind: (\S+) (\w+)/;

function noKindMatch(message: string): { apiVersion: string; kind: string } | undefined {
  const m = NO_KIND.exec(message);
  return m ? { apiVersion: m[1] ?? m[3], kind: m[2] ?? m[4] } : undefined;
}

/**
 * Turns whatever client-node threw into a KubeApiError with the server's own message. With
 * `endpoint`, a failure to connect becomes a KubeUnreachableError naming the server and context.
 */
export function toKubeError(err: unknown, what: string, endpoint?: KubeEndpoint): KubeApiError {
  if (err instanceof KubeApiError) return err;
  const e = err as { code?: unknown; body?: unknown; message?: string; cause?: { code?: string } };
  if (typeof e?.code === 'number') {
    let body: any = e.body;
    if (typeof body === 'string') {
      try {
        body = JSON.parse(body);
      } catch {
        /* plain text body */
      }
    }
    const message = typeof body === 'object' && body?.message ? String(body.message) : String(e.message ?? '').split('\n')[0];
    const noKind = e.code === 404 ? noKindMatch(String(e.message ?? '')) : undefined;
    if (noKind) {
      return new KubeApiError(
        404,
        `${what}: the API server does not serve ${noKind.apiVersion} ${noKind.kind} (is its CustomResourceDefinition installed?)`,
        { reason: 'NoKindMatch', cause: err },
      );
    }
    const condition = serverCondition(e.code);
    return new KubeApiError(e.code, `${what}: ${condition ? `${condition}: ` : ''}${message} (HTTP ${e.code})`, {
      reason: body?.reason,
      cause: err,
    });
  }
  const net = describeNetworkFailure(err);
  if (net) {
    if (endpoint)
      return new KubeUnreachableError(endpoint, { code: net.code, text: net.text, hint: networkHint(net.kind) }, { what, cause: err });
    return new KubeApiError(0, `${what}: cannot reach the API server: ${net.text}`, { retryable: true, cause: err });
  }
  // The group/version is served but not this kind: client-node says so without an HTTP status.
  const noKind = /^Unrecognized API version and kind/.test(String(e?.message ?? '')) ? noKindMatch(String(e?.message)) : undefined;
  if (noKind) {
    return new KubeApiError(
      404,
      `${what}: the API server does not serve ${noKind.apiVersion} ${noKind.kind} (is its CustomResourceDefinition installed?)`,
      { reason: 'NoKindMatch', cause: err },
    );
  }
  return new KubeApiError(0, `${what}: ${e?.message ?? String(err)}`, {
    retryable: /fetch failed|socket|network|ECONN/i.test(String(e?.message)),
    // Nothing reached the server (e.g. client-node refuses http:// without insecure-skip-tls-verify).
    hint: endpoint
      ? `the request was not sent to ${endpoint.server}: check the kubeconfig entry of context ${endpoint.context}`
      : undefined,
    cause: err,
  });
}

/** True when the error means the API server was not reached (as opposed to an answer). */
export function isUnreachable(err: unknown): boolean {
  return err instanceof KubeUnreachableError || (err instanceof KubeApiError && err.status === 0 && err.retryable);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface RetryOptions {
  attempts?: number;
  baseMs?: number;
  maxMs?: number;
  /** Deadline (epoch ms) after which no new attempt starts. */
  deadline?: number;
  /** Narrows which retryable failures are retried (default: all of them). */
  retryIf?: (err: KubeApiError) => boolean;
  onRetry?: (err: KubeApiError, attempt: number, delayMs: number) => void;
}

/** How long a watch keeps trying an API server it has not reached yet (see watchUntil). */
const FIRST_CONTACT_GRACE_MS = 5_000;

/** Retries retryable failures (network, 5xx, 429) with capped exponential backoff and jitter. */
export async function withRetry<T>(fn: () => Promise<T>, opts: RetryOptions = {}): Promise<T> {
  const attempts = opts.attempts ?? 8;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      const kerr = err instanceof KubeApiError ? err : toKubeError(err, 'request');
      const delay = Math.min(opts.maxMs ?? 3_000, (opts.baseMs ?? 100) * 2 ** (attempt - 1)) * (0.5 + Math.random() / 2);
      const outOfTime = opts.deadline !== undefined && Date.now() + delay > opts.deadline;
      if (!kerr.retryable || (opts.retryIf && !opts.retryIf(kerr)) || attempt >= attempts || outOfTime) throw kerr;
      opts.onRetry?.(kerr, attempt, Math.round(delay));
      await sleep(delay);
    }
  }
}

export class KubeClient {
  readonly context: string;
  readonly namespace: string;
  readonly kc: KubeConfig;
  private readonly objects: KubernetesObjectApi;
  private readonly lib: typeof import('@kubernetes/client-node');

  private constructor(lib: typeof import('@kubernetes/client-node'), kc: KubeConfig, namespace: string) {
    this.lib = lib;
    this.kc = kc;
    this.context = kc.getCurrentContext();
    this.namespace = namespace;
    this.objects = lib.KubernetesObjectApi.makeApiClient(kc);
  }

  /**
   * One KubeConfig object per context: never share or mutate another context's config. The
   * kubeconfig is found the way kubectl finds it: --kubeconfig, else every existing file KUBECONFIG
   * lists (merged; the first to set a value wins), else ~/.kube/config, else the pod's service
   * account; with none of these it stops with an EnvironmentError.
   */
  static async connect(target: KubeTarget = {}): Promise<KubeClient> {
    const lib = await import('@kubernetes/client-node');
    const kc = new lib.KubeConfig();
    const read = (file: string, into: KubeConfig) => {
      try {
        into.loadFromFile(file);
      } catch (err) {
        throw new UsageError(`cannot read kubeconfig ${file}: ${(err as Error).message.split('\n')[0]}`, {
          hint: 'fix the file, or point KUBECONFIG (or --kubeconfig) at a valid kubeconfig',
        });
      }
    };
    if (target.kubeconfig) {
      if (!existsSync(target.kubeconfig)) {
        throw new UsageError(`kubeconfig ${target.kubeconfig} does not exist`, {
          hint: 'pass --kubeconfig an existing file, or leave it out to use KUBECONFIG / ~/.kube/config',
        });
      }
      read(target.kubeconfig, kc);
    } else {
      const search = findKubeconfig(target.env);
      if (search.existing.length) {
        read(search.existing[0], kc);
        for (const file of search.existing.slice(1)) {
          const more = new lib.KubeConfig();
          read(file, more);
          try {
            kc.mergeConfig(more, Boolean(kc.currentContext));
          } catch (err) {
            throw new UsageError(`cannot merge kubeconfig ${file}: ${(err as Error).message}`, {
              hint: 'give clusters, users and contexts unique names across the KUBECONFIG files',
            });
          }
        }
      } else if (existsSync(SERVICE_ACCOUNT_TOKEN)) {
        kc.loadFromCluster();
      } else {
        throw noKubeconfig(search);
      }
    }
    if (target.context) {
      if (!kc.getContextObject(target.context)) {
        throw new UsageError(`context '${target.context}' is not in the kubeconfig`, {
          hint: `known contexts: ${
            kc
              .getContexts()
              .map((c) => c.name)
              .join(', ') || '(none)'
          }`,
        });
      }
      kc.setCurrentContext(target.context);
    }
    if (!kc.getCurrentCluster()) {
      throw new UsageError(
        kc.getCurrentContext()
          ? `context '${kc.getCurrentContext()}' names no cluster in the kubeconfig`
          : 'the kubeconfig sets no current context',
        {
          hint: `pass --context (known contexts: ${
            kc
              .getContexts()
              .map((c) => c.name)
              .join(', ') || '(none)'
          })`,
        },
      );
    }
    const ctxNamespace = kc.getContextObject(kc.getCurrentContext())?.namespace;
    return new KubeClient(lib, kc, target.namespace ?? ctxNamespace ?? 'default');
  }

  /** The API server URL and context this client talks to (for messages). */
  get endpoint(): KubeEndpoint {
    return { server: this.kc.getCurrentCluster()?.server ?? '(no server)', context: this.context };
  }

  private header(ref: ObjRef) {
    return { apiVersion: ref.apiVersion, kind: ref.kind, metadata: { name: ref.name, namespace: ref.namespace ?? this.namespace } };
  }

  describe(ref: ObjRef): string {
    return `${ref.kind}/${ref.name} in ${ref.namespace ?? this.namespace} (context ${this.context})`;
  }

  async get<T extends KObj = KObj>(ref: ObjRef): Promise<T | null> {
    const read = async () => {
      try {
        return (await this.objects.read(this.header(ref))) as T;
      } catch (err) {
        const kerr = toKubeError(err, `get ${this.describe(ref)}`, this.endpoint);
        // Only a real 404 from the server means absent; an API group that is not served is an error.
        if (kerr.status === 404 && kerr.reason !== 'NoKindMatch') return null;
        throw kerr;
      }
    };
    return withRetry(read, READ_RETRY);
  }

  /** Deletes the object; false when it was already gone. */
  async delete(ref: ObjRef): Promise<boolean> {
    try {
      await this.objects.delete(this.header(ref));
      return true;
    } catch (err) {
      const kerr = toKubeError(err, `delete ${this.describe(ref)}`, this.endpoint);
      if (kerr.status === 404 && kerr.reason !== 'NoKindMatch') return false;
      throw kerr;
    }
  }

  async mustGet<T extends KObj = KObj>(ref: ObjRef): Promise<T> {
    const obj = await this.get<T>(ref);
    if (!obj) throw new KubeApiError(404, `${this.describe(ref)} not found`, { retryable: false });
    return obj;
  }

  /**
   * JSON merge patch. With `resourceVersion` the server rejects the patch with 409 if the object
   * changed since it was read (optimistic concurrency).
   */
  async mergePatch<T extends KObj = KObj>(
    ref: ObjRef,
    patch: Record<string, any>,
    opts: { resourceVersion?: string; dryRun?: boolean } = {},
  ): Promise<T> {
    const body = {
      ...patch,
      ...this.header(ref),
      metadata: {
        ...(patch.metadata ?? {}),
        name: ref.name,
        namespace: ref.namespace ?? this.namespace,
        ...(opts.resourceVersion ? { resourceVersion: opts.resourceVersion } : {}),
      },
    };
    try {
      return (await this.objects.patch(
        body as KObj,
        undefined,
        opts.dryRun ? 'All' : undefined,
        FIELD_MANAGER,
        undefined,
        this.lib.PatchStrategy.MergePatch,
      )) as T;
    } catch (err) {
      throw toKubeError(err, `patch ${this.describe(ref)}`, this.endpoint);
    }
  }

  /** Server-side apply with field manager `vpm` (force: take over fields another manager owns). */
  async apply<T extends KObj = KObj>(
    obj: KObj,
    opts: {
      dryRun?: boolean;
      force?: boolean /** Own field manager: fields it no longer sends are removed. */;
      fieldManager?: string;
    } = {},
  ): Promise<T> {
    const body = {
      ...obj,
      metadata: { ...obj.metadata, namespace: obj.metadata.namespace ?? ((await this.isNamespaced(obj)) ? this.namespace : undefined) },
    };
    delete (body.metadata as Record<string, unknown>).managedFields;
    delete (body.metadata as Record<string, unknown>).resourceVersion;
    try {
      return (await this.objects.patch(
        body as KObj,
        undefined,
        opts.dryRun ? 'All' : undefined,
        opts.fieldManager ?? FIELD_MANAGER,
        opts.force ?? true,
        this.lib.PatchStrategy.ServerSideApply,
      )) as T;
    } catch (err) {
      throw toKubeError(err, `apply ${obj.kind}/${obj.metadata.name}`, this.endpoint);
    }
  }

  private async isNamespaced(obj: KObj): Promise<boolean> {
    // Cluster-scoped kinds vpm may apply; everything else is namespaced.
    return ![
      'Namespace',
      'CustomResourceDefinition',
      'ClusterRole',
      'ClusterRoleBinding',
      'StorageClass',
      'PersistentVolume',
      'ValidatingAdmissionPolicy',
      'ValidatingAdmissionPolicyBinding',
    ].includes(obj.kind);
  }

  async list<T extends KObj = KObj>(apiVersion: string, kind: string, namespace?: string, labelSelector?: string): Promise<T[]> {
    const list = async () => {
      try {
        const res = await this.objects.list(
          apiVersion,
          kind,
          namespace ?? this.namespace,
          undefined,
          undefined,
          undefined,
          undefined,
          labelSelector,
        );
        return res.items as T[];
      } catch (err) {
        throw toKubeError(err, `list ${kind} in ${namespace ?? this.namespace} (context ${this.context})`, this.endpoint);
      }
    };
    return withRetry(list, READ_RETRY);
  }

  /** `/version` of the API server, with a client-side timeout (used as a reachability check). */
  async version(timeoutMs = 5_000): Promise<{ gitVersion: string }> {
    const api = this.kc.makeApiClient(this.lib.VersionApi);
    const timeout = new Promise<never>((_, reject) =>
      setTimeout(
        () =>
          reject(
            new KubeUnreachableError(
              this.endpoint,
              { code: 'timeout', text: `no answer within ${timeoutMs} ms (timeout)`, hint: networkHint('timeout') },
              { what: 'GET /version' },
            ),
          ),
        timeoutMs,
      ).unref(),
    );
    try {
      return (await Promise.race([api.getCode(), timeout])) as { gitVersion: string };
    } catch (err) {
      throw toKubeError(err, `reach API server of context ${this.context}`, this.endpoint);
    }
  }

  /**
   * Watches one object (list+watch by field selector) and calls `onObject` with every version seen,
   * starting with the current one. Re-establishes the watch when the server closes it or restarts.
   * Resolves when `onObject` returns true.
   *
   * An API server that cannot be reached within a few seconds of the first read fails then (a
   * KubeUnreachableError): waiting out the whole deadline would only end in a misleading "does not
   * exist". Once it has
   * answered, outages are waited through (a restart is normal); if the deadline passes while it is
   * still unreachable, that KubeUnreachableError is thrown. Otherwise `signal` aborting rejects with
   * a plain Error carrying the last object seen (`last`).
   */
  async watchUntil<T extends KObj = KObj>(
    ref: ObjRef,
    plural: string,
    onObject: (obj: T | null) => boolean,
    signal: AbortSignal,
  ): Promise<T> {
    const ns = ref.namespace ?? this.namespace;
    const [group, version] = ref.apiVersion.includes('/') ? ref.apiVersion.split('/') : ['', ref.apiVersion];
    const path = group ? `/apis/${group}/${version}/namespaces/${ns}/${plural}` : `/api/${version}/namespaces/${ns}/${plural}`;
    const watch = new this.lib.Watch(this.kc);
    let last: T | null = null;
    let reached = false;
    let outage: KubeApiError | undefined;
    const firstTry = Date.now();
    for (let attempt = 0; !signal.aborted; attempt++) {
      let current: T | null;
      try {
        current = await this.get<T>(ref);
        reached = true;
        outage = undefined;
      } catch (err) {
        const kerr = err instanceof KubeApiError ? err : toKubeError(err, `get ${this.describe(ref)}`, this.endpoint);
        if (!kerr.retryable) throw kerr;
        // A server never reached is given a few seconds (a restart in progress answers again within
        // them); after that it is reported unreachable instead of waiting out the whole deadline.
        if (!reached && isUnreachable(kerr) && Date.now() - firstTry >= FIRST_CONTACT_GRACE_MS) throw kerr;
        outage = kerr;
        if (signal.aborted) break;
        await sleep(Math.min(2_000, 100 * 2 ** Math.min(attempt, 5)));
        continue;
      }
      last = current;
      if (onObject(current)) return current!;
      const done = await new Promise<T | null>((resolve) => {
        let controller: AbortController | undefined;
        const onAbort = () => {
          controller?.abort();
          resolve(null);
        };
        signal.addEventListener('abort', onAbort, { once: true });
        watch
          .watch(
            path,
            { fieldSelector: `metadata.name=${ref.name}`, resourceVersion: current?.metadata.resourceVersion, allowWatchBookmarks: true },
            (phase, obj: T) => {
              if (phase === 'BOOKMARK') return;
              last = phase === 'DELETED' ? null : obj;
              if (onObject(last)) {
                signal.removeEventListener('abort', onAbort);
                controller?.abort();
                resolve(last ?? obj);
              }
            },
            () => {
              signal.removeEventListener('abort', onAbort);
              resolve(null);
            },
          )
          .then((c) => {
            controller = c;
            if (signal.aborted) c.abort();
          })
          .catch(() => {
            signal.removeEventListener('abort', onAbort);
            resolve(null);
          });
      });
      if (done) return done;
      if (!signal.aborted) await sleep(Math.min(2_000, 100 * 2 ** Math.min(attempt, 5)));
    }
    if (outage && isUnreachable(outage)) throw outage;
    throw Object.assign(new Error('watch aborted'), { last });
  }
}
