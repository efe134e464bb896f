/**
 * Triggers Argo CD syncs the way the Argo CD CLI and UI do: a JSON merge patch of the Application's
 * top-level `operation` field, with an honest `initiatedBy` (the vpm user, not automated) and an
 * `info` entry carrying this request's id, so the result we wait for is provably the result of our
 * operation and not of an earlier or concurrent one. Then watches (no polling) until
 * `status.operationState.phase` is final.
 */
import { isUnreachable, type KObj, type KubeClient, type ObjRef } from '../adapters/kube.js';
import { OperationalError, RefusedError } from '../core/errors.js';
import { ARGO_API } from './apps.js';

const FINAL_PHASES = ['Succeeded', 'Failed', 'Error'] as const;
const REQUEST_INFO_NAME = 'vpm-request';

export interface SyncRequest {
  apps: string[];
  namespace: string;
  /** Default per app: spec.source.targetRevision, else HEAD. */
  revision?: string;
  prune: boolean;
  timeoutMs: number;
  /** `vpm/<user>` — who asked, as Argo CD shows it in history. */
  username: string;
  requestId: string;
  /** After Succeeded, also wait for health Healthy (or Degraded), like `argocd app sync`. */
  waitHealthy: boolean;
}

export interface SyncOutcome {
  name: string;
  /** Final phase, or `Timeout` when the operation had not finished in time. */
  phase: 'Succeeded' | 'Failed' | 'Error' | 'Timeout';
  message: string | null;
  revision: string | null;
  requested_revision: string;
  started_at: string | null;
  finished_at: string | null;
  duration_ms: number;
  sync: string | null;
  health: string | null;
  /** Succeeded and (when waited for) Healthy. */
  ok: boolean;
  /** The wait ended because of --timeout. */
  timed_out: boolean;
  /** The operation as sent (for the record). */
  operation: Record<string, unknown>;
}

function appRef(name: string, namespace: string): ObjRef {
  return { apiVersion: ARGO_API, kind: 'Application', name, namespace };
}

function buildSyncOperation(app: KObj, req: Pick<SyncRequest, 'revision' | 'prune' | 'username' | 'requestId'>): Record<string, any> {
  const revision = req.revision ?? app.spec?.source?.targetRevision ?? 'HEAD';
  return {
    initiatedBy: { username: req.username, automated: false },
    info: [{ name: REQUEST_INFO_NAME, value: req.requestId }],
    sync: { revision, ...(req.prune ? { prune: true } : {}) },
  };
}

/** True when the app's operationState is the final state of the operation with our request id. */
function isOurFinishedOperation(app: KObj | null, requestId: string): boolean {
  const st = app?.status?.operationState;
  if (!st || !FINAL_PHASES.includes(st.phase)) return false;
  const info: Array<{ name?: string; value?: string }> = st.operation?.info ?? [];
  return info.some((i) => i?.name === REQUEST_INFO_NAME && i?.value === requestId);
}

export interface SyncEvents {
  onRequested?(name: string, operation: Record<string, unknown>): void;
  onFinished?(outcome: SyncOutcome): void;
}

/**
 * Validates every app first (exists, no operation already running), so a bad name changes nothing;
 * then requests all syncs and waits for all of them in parallel.
 */
export async function syncApps(client: KubeClient, req: SyncRequest, events: SyncEvents = {}): Promise<SyncOutcome[]> {
  const apps = await Promise.all(req.apps.map((name) => client.get(appRef(name, req.namespace))));
  const missing = req.apps.filter((_, i) => !apps[i]);
  if (missing.length) {
    const known = (await client.list(ARGO_API, 'Application', req.namespace).catch(() => [])).map((a) => a.metadata.name);
    throw new OperationalError(
      `Application${missing.length > 1 ? 's' : ''} ${missing.join(', ')} not found in namespace ${req.namespace} (context ${client.context})`,
      {
        hint: `known Applications: ${known.join(', ') || '(none)'}; nothing was changed`,
      },
    );
  }
  const busy = apps.filter((a) => a!.operation || a!.status?.operationState?.phase === 'Running');
  if (busy.length) {
    throw new RefusedError(`an operation is already in progress on ${busy.map((a) => a!.metadata.name).join(', ')}`, {
      hint: 'wait for it to finish (`vpm clusters status --watch`); nothing was changed',
    });
  }

  const started = performance.now();
  const operations = new Map<string, Record<string, any>>();
  for (const app of apps as KObj[]) {
    const operation = buildSyncOperation(app, req);
    // Not retried: a sync request is not idempotent (a retry after a lost answer could start a second sync).
    await client.mergePatch(appRef(app.metadata.name, req.namespace), { operation });
    operations.set(app.metadata.name, operation);
    events.onRequested?.(app.metadata.name, operation);
  }

  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), req.timeoutMs);
  try {
    return await Promise.all(
      (apps as KObj[]).map(async (app) => {
        const name = app.metadata.name;
        const operation = operations.get(name)!;
        let last: KObj | null = null;
        const settled = (obj: KObj | null) => {
          if (!isOurFinishedOperation(obj, req.requestId)) return false;
          if (obj!.status.operationState.phase !== 'Succeeded' || !req.waitHealthy) return true;
          return ['Healthy', 'Degraded'].includes(obj!.status?.health?.status);
        };
        let timedOut = false;
        let lostContact: string | undefined;
        try {
          last = await client.watchUntil(
            appRef(name, req.namespace),
            'applications',
            (obj) => {
              last = obj;
              return settled(obj);
            },
            controller.signal,
          );
        } catch (err) {
          timedOut = true; // aborted by the timeout: report what we last saw
          // …and, when the API server stopped answering meanwhile, that it did.
          if (isUnreachable(err)) lostContact = (err as Error).message;
        }
        const done = isOurFinishedOperation(last, req.requestId);
        const st = last?.status?.operationState ?? {};
        const health: string | null = last?.status?.health?.status ?? null;
        const phase: SyncOutcome['phase'] = done ? st.phase : 'Timeout';
        const outcome: SyncOutcome = {
          name,
          phase,
          message: done
            ? `${st.message ?? ''}${timedOut ? ` — but health still ${health ?? 'unknown'} after ${req.timeoutMs} ms` : ''}`.trim() || null
            : `no final phase within ${req.timeoutMs} ms${st.phase ? ` (last seen: ${st.phase}${st.message ? `: ${st.message}` : ''})` : ''}${lostContact ? `; ${lostContact}` : ''}`,
          revision: done ? (st.syncResult?.revision ?? last?.status?.sync?.revision ?? null) : null,
          requested_revision: operation.sync.revision,
          started_at: done ? (st.startedAt ?? null) : null,
          finished_at: done ? (st.finishedAt ?? null) : null,
          duration_ms: Math.round(performance.now() - started),
          sync: last?.status?.sync?.status ?? null,
          health,
          ok: phase === 'Succeeded' && (!req.waitHealthy || health === 'Healthy'),
          timed_out: timedOut,
          operation,
        };
        events.onFinished?.(outcome);
        return outcome;
      }),
    );
  } finally {
    clearTimeout(timer);
    if (!controller.signal.aborted) controller.abort();
  }
}
