/**
 * `vpm clusters status|sync`: thin layer between flags and src/fleet/. Flags are resolved and
 * validated (durations, contexts) before anything is read or changed.
 */
import type { CommandHandler } from '../../core/command.js';
import type { Ctx } from '../../core/context.js';
import { OperationalError, RefusedError, UsageError } from '../../core/errors.js';
import { checkForce } from '../../deploy/traffic-ownership.js';
import type { FleetDeps, FleetTarget } from '../../fleet/apps.js';
import { busyKsvcs, type BusyKsvc } from '../../fleet/rollout-guard.js';
import { parseDuration } from '../../deploy/duration.js';
import { assertNotFrozen } from '../../deploy/freeze.js';
import { appLine, collectFleetStatus, renderFleetTable, ARGO_API, type FleetStatus } from '../../fleet/apps.js';
import { fleetDeps, resolveFleetTarget, vpmUsername } from '../../fleet/target.js';
import { syncApps, type SyncOutcome } from '../../fleet/sync.js';
import type { FlagsOf } from '../../cli/spec.js';
import type { clustersStatus } from './clusters-status.js';
import type { clustersSync } from './clusters-sync.js';
import type { clustersDiff } from './clusters-diff.js';
import type { clustersHistory } from './clusters-history.js';
import type { clustersRollback } from './clusters-rollback.js';

type SyncFlags = FlagsOf<typeof clustersSync>;

type StatusFlags = FlagsOf<typeof clustersStatus>;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export const clustersStatusCommand: CommandHandler<StatusFlags> = async (ctx, { args, opts }) => {
  const target = await resolveFleetTarget(ctx, opts, args);
  const intervalMs = parseDuration(opts.interval ?? '2s', '--interval');
  const timeoutMs = opts.timeout !== undefined ? parseDuration(opts.timeout, '--timeout') : undefined;
  if (timeoutMs !== undefined && !opts.watch)
    throw new UsageError('--timeout only applies with --watch', { hint: 'use --request-timeout to bound each cluster check' });
  const deps = await fleetDeps(ctx, opts.kubeconfig, target.namespace);

  let status: FleetStatus = await collectFleetStatus(deps, target);
  if (opts.watch) {
    const started = Date.now();
    const seen = new Map<string, string>();
    const report = (s: FleetStatus) => {
      for (const c of s.clusters) {
        const line = `${c.context}\t${c.reachable ? 'reachable' : `UNREACHABLE ${c.error}`}`;
        if (seen.get(`cluster:${c.context}`) !== line) ctx.status(`${s.checked_at}  cluster ${line.replace('\t', ' ')}`);
        seen.set(`cluster:${c.context}`, line);
      }
      for (const a of s.apps) {
        const line = appLine(a);
        // Only changes are printed (like `kubectl argo rollouts status --watch`).
        if (seen.get(a.name) !== line) {
          const text = `${s.checked_at}  ${line.replace(/\t/g, '  ').trimEnd()}`;
          if (ctx.json) ctx.status(text);
          else ctx.io.stdout.write(`${text}\n`);
        }
        seen.set(a.name, line);
      }
    };
    report(status);
    while (!status.ok) {
      if (timeoutMs !== undefined && Date.now() - started >= timeoutMs) {
        return {
          data: { ...status, timed_out: true },
          human: `timed out after ${timeoutMs} ms: not every app is Synced and Healthy`,
          outcome: 'timed_out',
        };
      }
      await sleep(intervalMs);
      status = await collectFleetStatus(deps, target);
      report(status);
    }
    return { data: { ...status, timed_out: false }, human: 'all apps Synced and Healthy', outcome: 'ok' };
  }

  if (!status.apps.length && status.argocd.reachable)
    ctx.status(
      `warning: no Applications in namespace ${target.namespace} on ${target.argocdContext}${target.selector ? ` matching ${target.selector}` : ''}`,
    );
  return { data: status, human: renderFleetTable(status), outcome: status.ok ? 'ok' : 'failed' };
};

function renderSync(outcomes: SyncOutcome[]): string {
  return outcomes
    .map(
      (o) =>
        `${o.name}  ${o.phase}${o.health ? `  health ${o.health}` : ''}  rev ${o.revision?.slice(0, 12) ?? '-'}  (${o.duration_ms} ms)${o.message ? `  ${o.message}` : ''}${o.terminated ? `\n  operation ${o.terminated}: ${o.terminate_message ?? ''}` : ''}`,
    )
    .join('\n');
}

/** Refuses (exit 3) while a release/canary rolls out a KService of these apps, unless --force --reason (recorded). */
async function refuseBusyKsvcs(ctx: Ctx, deps: FleetDeps, target: FleetTarget, apps: string[], opts: SyncFlags): Promise<BusyKsvc[]> {
  checkForce(opts);
  const { busy, unchecked } = await busyKsvcs(deps, target, apps);
  for (const c of unchecked) ctx.status(`warning: cluster ${c} did not answer: its KServices were not checked for a rollout in progress`);
  if (!busy.length) return [];
  const what = busy
    .map((b) => `${b.kind} ${b.run_id} on ${b.namespace}/${b.ksvc} (${b.context}, app ${b.app}, phase ${b.phase})`)
    .join('; ');
  if (!opts.force)
    throw new RefusedError(`a rollout is in progress: ${what}; a sync now would rewrite what it is rolling out`, {
      hint: 'wait for it to end (vpm canary status KSVC --watch), or override with --force --reason "…"',
      details: { busy },
    });
  // Recorded in this command's vpm.request log line and in its --json output.
  ctx.requestFields.rollout_override = { busy, reason: opts.reason, by: vpmUsername(ctx.env) };
  ctx.status(`override recorded (--force): ${what}`);
  return busy;
}

export const clustersSyncCommand: CommandHandler<SyncFlags> = async (ctx, { args, opts }) => {
  const config = await ctx.config();
  // Everything is validated before anything is changed.
  const timeoutMs = parseDuration(
    opts.timeout ?? config.fleet?.sync_timeout ?? '5m',
    opts.timeout !== undefined ? '--timeout' : 'fleet.sync_timeout',
  );
  const target = await resolveFleetTarget(ctx, opts, args);
  if (opts.revision !== undefined && !opts.revision.trim()) throw new UsageError('--revision must not be empty');
  const freeze = await assertNotFrozen(ctx.root, ctx.now(), {
    forceFreeze: opts.forceFreeze,
    reason: opts.reason,
    command: `clusters sync ${args.join(' ')}`.trim(),
  });

  const deps = await fleetDeps(ctx, opts.kubeconfig, target.namespace);
  const client = await deps.client(target.argocdContext);
  const ping = await deps.ping(client, target.requestTimeoutMs);
  if (!ping.reachable) {
    throw new OperationalError(`cannot reach Argo CD's cluster (context ${target.argocdContext}): ${ping.error}`, {
      retryable: true,
      hint: 'check the context with `kubectl --context … get --raw /version`, or pick another with --context',
    });
  }
  let apps = target.apps;
  if (!apps) {
    apps = (await client.list(ARGO_API, 'Application', target.namespace, target.selector)).map((a) => a.metadata.name).sort();
    if (!apps.length) {
      throw new OperationalError(
        `no Applications to sync in namespace ${target.namespace} (context ${target.argocdContext})${target.selector ? ` matching ${target.selector}` : ''}`,
        {
          hint: 'apply infra/argocd/ (kubectl --context cluster-a apply -f infra/argocd/), or name the apps',
        },
      );
    }
  }
  const overrides = await refuseBusyKsvcs(ctx, deps, target, apps, opts);
  const requestId = ctx.reqId;
  const { withProgress } = await import('../../core/progress.js');
  const outcomes = await withProgress(ctx, `clusters sync: waiting for ${apps.length} app(s) to sync and become healthy`, () =>
    syncApps(
      client,
      {
        apps,
        namespace: target.namespace,
        revision: opts.revision,
        prune: Boolean(opts.prune),
        timeoutMs,
        username: vpmUsername(ctx.env),
        requestId,
        waitHealthy: true,
        // --force-freeze --reason (checked above) also passes vpm's check of the AppProject's sync windows.
        ignoreWindows: Boolean(opts.forceFreeze && opts.reason?.trim()),
        now: ctx.now(),
      },
      {
        onRequested: (name, op) => {
          const sync = op.sync as { revision?: string; revisions?: string[]; syncOptions?: string[] };
          ctx.status(
            `sync requested: ${name} (revision ${sync.revision ?? sync.revisions?.join(',')}${sync.syncOptions ? `, ${sync.syncOptions.join(' ')}` : ''}, by ${(op.initiatedBy as { username: string }).username})`,
          );
        },
        onFinished: (o) => ctx.status(`${o.name}: ${o.phase}${o.health ? ` / ${o.health}` : ''}`),
      },
    ),
  );
  const failed = outcomes.filter(
    (o) => o.phase === 'Failed' || o.phase === 'Error' || (o.phase === 'Succeeded' && o.health === 'Degraded'),
  );
  const timedOut = outcomes.filter((o) => !o.ok && !failed.includes(o));
  const outcome = failed.length ? 'failed' : timedOut.length ? 'timed_out' : 'ok';
  ctx.requestFields.apps = apps.length;
  return {
    data: {
      request_id: requestId,
      argocd: { context: target.argocdContext, namespace: target.namespace },
      freeze_overridden: freeze.overridden,
      rollout_overrides: overrides,
      ok: outcome === 'ok',
      apps: outcomes,
    },
    human: renderSync(outcomes),
    outcome,
    retryable: outcome === 'timed_out',
  };
};

export const clustersDiffCommand: CommandHandler<FlagsOf<typeof clustersDiff>> = async (ctx, { args, opts }) => {
  const target = await resolveFleetTarget(ctx, opts, args);
  const deps = await fleetDeps(ctx, opts.kubeconfig, target.namespace);
  const client = await deps.client(target.argocdContext);
  const items = await client.list(ARGO_API, 'Application', target.namespace, target.selector);
  const byName = new Map(items.map((a) => [a.metadata.name, a]));
  const names = target.apps ?? [...byName.keys()].sort();
  const missing = names.filter((n) => !byName.has(n));
  if (missing.length)
    throw new OperationalError(
      `Application ${missing.join(', ')} not found in namespace ${target.namespace} (context ${target.argocdContext})`,
    );
  const servers = new Map<string, string | null>();
  for (const c of target.contexts) servers.set(c, (await deps.client(c)).kc.getCurrentCluster()?.server?.replace(/\/+$/, '') ?? null);
  const { destinationContext } = await import('../../fleet/apps.js');
  const { diffApp, renderDiff } = await import('../../fleet/diff.js');
  const { captureProgram } = await import('../../adapters/exec.js');
  const run = (argv: string[]) => captureProgram(argv, { cwd: ctx.root, env: ctx.env });
  const diffs = await Promise.all(
    names.map(async (n) => {
      const app = byName.get(n)!;
      const cluster = destinationContext(app, target, servers);
      return diffApp(app, cluster, cluster ? await deps.client(cluster) : null, ctx.root, run);
    }),
  );
  const differs = diffs.some((d) => d.differs);
  const errors = diffs.filter((d) => d.error);
  return {
    data: { differs, apps: diffs },
    human: diffs.map(renderDiff).join('\n'),
    outcome: errors.length || (opts.exitCode && differs) ? 'failed' : 'ok',
  };
};

export const clustersHistoryCommand: CommandHandler<FlagsOf<typeof clustersHistory>> = async (ctx, { args, opts }) => {
  const target = await resolveFleetTarget(ctx, opts, args);
  const deps = await fleetDeps(ctx, opts.kubeconfig, target.namespace);
  const client = await deps.client(target.argocdContext);
  const app = await client.get({ apiVersion: ARGO_API, kind: 'Application', name: args[0], namespace: target.namespace });
  if (!app)
    throw new OperationalError(`Application ${args[0]} not found in namespace ${target.namespace} (context ${target.argocdContext})`);
  const { appHistory } = await import('../../fleet/sync.js');
  const history = appHistory(app);
  return {
    data: { app: args[0], history },
    human: history.length
      ? history
          .map(
            (h) =>
              `${h.id}\t${h.revision?.slice(0, 12) ?? h.revisions?.join(',') ?? '-'}\t${h.deployed_at ?? '-'}\t${h.initiated_by ?? (h.automated ? 'automated' : '-')}`,
          )
          .join('\n')
      : `${args[0]} has no history yet`,
  };
};

export const clustersRollbackCommand: CommandHandler<FlagsOf<typeof clustersRollback>> = async (ctx, { args, opts }) => {
  const config = await ctx.config();
  const timeoutMs = parseDuration(
    opts.timeout ?? config.fleet?.sync_timeout ?? '5m',
    opts.timeout !== undefined ? '--timeout' : 'fleet.sync_timeout',
  );
  const id = Number(args[1]);
  if (!Number.isInteger(id) || id < 0)
    throw new UsageError(`history id ${args[1]} is not a whole number`, { hint: `see vpm clusters history ${args[0]}` });
  const target = await resolveFleetTarget(ctx, opts, [args[0]]);
  const freeze = await assertNotFrozen(ctx.root, ctx.now(), {
    forceFreeze: opts.forceFreeze,
    reason: opts.reason,
    command: `clusters rollback ${args[0]} ${id}`,
  });
  const deps = await fleetDeps(ctx, opts.kubeconfig, target.namespace);
  const client = await deps.client(target.argocdContext);
  const requestId = ctx.reqId;
  const username = vpmUsername(ctx.env);
  const { buildRollbackOperation } = await import('../../fleet/sync.js');
  const [outcome] = await syncApps(client, {
    apps: [args[0]],
    namespace: target.namespace,
    prune: Boolean(opts.prune),
    timeoutMs,
    username,
    requestId,
    waitHealthy: true,
    ignoreWindows: Boolean(opts.forceFreeze && opts.reason?.trim()),
    now: ctx.now(),
    build: (app) => buildRollbackOperation(app, id, { prune: Boolean(opts.prune), username, requestId }),
  });
  const result = outcome.phase === 'Failed' || outcome.phase === 'Error' ? 'failed' : outcome.ok ? 'ok' : 'timed_out';
  return {
    data: { request_id: requestId, rolled_back_to: id, freeze_overridden: freeze.overridden, ok: outcome.ok, app: outcome },
    human: renderSync([outcome]),
    outcome: result,
  };
};
