/**
 * Triggers Argo CD syncs: a JSON merge patch of the Application's top-level `operation` field, built the
 * way argocd-server's Sync API builds it (server/application/application.go), because the application
 * controller reads only the operation: `syncOptions` and `retry` copied from `spec.syncPolicy` (without
 * the copy, CreateNamespace=true is ignored and the first sync to a fresh cluster fails with `namespaces
 * "fleet" not found`), per-source `revisions` for multi-source apps, an honest `initiatedBy` (the vpm
 * user; Argo CD drops `automated: false`), and an `info` entry carrying this request's id, so the result
 * we wait for is provably the result of our operation. The app's sync windows are read first (Argo CD's
 * API refuses a sync in a deny window; a raw patch would just sit there). Then watches (no polling) until
 * `status.operationState.phase` is final; on vpm's own timeout the operation it started is terminated
 * (or withdrawn when it has not started), so no sync happens after vpm reported a timeout.
 */
import { type KObj, type KubeClient, KubeApiError, isUnreachable, type ObjRef } from '../adapters/kube.js';
import { OperationalError, RefusedError, UsageError } from '../core/errors.js';
import { ARGO_API } from './apps.js';
import { canSync, describeWindow, type SyncWindow } from './windows.js';

const FINAL_PHASES = ['Succeeded', 'Failed', 'Error'] as const;
const REQUEST_INFO_NAME = 'vpm-request';

export interface SyncRequest {
  apps: string[];
  namespace: string;
  /** Default per app: spec.source.targetRevision, else HEAD. Multi-source apps: one per source, comma-separated. */
  revision?: string;
  /** Builds the operation instead of a plain sync (rollback). */
  build?: (app: KObj) => Record<string, any>;
  /** Sync even inside a deny sync window (vpm asks; Argo CD itself still holds the operation). */
  ignoreWindows?: boolean;
  now?: Date;
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
  /** After a timeout: what vpm did to the operation it started. */
  terminated?: 'terminated' | 'withdrawn' | 'already-finished' | 'failed';
  terminate_message?: string;
}

function appRef(name: string, namespace: string): ObjRef {
  return { apiVersion: ARGO_API, kind: 'Application', name, namespace };
}

/** The operation as argocd-server's Sync API builds it for a request with no options of its own. */
export function buildSyncOperation(
  app: KObj,
  req: Pick<SyncRequest, 'revision' | 'prune' | 'username' | 'requestId'>,
): Record<string, any> {
  const policy = app.spec?.syncPolicy ?? {};
  const sources: Array<{ targetRevision?: string }> | undefined =
    Array.isArray(app.spec?.sources) && app.spec.sources.length ? app.spec.sources : undefined;
  const sync: Record<string, any> = {};
  if (sources) {
    const given = req.revision?.split(',').map((r) => r.trim());
    if (given && given.length !== sources.length)
      throw new UsageError(
        `${app.metadata.name} has ${sources.length} sources: --revision needs ${sources.length} comma-separated revisions (got ${given.length})`,
      );
    sync.revisions = sources.map((src, i) => given?.[i] || src.targetRevision || 'HEAD');
  } else {
    sync.revision = req.revision ?? app.spec?.source?.targetRevision ?? 'HEAD';
  }
  if (req.prune) sync.prune = true;
  if (Array.isArray(policy.syncOptions) && policy.syncOptions.length) sync.syncOptions = [...policy.syncOptions];
  const operation: Record<string, any> = {
    initiatedBy: { username: req.username },
    info: [{ name: REQUEST_INFO_NAME, value: req.requestId }],
    sync,
  };
  if (policy.retry) operation.retry = policy.retry;
  return operation;
}

/** Like `argocd app sync`: a revision other than the one auto-sync follows is refused. */
function checkAutoSyncRevision(app: KObj, revision: string | undefined): void {
  if (!revision || !app.spec?.syncPolicy?.automated || app.spec?.sources) return;
  const target = app.spec?.source?.targetRevision ?? 'HEAD';
  if (revision !== target)
    throw new RefusedError(`cannot sync ${app.metadata.name} to ${revision}: auto-sync follows ${target}`, {
      hint: 'disable auto-sync on the Application first, or sync without --revision; nothing was changed',
    });
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

  // Sync windows of each app's AppProject, evaluated as Argo CD does for a manual sync.
  const projects = new Map<string, SyncWindow[]>();
  for (const app of apps as KObj[]) {
    checkAutoSyncRevision(app, req.revision);
    const project = app.spec?.project ?? 'default';
    if (!projects.has(project)) {
      const proj = await client.get({ apiVersion: ARGO_API, kind: 'AppProject', name: project, namespace: req.namespace });
      projects.set(project, proj?.spec?.syncWindows ?? []);
    }
    const verdict = canSync(projects.get(project)!, app, req.now ?? new Date(), true);
    if (!verdict.canSync && !req.ignoreWindows) {
      throw new RefusedError(
        `${app.metadata.name}: sync blocked by a sync window of AppProject ${project}: ${verdict.blocking.map(describeWindow).join('; ')}`,
        {
          hint: 'wait for the window to end (`vpm freeze status`), lift a vpm freeze with `vpm freeze off`, or override with --force-freeze --reason "…"; nothing was changed',
        },
      );
    }
  }
  const built = new Map((apps as KObj[]).map((app) => [app.metadata.name, req.build ? req.build(app) : buildSyncOperation(app, req)]));

  const started = performance.now();
  const operations = new Map<string, Record<string, any>>();
  for (const app of apps as KObj[]) {
    const operation = built.get(app.metadata.name)!;
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
          requested_revision: operation.sync.revision ?? (operation.sync.revisions as string[]).join(','),
          started_at: done ? (st.startedAt ?? null) : null,
          finished_at: done ? (st.finishedAt ?? null) : null,
          duration_ms: Math.round(performance.now() - started),
          sync: last?.status?.sync?.status ?? null,
          health,
          ok: phase === 'Succeeded' && (!req.waitHealthy || health === 'Healthy'),
          timed_out: timedOut,
          operation,
        };
        if (!done) {
          // Never leave a sync behind that would run after vpm reported a timeout.
          const t = await terminateOperation(client, name, req.namespace, req.requestId).catch((err: Error) => ({
            result: 'failed' as const,
            message: err.message,
          }));
          outcome.terminated = t.result;
          outcome.terminate_message = t.message;
        }
        events.onFinished?.(outcome);
        return outcome;
      }),
    );
  } finally {
    clearTimeout(timer);
    if (!controller.signal.aborted) controller.abort();
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function isOurs(op: { info?: Array<{ name?: string; value?: string }> } | undefined, requestId: string): boolean {
  return (op?.info ?? []).some((i) => i?.name === REQUEST_INFO_NAME && i?.value === requestId);
}

/**
 * Ends the operation with our request id, as `argocd app terminate-op` does: a running one gets
 * `status.operationState.phase: Terminating` (the controller then stops it, phase Failed); one the
 * controller has not started yet is withdrawn (the `operation` field removed). Every write carries the
 * resourceVersion it was decided on, so an operation that changed meanwhile is re-read, never clobbered.
 */
async function terminateOperation(
  client: KubeClient,
  name: string,
  namespace: string,
  requestId: string,
  waitMs = 15_000,
): Promise<{ result: 'terminated' | 'withdrawn' | 'already-finished' | 'failed'; message: string }> {
  const ref = appRef(name, namespace);
  for (let attempt = 0; attempt < 10; attempt++) {
    const app = await client.get(ref);
    if (!app) return { result: 'failed', message: `Application ${name} is gone` };
    const st = app.status?.operationState;
    const stateIsOurs = isOurs(st?.operation, requestId);
    if (stateIsOurs && FINAL_PHASES.includes(st.phase))
      return { result: 'already-finished', message: `finished ${st.phase}: ${st.message ?? ''}`.trim() };
    const rv = app.metadata.resourceVersion;
    try {
      if (stateIsOurs && (st.phase === 'Running' || st.phase === 'Terminating')) {
        if (st.phase === 'Running')
          await client.mergePatch(ref, { status: { operationState: { phase: 'Terminating' } } }, { resourceVersion: rv });
        const deadline = Date.now() + waitMs;
        while (Date.now() < deadline) {
          const now = await client.get(ref);
          const s2 = now?.status?.operationState;
          if (!isOurs(s2?.operation, requestId)) return { result: 'terminated', message: 'operation ended (replaced by another)' };
          // The controller may finish the sync before it sees Terminating: say so, never claim a termination.
          if (s2?.phase === 'Succeeded')
            return {
              result: 'already-finished',
              message: `finished Succeeded before the termination took effect: ${s2.message ?? ''}`.trim(),
            };
          if (FINAL_PHASES.includes(s2?.phase))
            return { result: 'terminated', message: `operation terminated${s2?.message ? `: ${s2.message}` : ''}` };
          // The controller holds a sync blocked by a window without looking at Terminating: withdraw it.
          if (!now?.operation) break;
          await sleep(200);
        }
        const last = await client.get(ref);
        if (last?.operation && isOurs(last.operation, requestId)) {
          await client.mergePatch(
            ref,
            {
              operation: null,
              status: {
                operationState: {
                  phase: 'Failed',
                  message: `Operation terminated by vpm (request ${requestId}): timed out`,
                  finishedAt: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
                },
              },
            },
            { resourceVersion: last.metadata.resourceVersion },
          );
          return { result: 'terminated', message: 'operation withdrawn and marked Failed (the controller did not end it)' };
        }
        continue;
      }
      if (isOurs(app.operation as { info?: Array<{ name?: string; value?: string }> } | undefined, requestId)) {
        await client.mergePatch(ref, { operation: null }, { resourceVersion: rv });
        return { result: 'withdrawn', message: 'the operation had not started; it was withdrawn' };
      }
      return { result: 'failed', message: 'the operation is no longer ours (another operation replaced it)' };
    } catch (err) {
      if (err instanceof KubeApiError && err.status === 409) continue; // changed meanwhile: decide again
      throw err;
    }
  }
  return { result: 'failed', message: 'the Application kept changing; could not terminate the operation' };
}

export interface HistoryEntry {
  id: number;
  revision: string | null;
  revisions: string[] | null;
  deployed_at: string | null;
  deploy_started_at: string | null;
  initiated_by: string | null;
  automated: boolean;
  source: Record<string, unknown> | null;
}

/** `status.history` as Argo CD keeps it (the last revisionHistoryLimit entries, default 10; ids increase). */
export function appHistory(app: KObj): HistoryEntry[] {
  return ((app.status?.history ?? []) as any[]).map((h) => ({
    id: Number(h.id),
    revision: h.revision ?? null,
    revisions: h.revisions ?? null,
    deployed_at: h.deployedAt ?? null,
    deploy_started_at: h.deployStartedAt ?? null,
    initiated_by: h.initiatedBy?.username ?? null,
    automated: Boolean(h.initiatedBy?.automated),
    source: h.source ?? null,
  }));
}

/**
 * The rollback operation as argocd-server's Rollback API builds it: the history entry's revision(s) and
 * source(s), syncOptions from spec.syncPolicy, apply strategy; refused (as `argocd app rollback` is)
 * while auto-sync is on, since the controller would sync straight back to the target revision.
 */
export function buildRollbackOperation(
  app: KObj,
  id: number,
  req: Pick<SyncRequest, 'prune' | 'username' | 'requestId'>,
): Record<string, any> {
  if (app.spec?.syncPolicy?.automated)
    throw new RefusedError(`rollback of ${app.metadata.name} refused: auto-sync is enabled`, {
      hint: 'disable auto-sync on the Application first (as `argocd app rollback` requires); nothing was changed',
    });
  const entry = ((app.status?.history ?? []) as any[]).find((h) => Number(h.id) === id);
  if (!entry)
    throw new UsageError(`${app.metadata.name} has no history entry ${id}`, {
      hint: `known ids: ${
        appHistory(app)
          .map((h) => h.id)
          .join(', ') || '(none)'
      } (vpm clusters history ${app.metadata.name})`,
    });
  const policy = app.spec?.syncPolicy ?? {};
  const sync: Record<string, any> = { syncStrategy: { apply: {} } };
  if (entry.revisions?.length) sync.revisions = [...entry.revisions];
  else sync.revision = entry.revision;
  if (entry.sources?.length) sync.sources = entry.sources;
  else if (entry.source) sync.source = entry.source;
  if (req.prune) sync.prune = true;
  if (Array.isArray(policy.syncOptions) && policy.syncOptions.length) sync.syncOptions = [...policy.syncOptions];
  return {
    initiatedBy: { username: req.username },
    info: [
      { name: REQUEST_INFO_NAME, value: req.requestId },
      { name: 'vpm-rollback-to', value: String(id) },
    ],
    sync,
  };
}
