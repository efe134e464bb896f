/**
 * Argo CD simulator: plays the application controller and the ApplicationSet controller against
 * real API servers (Applications live on the management cluster, namespace `argocd`).
 *
 * Applications (`argoproj.io/v1alpha1`, namespace argocd):
 *  - Sync is requested the way the Argo CD CLI/UI does it: patch the top-level `operation` field
 *      kubectl -n argocd patch app root-app-cluster-a --type merge -p \
 *        '{"operation":{"initiatedBy":{"username":"vpm"},"sync":{"revision":"HEAD","prune":false}}}'
 *    The simulator then writes `status.operationState` {operation, phase: Running, message,
 *    startedAt}, reads the manifests, server-side applies them (field manager `argocd-controller`,
 *    tracking annotation `argocd.argoproj.io/tracking-id`, as Argo CD v3) to the destination cluster, and finishes
 *    with phase Succeeded or Failed (+ `finishedAt`, `message`, `syncResult.{revision, source,
 *    resources[]}`), `status.sync` {status Synced|OutOfSync, revision, comparedTo},
 *    `status.health.status` (Healthy|Progressing|Degraded|Missing), `status.resources[]`,
 *    `status.history[]`, `status.reconciledAt`, `status.summary`; then removes `operation`
 *    (only if it was not replaced meanwhile). `operation.retry.limit` retries failed syncs (1 s apart).
 *  - Destination: `spec.destination.name` (cluster-a, cluster-b, … = kubeconfig context names,
 *    also `in-cluster` = the management cluster) or `spec.destination.server` (a cluster's API URL,
 *    or https://kubernetes.default.svc = management cluster). Unknown → sync Failed.
 *  - Manifests: `spec.source.path` relative to the repository directory. The repository is
 *    `spec.source.repoURL` when it is a local path or file:// URL (tests can point at a temp git
 *    repo), otherwise the directory given to the simulator (the vpm checkout). Files are read from
 *    the working tree (not from a commit); `syncResult.revision` is `git rev-parse HEAD` of the
 *    repository (or `working-tree` when it is not a git repo). A directory with kustomization.yaml
 *    gets a minimal kustomize (resources, namespace, commonLabels, commonAnnotations, namePrefix);
 *    otherwise every *.yaml/*.yml/*.json in it (recursively with `source.directory.recurse: true`).
 *  - Refresh every `refreshMs` (default 5 s) and on every change of an Application: compares the
 *    desired manifests with the live objects (desired fields ⊆ live) → Synced/OutOfSync, computes
 *    health (KService by its Ready condition: True→Healthy, False→Degraded, else Progressing; other
 *    kinds Healthy when present; absent → Missing) and updates `reconciledAt`.
 *    `spec.syncPolicy.automated` syncs automatically when OutOfSync (prune with `automated.prune`).
 *  - Prune (`operation.sync.prune` or automated.prune) deletes objects listed in the previous
 *    `status.resources` that are no longer in the manifests.
 *
 * ApplicationSets (namespace argocd): `list` generators (`spec.generators[].list.elements`) and
 * `clusters` generators (params name, nameNormalized, server for every known cluster) produce one
 * Application per parameter set from `spec.template`, with `{{name}}` / `{{ name }}` (fasttemplate)
 * or `{{.name}}` / `{{ .name }}` (goTemplate) substitution, dotted paths allowed (`{{values.x}}`).
 * Applications are server-side applied (field manager `applicationset-controller`), owned by the
 * ApplicationSet, and deleted when no longer generated. Status conditions ErrorOccurred,
 * ParametersGenerated, ResourcesUpToDate and `status.resources` are written.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { type Kube, KubeError, keyOf, retrying, type Informer, type KObj } from './kube.ts';

const API = 'argoproj.io/v1alpha1';
// Argo CD v3 tracks by annotation (application.resourceTrackingMethod: annotation, the default).
const TRACKING_ANNOTATION = 'argocd.argoproj.io/tracking-id';
const IN_CLUSTER_SERVER = 'https://kubernetes.default.svc';

export type ArgoCdSimOptions = {
  /** Management cluster (holds Applications/ApplicationSets). */
  kube: Kube;
  namespace?: string;
  /** Destination clusters by name (kubeconfig context name) with their API server URL. */
  clusters: Record<string, { kube: Kube; server: string }>;
  /** Name of the management cluster in `clusters` (`in-cluster` and https://kubernetes.default.svc map to it). */
  inCluster: string;
  repoDir: string;
  refreshMs?: number;
  log?: (m: string) => void;
};

type Health = 'Healthy' | 'Progressing' | 'Degraded' | 'Missing' | 'Suspended' | 'Unknown';
const HEALTH_ORDER: Health[] = ['Healthy', 'Suspended', 'Progressing', 'Missing', 'Degraded', 'Unknown'];
const worst = (hs: Health[]): Health => hs.reduce<Health>((w, h) => (HEALTH_ORDER.indexOf(h) > HEALTH_ORDER.indexOf(w) ? h : w), 'Healthy');

type ResourceStatus = {
  group: string;
  version: string;
  kind: string;
  namespace?: string;
  name: string;
  status: 'Synced' | 'OutOfSync';
  health?: { status: Health; message?: string };
};

const now = () => new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const clone = <T>(x: T): T => JSON.parse(JSON.stringify(x));

export class ArgoCdSim {
  private readonly kube: Kube;
  private readonly ns: string;
  private clusters: ArgoCdSimOptions['clusters'];
  private readonly inCluster: string;
  private readonly repoDir: string;
  private readonly refreshMs: number;
  private readonly log: (m: string) => void;
  private apps!: Informer;
  private appsets!: Informer;
  private readonly running = new Map<string, Promise<void>>();
  private readonly queue = new Map<string, { running: boolean; dirty: boolean }>();
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  /** Syncs performed (tests). */
  syncs = 0;

  constructor(o: ArgoCdSimOptions) {
    this.kube = o.kube;
    this.ns = o.namespace ?? 'argocd';
    this.clusters = o.clusters;
    this.inCluster = o.inCluster;
    this.repoDir = o.repoDir;
    this.refreshMs = o.refreshMs ?? Number(process.env.VPM_ARGOCD_REFRESH_MS ?? 5000);
    this.log = o.log ?? (() => undefined);
  }

  async start(): Promise<void> {
    await retrying(() => this.kube.ensureNamespace(this.ns));
    this.apps = this.kube.informer(
      `/apis/${API}/namespaces/${this.ns}/applications`,
      {
        onUpsert: (a, old) => {
          // Our own status writes come back as events: only react to spec/operation changes.
          if (
            !old ||
            JSON.stringify([a.spec, a.operation, a.metadata.generation]) !==
              JSON.stringify([old.spec, old.operation, old.metadata.generation])
          )
            this.enqueue(`app:${keyOf(a)}`);
        },
      },
      { log: this.log },
    );
    this.appsets = this.kube.informer(
      `/apis/${API}/namespaces/${this.ns}/applicationsets`,
      {
        onUpsert: (s, old) => {
          if (!old || old.metadata.generation !== s.metadata.generation) this.enqueue(`set:${keyOf(s)}`);
        },
      },
      { log: this.log },
    );
    await Promise.all([this.apps.waitForSync(), this.appsets.waitForSync()]);
    this.timer = setInterval(() => {
      for (const k of this.apps.cache.keys()) this.enqueue(`app:${k}`);
      for (const k of this.appsets.cache.keys()) this.enqueue(`set:${k}`);
    }, this.refreshMs);
    this.timer.unref();
  }

  /** Replaces the set of destination clusters (a cluster was added to the environment). */
  setClusters(clusters: ArgoCdSimOptions['clusters']): void {
    this.clusters = clusters;
    for (const k of this.appsets?.cache.keys() ?? []) this.enqueue(`set:${k}`);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.apps?.stop();
    this.appsets?.stop();
    await Promise.allSettled([...this.running.values()]);
  }

  private enqueue(key: string): void {
    if (this.stopped) return;
    let q = this.queue.get(key);
    if (!q) this.queue.set(key, (q = { running: false, dirty: false }));
    if (q.running) {
      q.dirty = true;
      return;
    }
    q.running = true;
    void (async () => {
      do {
        q!.dirty = false;
        try {
          if (key.startsWith('app:')) await this.reconcileApp(key.slice(4));
          else await this.reconcileAppSet(key.slice(4));
        } catch (e) {
          if (!this.stopped) {
            this.log(`reconcile ${key}: ${(e as Error).message}`);
            await sleep(500);
            q!.dirty = true;
          }
        }
      } while (q!.dirty && !this.stopped);
      q!.running = false;
    })();
  }

  // ------------------------------------------------------------------------------------------
  // Applications

  private appPath(name: string): string {
    return `/apis/${API}/namespaces/${this.ns}/applications/${name}`;
  }

  private async reconcileApp(key: string): Promise<void> {
    const app = this.apps.cache.get(key);
    if (!app || app.metadata.deletionTimestamp) return;
    if (this.running.has(key)) return;
    if (app.operation?.sync) {
      const p = this.runSync(app).finally(() => {
        this.running.delete(key);
        this.enqueue(`app:${key}`);
      });
      this.running.set(key, p);
      return;
    }
    const cmp = await this.compare(app);
    if (cmp.sync === 'OutOfSync' && app.spec?.syncPolicy?.automated && !cmp.error) {
      const operation = {
        initiatedBy: { automated: true },
        sync: { revision: cmp.revision, prune: !!app.spec.syncPolicy.automated.prune },
        ...(app.spec.syncPolicy.retry ? { retry: app.spec.syncPolicy.retry } : {}),
      };
      const last = app.status?.operationState;
      // Like Argo CD: do not auto-sync the same revision again after it failed.
      if (!(last?.phase === 'Failed' && last?.syncResult?.revision === cmp.revision && last?.operation?.initiatedBy?.automated)) {
        await this.kube.mergePatch(this.appPath(app.metadata.name), { operation });
        return;
      }
    }
    await this.kube.patchStatus(this.appPath(app.metadata.name), { status: this.comparisonStatus(app, cmp) });
    // Real Argo CD re-evaluates health on watch events of the managed resources; poll while progressing.
    if (cmp.health === 'Progressing') setTimeout(() => this.enqueue(`app:${key}`), 300).unref();
  }

  private comparisonStatus(app: KObj, cmp: Comparison): Record<string, unknown> {
    return {
      sync: {
        status: cmp.sync,
        revision: cmp.revision,
        comparedTo: { source: app.spec?.source ?? null, destination: app.spec?.destination ?? null },
      },
      health: { status: cmp.health },
      resources: cmp.resources,
      reconciledAt: now(),
      observedAt: now(),
      sourceType: cmp.sourceType,
      summary: cmp.summary,
      conditions: cmp.error ? [{ type: 'ComparisonError', message: cmp.error, lastTransitionTime: now() }] : null,
    };
  }

  private destination(app: KObj): { name: string; kube: Kube } | undefined {
    const d = app.spec?.destination ?? {};
    if (d.name) {
      const n = d.name === 'in-cluster' ? this.inCluster : d.name;
      const c = this.clusters[n];
      return c ? { name: n, kube: c.kube } : undefined;
    }
    if (d.server) {
      if (d.server.replace(/\/$/, '') === IN_CLUSTER_SERVER) return { name: this.inCluster, kube: this.clusters[this.inCluster].kube };
      const hit = Object.entries(this.clusters).find(([, c]) => c.server.replace(/\/$/, '') === d.server.replace(/\/$/, ''));
      return hit ? { name: hit[0], kube: hit[1].kube } : undefined;
    }
    return undefined;
  }

  private repoFor(app: KObj): string {
    const url: string | undefined = app.spec?.source?.repoURL;
    if (url?.startsWith('file://')) return fileURLToPath(url);
    if (url && path.isAbsolute(url) && fs.existsSync(url)) return url;
    return this.repoDir;
  }

  private revisionOf(repo: string): string {
    try {
      return execFileSync('git', ['-C', repo, 'rev-parse', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    } catch {
      return 'working-tree';
    }
  }

  /** Desired objects of an app (namespace defaulted later, tracking label added). */
  private manifests(app: KObj): { objects: KObj[]; revision: string; sourceType: string } {
    const src = app.spec?.source;
    if (!src) throw new Error('spec.source is required (multi-source apps are not simulated)');
    const repo = this.repoFor(app);
    const dir = path.resolve(repo, src.path ?? '.');
    if (!dir.startsWith(path.resolve(repo))) throw new Error(`path ${src.path} escapes the repository`);
    if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new Error(`app path does not exist: ${src.path}`);
    const kfile = ['kustomization.yaml', 'kustomization.yml', 'Kustomization'].map((f) => path.join(dir, f)).find((f) => fs.existsSync(f));
    const objects = kfile ? kustomize(kfile) : readDir(dir, !!src.directory?.recurse);
    return { objects, revision: this.revisionOf(repo), sourceType: kfile ? 'Kustomize' : 'Directory' };
  }

  private async compare(app: KObj): Promise<Comparison> {
    let desired: ReturnType<ArgoCdSim['manifests']>;
    try {
      desired = this.manifests(app);
    } catch (e) {
      return {
        sync: 'Unknown',
        health: 'Unknown',
        revision: '',
        resources: [],
        error: (e as Error).message,
        sourceType: 'Directory',
        summary: {},
      };
    }
    const dest = this.destination(app);
    if (!dest)
      return {
        sync: 'Unknown',
        health: 'Unknown',
        revision: desired.revision,
        resources: [],
        error: `cluster ${JSON.stringify(app.spec?.destination ?? {})} is not configured`,
        sourceType: desired.sourceType,
        summary: {},
      };
    const resources: ResourceStatus[] = [];
    const healths: Health[] = [];
    const images = new Set<string>();
    for (const obj0 of desired.objects) {
      const obj = await this.prepare(obj0, app, dest.kube);
      const [group, version] = obj.apiVersion!.includes('/') ? obj.apiVersion!.split('/') : ['', obj.apiVersion!];
      let live: KObj | null = null;
      try {
        live = await dest.kube.getOrNull(await dest.kube.pathFor(obj));
      } catch (e) {
        if (!(e instanceof KubeError)) throw e;
      }
      const inSync = !!live && isSubset(stripForCompare(obj), live);
      for (const c of obj.spec?.template?.spec?.containers ?? []) if (c?.image) images.add(c.image);
      resources.push({
        group,
        version,
        kind: obj.kind!,
        ...(obj.metadata.namespace ? { namespace: obj.metadata.namespace } : {}),
        name: obj.metadata.name,
        status: inSync ? 'Synced' : 'OutOfSync',
      });
      healths.push(healthOf(obj.kind!, live));
    }
    return {
      sync: resources.every((r) => r.status === 'Synced') ? 'Synced' : 'OutOfSync',
      // Argo CD v3 does not persist per-resource health in status.resources; only the app's health.
      health: worst(healths),
      revision: desired.revision,
      resources,
      sourceType: desired.sourceType,
      summary: images.size ? { images: [...images].sort() } : {},
    };
  }

  private async prepare(obj0: KObj, app: KObj, kube: Kube): Promise<KObj> {
    const obj = clone(obj0);
    if (!obj.apiVersion || !obj.kind || !obj.metadata?.name)
      throw new Error(`manifest without apiVersion/kind/metadata.name: ${JSON.stringify(obj0).slice(0, 200)}`);
    const info = await kube.resourceFor(obj.apiVersion, obj.kind);
    if (info.namespaced && !obj.metadata.namespace) obj.metadata.namespace = app.spec?.destination?.namespace || 'default';
    const group = obj.apiVersion.includes('/') ? obj.apiVersion.split('/')[0] : '';
    obj.metadata.annotations = {
      ...(obj.metadata.annotations ?? {}),
      [TRACKING_ANNOTATION]: `${app.metadata.name}:${group}/${obj.kind}:${obj.metadata.namespace ?? ''}/${obj.metadata.name}`,
    };
    return obj;
  }

  private async runSync(app0: KObj): Promise<void> {
    const name = app0.metadata.name;
    // As stored by the real API server: `automated: false` dropped (omitempty), `retry: {}` added.
    const requested = clone(app0.operation);
    const operation = clone(app0.operation);
    if (operation.initiatedBy?.automated === false) delete operation.initiatedBy.automated;
    operation.retry ??= {};
    const startedAt = now();
    const limit = Number(operation.retry?.limit ?? 0);
    this.syncs++;
    await retrying(() =>
      this.kube.patchStatus(this.appPath(name), {
        status: {
          operationState: {
            operation,
            phase: 'Running',
            message: 'Sync operation in progress',
            startedAt,
            finishedAt: null,
            syncResult: null,
          },
        },
      }),
    );
    let attempt = 0;
    let outcome: { phase: 'Succeeded' | 'Failed' | 'Error'; message: string; revision: string; resources: any[] };
    for (;;) {
      outcome = await this.applyOnce(app0, operation);
      if (outcome.phase === 'Succeeded' || attempt >= limit || this.stopped) break;
      attempt++;
      await retrying(() =>
        this.kube.patchStatus(this.appPath(name), {
          status: {
            operationState: {
              operation,
              phase: 'Running',
              message: `${outcome.message}. Retrying attempt #${attempt}`,
              startedAt,
              retryCount: attempt,
            },
          },
        }),
      );
      await sleep(1000);
    }
    const latest = this.apps.cache.get(keyOf(app0)) ?? app0;
    const cmp = await this.compare(latest).catch(
      (e) =>
        ({
          sync: 'Unknown',
          health: 'Unknown',
          revision: outcome.revision,
          resources: [],
          error: (e as Error).message,
          sourceType: 'Directory',
          summary: {},
        }) as Comparison,
    );
    const finishedAt = now();
    const history = [...(latest.status?.history ?? [])];
    if (outcome.phase === 'Succeeded') {
      history.push({
        id: (history.at(-1)?.id ?? -1) + 1,
        revision: outcome.revision,
        deployStartedAt: startedAt,
        deployedAt: finishedAt,
        source: latest.spec?.source,
        initiatedBy: operation.initiatedBy,
      });
    }
    await retrying(() =>
      this.kube.patchStatus(this.appPath(name), {
        status: {
          ...this.comparisonStatus(latest, cmp),
          operationState: {
            operation,
            phase: outcome.phase,
            message: outcome.message,
            startedAt,
            finishedAt,
            ...(attempt ? { retryCount: attempt } : {}),
            syncResult: { revision: outcome.revision, source: latest.spec?.source ?? null, resources: outcome.resources },
          },
          history: history.slice(-Number(latest.spec?.revisionHistoryLimit ?? 10)),
        },
      }),
    );
    // Clear `operation` only if it is still the one we ran (a new request may have arrived).
    try {
      await retrying(
        () =>
          this.kube.jsonPatch(this.appPath(name), [
            { op: 'test', path: '/operation', value: requested },
            { op: 'remove', path: '/operation' },
          ]),
        { attempts: 10 },
      );
    } catch (e) {
      if (!(e instanceof KubeError && (e.status === 422 || e.status === 409 || e.status === 404))) throw e;
    }
    this.log(`sync ${name}: ${outcome.phase} (${outcome.message})`);
  }

  private async applyOnce(
    app: KObj,
    operation: any,
  ): Promise<{ phase: 'Succeeded' | 'Failed' | 'Error'; message: string; revision: string; resources: any[] }> {
    let desired: ReturnType<ArgoCdSim['manifests']>;
    try {
      desired = this.manifests(app);
    } catch (e) {
      return { phase: 'Error', message: `ComparisonError: ${(e as Error).message}`, revision: '', resources: [] };
    }
    const dest = this.destination(app);
    if (!dest)
      return {
        phase: 'Error',
        message: `application destination ${JSON.stringify(app.spec?.destination ?? {})} is not configured`,
        revision: desired.revision,
        resources: [],
      };
    // Like the real controller: only the operation's syncOptions count (argocd-server's Sync API copies
    // spec.syncPolicy.syncOptions into it; a raw patch of `operation` must do the same).
    const opts: string[] = [...(operation.sync?.syncOptions ?? [])];
    const results: any[] = [];
    let failed = 0;
    if (opts.includes('CreateNamespace=true') && app.spec?.destination?.namespace)
      await dest.kube.ensureNamespace(app.spec.destination.namespace);
    const keep = new Set<string>();
    for (const o of desired.objects) {
      let obj: KObj | undefined;
      const [group, version] = (o.apiVersion ?? '').includes('/') ? o.apiVersion!.split('/') : ['', o.apiVersion ?? ''];
      const base = {
        group,
        version,
        kind: o.kind,
        namespace: o.metadata?.namespace ?? app.spec?.destination?.namespace ?? '',
        name: o.metadata?.name,
        hookPhase: 'Running',
        syncPhase: 'Sync',
      };
      try {
        obj = await this.prepare(o, app, dest.kube);
        base.namespace = obj.metadata.namespace ?? '';
        keep.add(`${obj.apiVersion}/${obj.kind}/${obj.metadata.namespace ?? ''}/${obj.metadata.name}`);
        const existed = !!(await dest.kube.getOrNull(await dest.kube.pathFor(obj)));
        await dest.kube.apply(obj, 'argocd-controller', { force: true });
        results.push({
          ...base,
          status: 'Synced',
          message: `${o.kind!.toLowerCase()}.${group || 'core'}/${o.metadata.name} ${existed ? 'configured' : 'created'}`,
        });
      } catch (e) {
        failed++;
        results.push({ ...base, status: 'SyncFailed', hookPhase: 'Failed', message: (e as Error).message });
      }
    }
    const prune = operation.sync?.prune || app.spec?.syncPolicy?.automated?.prune;
    if (prune && !failed) {
      for (const r of app.status?.resources ?? []) {
        const apiVersion = r.group ? `${r.group}/${r.version}` : r.version;
        if (keep.has(`${apiVersion}/${r.kind}/${r.namespace ?? ''}/${r.name}`)) continue;
        try {
          await dest.kube.delete(await dest.kube.pathFor({ apiVersion, kind: r.kind, metadata: { name: r.name, namespace: r.namespace } }));
          results.push({
            group: r.group,
            version: r.version,
            kind: r.kind,
            namespace: r.namespace ?? '',
            name: r.name,
            status: 'Pruned',
            message: 'pruned',
            hookPhase: 'Succeeded',
            syncPhase: 'Sync',
          });
        } catch (e) {
          failed++;
          results.push({
            group: r.group,
            version: r.version,
            kind: r.kind,
            namespace: r.namespace ?? '',
            name: r.name,
            status: 'SyncFailed',
            message: (e as Error).message,
            hookPhase: 'Failed',
            syncPhase: 'Sync',
          });
        }
      }
    }
    if (failed) {
      const first = results.find((r) => r.status === 'SyncFailed');
      return {
        phase: 'Failed',
        message: `one or more objects failed to apply, reason: ${first?.message}`,
        revision: desired.revision,
        resources: results,
      };
    }
    return {
      phase: 'Succeeded',
      message: 'successfully synced (all tasks run)',
      revision: desired.revision,
      resources: results.map((r) => ({ ...r, hookPhase: 'Running' })),
    };
  }

  // ------------------------------------------------------------------------------------------
  // ApplicationSets

  private async reconcileAppSet(key: string): Promise<void> {
    const set = this.appsets.cache.get(key);
    if (!set || set.metadata.deletionTimestamp) return;
    const setPath = `/apis/${API}/namespaces/${this.ns}/applicationsets/${set.metadata.name}`;
    const goTemplate = !!set.spec?.goTemplate;
    let params: Array<Record<string, unknown>>;
    try {
      params = (set.spec?.generators ?? []).flatMap((g: any) => this.generate(g));
    } catch (e) {
      await this.kube.patchStatus(setPath, { status: { conditions: appsetConditions((e as Error).message) } });
      return;
    }
    const wanted = new Map<string, KObj>();
    for (const p of params) {
      const t = render(clone(set.spec.template ?? {}), p, goTemplate);
      const meta = t.metadata ?? {};
      if (!meta.name) throw new Error(`ApplicationSet ${set.metadata.name}: template.metadata.name is empty`);
      wanted.set(meta.name, {
        apiVersion: API,
        kind: 'Application',
        metadata: {
          name: meta.name,
          namespace: this.ns,
          labels: meta.labels,
          annotations: meta.annotations,
          finalizers: meta.finalizers,
          ownerReferences: [
            {
              apiVersion: API,
              kind: 'ApplicationSet',
              name: set.metadata.name,
              uid: set.metadata.uid,
              controller: true,
              blockOwnerDeletion: true,
            },
          ],
        },
        spec: t.spec,
      });
    }
    for (const app of wanted.values()) await this.kube.apply(app, 'applicationset-controller', { force: true });
    const policy = set.spec?.syncPolicy?.applicationsSync;
    if (policy !== 'create-only' && policy !== 'create-update' && !set.spec?.syncPolicy?.preserveResourcesOnDeletion) {
      for (const a of this.apps.cache.values()) {
        const owned = (a.metadata.ownerReferences ?? []).some((o: any) => o.kind === 'ApplicationSet' && o.uid === set.metadata.uid);
        if (owned && !wanted.has(a.metadata.name)) await this.kube.delete(this.appPath(a.metadata.name));
      }
    }
    const resources = [...wanted.keys()].sort().map((n) => {
      const live = this.apps.cache.get(`${this.ns}/${n}`);
      return {
        group: 'argoproj.io',
        version: 'v1alpha1',
        kind: 'Application',
        name: n,
        namespace: this.ns,
        status: live?.status?.sync?.status ?? 'Unknown',
        health: { status: live?.status?.health?.status ?? 'Unknown' },
      };
    });
    const prev = set.status ?? {};
    const next = { conditions: appsetConditions(), resources };
    const strip = (s: any) => JSON.stringify(s, (k, v) => (k === 'lastTransitionTime' ? undefined : v));
    if (strip(prev.conditions) !== strip(next.conditions) || strip(prev.resources) !== strip(next.resources)) {
      await this.kube.patchStatus(setPath, { status: next });
    }
  }

  private generate(g: any): Array<Record<string, unknown>> {
    if (g.list) {
      const els = g.list.elements ?? [];
      if (!Array.isArray(els)) throw new Error('list generator: elements must be a list');
      return els.map((e: any) => ({ ...e }));
    }
    if (g.clusters) {
      return Object.entries(this.clusters).map(([name, c]) => ({
        name,
        nameNormalized: name.toLowerCase().replace(/[^a-z0-9-.]/g, '-'),
        server: name === this.inCluster ? IN_CLUSTER_SERVER : c.server,
        metadata: { labels: {}, annotations: {} },
        ...(g.clusters.values ? { values: g.clusters.values } : {}),
      }));
    }
    throw new Error(`unsupported generator ${Object.keys(g).join(',')} (the simulator supports list and clusters)`);
  }
}

type Comparison = {
  sync: 'Synced' | 'OutOfSync' | 'Unknown';
  health: Health;
  revision: string;
  resources: ResourceStatus[];
  error?: string;
  sourceType: string;
  summary: Record<string, unknown>;
};

function appsetConditions(error?: string): any[] {
  const t = now();
  return [
    {
      type: 'ErrorOccurred',
      status: error ? 'True' : 'False',
      reason: error ? 'ApplicationGenerationFromParamsError' : 'ApplicationSetUpToDate',
      message: error ?? 'Successfully generated parameters for all Applications',
      lastTransitionTime: t,
    },
    {
      type: 'ParametersGenerated',
      status: error ? 'False' : 'True',
      reason: error ? 'ErrorOccurred' : 'ParametersGenerated',
      message: error ?? 'Successfully generated parameters for all Applications',
      lastTransitionTime: t,
    },
    {
      type: 'ResourcesUpToDate',
      status: error ? 'False' : 'True',
      reason: error ? 'ErrorOccurred' : 'ApplicationSetUpToDate',
      message: error ?? 'ApplicationSet up to date',
      lastTransitionTime: t,
    },
  ];
}

/** Substitutes {{name}} / {{ .name }} / {{values.x}} placeholders in every string of `v`. */
export function render(v: any, params: Record<string, unknown>, goTemplate: boolean): any {
  if (typeof v === 'string') {
    const re = goTemplate ? /\{\{-?\s*\.([A-Za-z_][\w.]*)\s*-?\}\}/g : /\{\{\s*\.?([A-Za-z_][\w.-]*)\s*\}\}/g;
    return v.replace(re, (m, p: string) => {
      const val = p.split('.').reduce<any>((o, k) => (o && typeof o === 'object' ? o[k] : undefined), params);
      if (val === undefined) {
        if (goTemplate) throw new Error(`template: map has no entry for key "${p}"`);
        return m;
      }
      return typeof val === 'object' ? JSON.stringify(val) : String(val);
    });
  }
  if (Array.isArray(v)) return v.map((x) => render(x, params, goTemplate));
  if (v && typeof v === 'object')
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [render(k, params, goTemplate), render(x, params, goTemplate)]));
  return v;
}

function parseFile(file: string): KObj[] {
  const text = fs.readFileSync(file, 'utf8');
  const docs = file.endsWith('.json')
    ? [JSON.parse(text)]
    : parseAllDocuments(text).map((d) => {
        if (d.errors.length) throw new Error(`${file}: ${d.errors[0].message}`);
        return d.toJSON();
      });
  const out: KObj[] = [];
  for (const d of docs) {
    if (!d || typeof d !== 'object') continue;
    if (d.kind?.endsWith('List') && Array.isArray(d.items)) out.push(...d.items);
    else if (d.kind) out.push(d);
  }
  return out;
}

function readDir(dir: string, recurse: boolean): KObj[] {
  const out: KObj[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) {
      if (recurse && !e.name.startsWith('.')) out.push(...readDir(p, true));
    } else if (/\.(ya?ml|json)$/.test(e.name)) out.push(...parseFile(p));
  }
  return out;
}

/** Minimal kustomize: resources (files/dirs), namespace, namePrefix, commonLabels, commonAnnotations. */
function kustomize(kfile: string, depth = 0): KObj[] {
  if (depth > 10) throw new Error('kustomization nesting too deep');
  const dir = path.dirname(kfile);
  const k = parseAllDocuments(fs.readFileSync(kfile, 'utf8'))[0]?.toJSON() ?? {};
  let objs: KObj[] = [];
  for (const r of [...(k.resources ?? []), ...(k.bases ?? [])]) {
    const p = path.resolve(dir, r);
    if (fs.existsSync(p) && fs.statSync(p).isDirectory()) {
      const kf = ['kustomization.yaml', 'kustomization.yml', 'Kustomization'].map((f) => path.join(p, f)).find((f) => fs.existsSync(f));
      objs.push(...(kf ? kustomize(kf, depth + 1) : readDir(p, false)));
    } else if (fs.existsSync(p)) objs.push(...parseFile(p));
    else throw new Error(`kustomization ${kfile}: resource not found: ${r}`);
  }
  objs = objs.map((o) => {
    const c = clone(o);
    if (k.namespace && c.kind !== 'Namespace' && c.kind !== 'CustomResourceDefinition') c.metadata.namespace = k.namespace;
    if (k.namePrefix) c.metadata.name = k.namePrefix + c.metadata.name;
    if (k.nameSuffix) c.metadata.name = c.metadata.name + k.nameSuffix;
    if (k.commonLabels) c.metadata.labels = { ...(c.metadata.labels ?? {}), ...k.commonLabels };
    if (k.commonAnnotations) c.metadata.annotations = { ...(c.metadata.annotations ?? {}), ...k.commonAnnotations };
    return c;
  });
  return objs;
}

function stripForCompare(o: KObj): any {
  const c = clone(o);
  delete c.status;
  const m = c.metadata;
  c.metadata = {
    name: m.name,
    ...(m.namespace ? { namespace: m.namespace } : {}),
    ...(m.labels ? { labels: m.labels } : {}),
    ...(m.annotations ? { annotations: m.annotations } : {}),
  };
  return c;
}

/** True when every field of `want` is present with an equal value in `have` (arrays: same length, element-wise). */
export function isSubset(want: any, have: any): boolean {
  if (want === null || typeof want !== 'object')
    return want === have || (typeof want === 'number' && typeof have === 'string' && String(want) === have);
  if (Array.isArray(want)) return Array.isArray(have) && have.length === want.length && want.every((w, i) => isSubset(w, have[i]));
  if (!have || typeof have !== 'object') return false;
  return Object.entries(want).every(([k, v]) => isSubset(v, have[k]));
}

function healthOf(kind: string, live: KObj | null): Health {
  if (!live) return 'Missing';
  const conds: any[] = live.status?.conditions ?? [];
  const ready = conds.find((c) => c.type === 'Ready');
  if (kind === 'Service' && (live.apiVersion ?? '').startsWith('serving.knative.dev/')) {
    if (ready?.status === 'True' && live.status?.observedGeneration === live.metadata.generation) return 'Healthy';
    if (ready?.status === 'False') return 'Degraded';
    return 'Progressing';
  }
  if (kind === 'Application' && (live.apiVersion ?? '').startsWith('argoproj.io/'))
    return (live.status?.health?.status as Health) ?? 'Healthy';
  return 'Healthy';
}
