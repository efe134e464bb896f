/**
 * Fleet status: Argo CD Applications (read from the management cluster that runs Argo CD) joined
 * with the reachability of each destination cluster, checked by vpm itself. Argo CD's own view of an
 * unreachable cluster is whatever it last saw; vpm reports such an app as `Unknown` with the reason
 * and keeps Argo's last report beside it, and still reports every other app.
 */
import type { KObj, KubeClient } from '../adapters/kube.js';
import type { PingResult } from '../adapters/kube-ping.js';

export const ARGO_API = 'argoproj.io/v1alpha1';
const IN_CLUSTER_SERVER = 'https://kubernetes.default.svc';

/** Where Argo CD lives and which clusters it deploys to. */
export interface FleetTarget {
  /** Kube context of the cluster running Argo CD (holds the Applications). */
  argocdContext: string;
  /** Namespace of the Applications (Argo CD's namespace). */
  namespace: string;
  /** Destination clusters (kube contexts) to check. */
  contexts: string[];
  /** Only these Applications (default: every Application in the namespace, filtered by selector). */
  apps?: string[];
  selector?: string;
  /** Bound on each cluster's reachability check and on reading the Applications. */
  requestTimeoutMs: number;
}

/** What the fleet code needs from the outside; commands pass the real adapters, tests may not. */
export interface FleetDeps {
  client(context: string): Promise<KubeClient>;
  ping(client: KubeClient, timeoutMs: number): Promise<PingResult>;
  now(): Date;
}

interface ClusterReach {
  context: string;
  reachable: boolean;
  server: string | null;
  version: string | null;
  latency_ms: number;
  error: string | null;
}

export interface AppStatus {
  name: string;
  /** Kube context of the destination cluster, when vpm could map it. */
  cluster: string | null;
  destination: { name?: string; server?: string; namespace?: string };
  sync: string;
  health: string;
  revision: string | null;
  operation_phase: string | null;
  operation_message: string | null;
  operation_started_at: string | null;
  operation_finished_at: string | null;
  reconciled_at: string | null;
  /** Argo CD's own conditions (ComparisonError, SyncError, …), as it reports them. */
  conditions: Array<{ type: string; message: string; last_transition_time: string | null }>;
  /** Retries of the current/last operation (`operationState.retryCount`; "Retrying attempt #N"). */
  retry_count: number;
  /** Synced and Healthy (and its cluster reachable). */
  ok: boolean;
  /** Why the app is not ok, in words. */
  reason: string | null;
  /** Argo CD's own last report, kept when vpm overrides it with Unknown. */
  last_reported?: { sync: string; health: string; reconciled_at: string | null };
}

export interface FleetStatus {
  checked_at: string;
  argocd: { context: string; namespace: string; reachable: boolean; error: string | null };
  clusters: ClusterReach[];
  apps: AppStatus[];
  ok: boolean;
}

function serverOf(client: KubeClient): string | null {
  return client.kc.getCurrentCluster()?.server?.replace(/\/+$/, '') ?? null;
}

function withDeadline<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
      timer.unref();
    }),
  ]).finally(() => clearTimeout(timer));
}

/** Maps an Application's destination to a kube context: by name, by server URL, or in-cluster. */
export function destinationContext(app: KObj, target: FleetTarget, servers: Map<string, string | null>): string | null {
  const d = app.spec?.destination ?? {};
  if (d.name) {
    if (d.name === 'in-cluster') return target.argocdContext;
    return servers.has(d.name) ? d.name : null;
  }
  if (d.server) {
    const want = String(d.server).replace(/\/+$/, '');
    if (want === IN_CLUSTER_SERVER) return target.argocdContext;
    for (const [context, server] of servers) if (server === want) return context;
  }
  return null;
}

function summariseApp(app: KObj, cluster: string | null, reach: ClusterReach | undefined): AppStatus {
  const st = app.status ?? {};
  const op = st.operationState ?? {};
  const sync: string = st.sync?.status ?? 'Unknown';
  const health: string = st.health?.status ?? 'Unknown';
  const base: AppStatus = {
    name: app.metadata.name,
    cluster,
    destination: { ...(app.spec?.destination ?? {}) },
    sync,
    health,
    revision: st.sync?.revision ?? op.syncResult?.revision ?? null,
    // A requested but not yet started operation shows as Pending, like `argocd app get`.
    operation_phase: op.phase ?? (app.operation ? 'Pending' : null),
    operation_message: op.message ?? null,
    operation_started_at: op.startedAt ?? null,
    operation_finished_at: op.finishedAt ?? null,
    reconciled_at: st.reconciledAt ?? null,
    conditions: (st.conditions ?? []).map((c: any) => ({
      type: String(c?.type ?? ''),
      message: String(c?.message ?? ''),
      last_transition_time: c?.lastTransitionTime ?? null,
    })),
    retry_count: Number(op.retryCount ?? 0),
    ok: sync === 'Synced' && health === 'Healthy',
    reason: null,
  };
  if (reach && !reach.reachable) {
    return {
      ...base,
      sync: 'Unknown',
      health: 'Unknown',
      ok: false,
      reason: `cluster ${reach.context} is unreachable: ${reach.error}`,
      last_reported: { sync, health, reconciled_at: base.reconciled_at },
    };
  }
  if (!base.ok) {
    const cond = (st.conditions ?? []).find((c: any) => /Error|Warning/.test(String(c?.type)))?.message;
    base.reason = [
      sync !== 'Synced' ? `sync ${sync}` : '',
      health !== 'Healthy' ? `health ${health}` : '',
      op.phase && op.phase !== 'Succeeded' ? `last operation ${op.phase}${op.message ? `: ${op.message}` : ''}` : '',
      cond ?? '',
    ]
      .filter(Boolean)
      .join('; ');
  }
  return base;
}

/** Reads every Application and checks every cluster; never throws for an unreachable cluster. */
export async function collectFleetStatus(deps: FleetDeps, target: FleetTarget): Promise<FleetStatus> {
  const contexts = [...new Set([target.argocdContext, ...target.contexts])];
  const clients = new Map<string, KubeClient>();
  for (const c of contexts) clients.set(c, await deps.client(c));
  const servers = new Map<string, string | null>([...clients].map(([c, k]) => [c, serverOf(k)]));

  const reachList = await Promise.all(
    contexts.map(
      async (context): Promise<ClusterReach> => ({ context, ...(await deps.ping(clients.get(context)!, target.requestTimeoutMs)) }),
    ),
  );
  const reach = new Map(reachList.map((r) => [r.context, r]));
  const mgmt = reach.get(target.argocdContext)!;
  const argocd = { context: target.argocdContext, namespace: target.namespace, reachable: mgmt.reachable, error: mgmt.error };
  const clusters = reachList.filter((r) => target.contexts.includes(r.context) || r.context === target.argocdContext);

  let apps: AppStatus[] = [];
  if (!mgmt.reachable) {
    // Without Argo CD's cluster there is nothing to list; named apps are reported as Unknown.
    apps = (target.apps ?? []).map((name) => unknownApp(name, `Argo CD's cluster ${target.argocdContext} is unreachable: ${mgmt.error}`));
  } else {
    let items: KObj[] | undefined;
    try {
      items = await withDeadline(
        clients.get(target.argocdContext)!.list(ARGO_API, 'Application', target.namespace, target.selector),
        target.requestTimeoutMs,
        `list Applications in ${target.namespace} (context ${target.argocdContext})`,
      );
    } catch (err) {
      argocd.reachable = false;
      argocd.error = (err as Error).message;
      apps = (target.apps ?? []).map((name) => unknownApp(name, (err as Error).message));
    }
    if (items) {
      const byName = new Map(items.map((a) => [a.metadata.name, a]));
      const wanted = target.apps ?? [...byName.keys()].sort();
      apps = wanted.map((name) => {
        const app = byName.get(name);
        if (!app)
          return {
            ...unknownApp(name, `Application ${name} not found in namespace ${target.namespace} (context ${target.argocdContext})`),
            health: 'Missing',
          };
        const cluster = destinationContext(app, target, servers);
        return summariseApp(app, cluster, cluster ? reach.get(cluster) : undefined);
      });
    }
  }
  return {
    checked_at: deps.now().toISOString(),
    argocd,
    clusters,
    apps,
    ok: argocd.reachable && clusters.every((c) => c.reachable) && apps.every((a) => a.ok),
  };
}

function unknownApp(name: string, reason: string): AppStatus {
  return {
    name,
    cluster: null,
    destination: {},
    sync: 'Unknown',
    health: 'Unknown',
    revision: null,
    operation_phase: null,
    operation_message: null,
    operation_started_at: null,
    operation_finished_at: null,
    reconciled_at: null,
    conditions: [],
    retry_count: 0,
    ok: false,
    reason,
  };
}

/** One line per app, for humans and for `--watch` change detection. */
export function appLine(a: AppStatus): string {
  const rev = a.revision ? a.revision.slice(0, 12) : '-';
  return [a.name, a.cluster ?? '?', a.sync, a.health, rev, a.operation_phase ?? '-', a.reconciled_at ?? '-', a.reason ?? ''].join('\t');
}

export function renderFleetTable(s: FleetStatus): string {
  const rows = [
    ['APP', 'CLUSTER', 'SYNC', 'HEALTH', 'REVISION', 'OPERATION', 'RECONCILED', 'REASON'],
    ...s.apps.map((a) => appLine(a).split('\t')),
  ];
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  const table = rows
    .map((r) =>
      r
        .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i])))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
  const clusters = s.clusters
    .map((c) => `${c.context}: ${c.reachable ? `reachable (${c.version ?? '?'}, ${c.latency_ms} ms)` : `UNREACHABLE — ${c.error}`}`)
    .join('\n');
  // With Argo CD's cluster unreachable nothing is known about the Applications: never "none".
  const none =
    s.apps.length > 0
      ? ''
      : s.argocd.reachable
        ? `\n(no Applications in ${s.argocd.namespace} on ${s.argocd.context})`
        : `\n(Applications unknown: Argo CD's cluster ${s.argocd.context} is unreachable — ${s.argocd.error})`;
  return `${table}${none}\n\n${clusters}`;
}
