/**
 * `vpm failover --from a --to b [--auto|--drill]`: flags → options (all validated before anything
 * is touched) → preflight → confirmation → src/fleet/failover.ts → evidence in reports/failover/.
 */
import { relative } from 'node:path';
import type { CommandHandler } from '../../core/command.js';
import type { Ctx } from '../../core/context.js';
import { UsageError, OperationalError } from '../../core/errors.js';
import { makeId } from '../../core/ids.js';
import { confirm } from '../../core/progress.js';
import { parseDuration } from '../../deploy/duration.js';
import { assertNotFrozen, isFreezeActive, readFreeze } from '../../deploy/freeze.js';
import type { SentCommand } from '../../adapters/haproxy.js';
import type { FailoverOptions, FailoverMode } from '../../fleet/failover.js';
import type { FailoverBody } from '../../schemas/failover-evidence.js';
import type { FlagsOf } from '../../cli/spec.js';
import type { failover } from './failover.js';

type FailoverFlags = FlagsOf<typeof failover>;

function positiveInt(value: string | undefined, fallback: number, flag: string): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`${flag} must be a positive whole number, got '${value}'`);
  return n;
}

/** Flag > VPM_* env / config file (`failover`) > default. */
export async function resolveFailoverOptions(ctx: Ctx, f: FailoverFlags): Promise<FailoverOptions> {
  const cfg = (await ctx.config()).failover;
  if (f.auto && f.drill)
    throw new UsageError('--auto and --drill cannot be combined', {
      hint: '--auto waits for a real failure; --drill switches and fails back now',
    });
  const mode: FailoverMode = f.auto ? 'auto' : f.drill ? 'drill' : 'manual';
  const from = f.from ?? cfg?.from;
  const to = f.to ?? cfg?.to;
  if (!from || !to)
    throw new UsageError('which servers? --from and --to are required (or failover.from / failover.to in the config)', {
      hint: 'e.g. vpm failover --from a --to b',
    });
  const socket = f.socket ?? cfg?.socket;
  if (!socket) {
    throw new UsageError('no HAProxy admin socket configured', {
      hint: 'set failover.socket in vpm.config.yaml, VPM_FAILOVER_SOCKET, or pass --socket (HAProxy: `stats socket <path> level admin`)',
    });
  }
  const probeUrl = f.probeUrl ?? cfg?.probe_url;
  if (probeUrl !== undefined) {
    let u: URL;
    try {
      u = new URL(probeUrl);
    } catch {
      throw new UsageError(`--probe-url '${probeUrl}' is not a URL`, { hint: 'e.g. --probe-url http://edge.example.com/' });
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new UsageError(`--probe-url must be http(s), got ${u.protocol}`);
  }
  const intervalMs = f.interval !== undefined ? parseDuration(f.interval, '--interval') : (cfg?.probe_interval_ms ?? 100);
  if (intervalMs < 10) throw new UsageError('--interval must be at least 10ms');
  return {
    mode,
    socket,
    backend: f.backend ?? cfg?.backend ?? 'edge',
    from,
    to,
    probeUrl,
    probeHost: f.probeHost ?? cfg?.probe_host,
    probePath: cfg?.probe_path ?? '/',
    intervalMs,
    probeTimeoutMs: f.probeTimeout !== undefined ? parseDuration(f.probeTimeout, '--probe-timeout') : (cfg?.probe_timeout_ms ?? 1_000),
    failThreshold: positiveInt(f.failAfter, cfg?.fail_threshold ?? 2, '--fail-after'),
    steadySuccesses: positiveInt(f.steady, cfg?.steady_successes ?? 10, '--steady'),
    targetRtoMs: f.targetRto !== undefined ? parseDuration(f.targetRto, '--target-rto') : (cfg?.target_rto_ms ?? 1_500),
    watchTimeoutMs: f.timeout !== undefined ? parseDuration(f.timeout, '--timeout') : undefined,
    recoveryTimeoutMs:
      f.recoveryTimeout !== undefined ? parseDuration(f.recoveryTimeout, '--recovery-timeout') : (cfg?.recovery_timeout_ms ?? 30_000),
    standbyCheck: f.standbyCheck !== false,
    dryRun: Boolean(f.dryRun),
  };
}

/** Argo CD status of the clusters behind the servers; best effort, bounded, never fails the run. */
async function argoSnapshot(ctx: Ctx, f: FailoverFlags, o: FailoverOptions): Promise<FailoverBody['argo']> {
  try {
    const config = await ctx.config();
    const { collectFleetStatus } = await import('../../fleet/apps.js');
    const { resolveFleetTarget, fleetDeps } = await import('../../fleet/target.js');
    const mapped = [config.failover?.servers?.[o.from], config.failover?.servers?.[o.to]].filter((c): c is string => Boolean(c));
    const target = await resolveFleetTarget(ctx, { contexts: mapped.length ? mapped.join(',') : undefined }, []);
    target.requestTimeoutMs = Math.min(target.requestTimeoutMs, 2_000);
    const s = await collectFleetStatus(await fleetDeps(ctx, f.kubeconfig, target.namespace), target);
    return { checked_at: s.checked_at, clusters: s.clusters, apps: s.apps, error: s.argocd.reachable ? null : s.argocd.error };
  } catch (err) {
    return { checked_at: null, clusters: [], apps: [], error: (err as Error).message };
  }
}

export const failoverCommand: CommandHandler<FailoverFlags> = async (ctx, { opts }) => {
  const o = await resolveFailoverOptions(ctx, opts);
  const describe = `${o.backend}: ${o.from} → ${o.to}`;
  const freezeGuard = o.dryRun
    ? { overridden: false, freeze: readFreeze(ctx.root) }
    : await assertNotFrozen(ctx.root, ctx.now(), {
        forceFreeze: opts.forceFreeze,
        reason: opts.reason,
        command: `failover --from ${o.from} --to ${o.to}${o.mode === 'manual' ? '' : ` --${o.mode}`}`,
      });

  const [{ probeEdge }, failover] = await Promise.all([import('../../adapters/edge-probe.js'), import('../../fleet/failover.js')]);
  const commands: SentCommand[] = [];
  const runtime = await ctx.haproxy(o.socket, { onCommand: (c) => commands.push(c) });
  const controller = new AbortController();
  const deps = {
    runtime,
    commands,
    probe: probeEdge,
    frozenNow: () => {
      if (freezeGuard.overridden) return false;
      try {
        return isFreezeActive(readFreeze(ctx.root), new Date());
      } catch {
        return true; // a corrupt freeze file counts as frozen
      }
    },
    status: (line: string) => ctx.status(line),
    signal: controller.signal,
  };

  // Nothing is changed by the preflight: bad socket, level, backend or server names stop here.
  const pre = await failover.preflight(deps, o);
  const plan = {
    mode: o.mode,
    backend: o.backend,
    from: o.from,
    to: o.to,
    socket: o.socket,
    haproxy_version: pre.version,
    cli_level: pre.cliLevel,
    servers: pre.servers.map(({ raw: _raw, ...s }) => s),
  };
  if (o.dryRun) {
    const lines = plan.servers.map(
      (s) =>
        `  ${s.server}  ${s.address}:${s.port ?? '-'}  admin ${s.admin_state}  op ${s.op_state}${s.backup ? '  backup' : ''}  ${s.status ?? ''}`,
    );
    return {
      data: { dry_run: true, ...plan, freeze_active: isFreezeActive(freezeGuard.freeze, ctx.now()) },
      human: `dry run — would switch ${describe}${o.mode === 'manual' ? '' : ` (${o.mode})`}\n${lines.join('\n')}`,
    };
  }
  if (!opts.yes) {
    if (!ctx.canPrompt()) {
      throw new UsageError(
        `refusing to ${o.mode === 'auto' ? 'arm automatic failover' : 'switch the edge'} (${describe}) without confirmation: stdin is not a terminal`,
        { hint: 'pass --yes' },
      );
    }
    if (
      !(await confirm(
        ctx,
        o.mode === 'auto'
          ? `Arm automatic failover ${describe}?`
          : `Switch ${describe}${o.mode === 'drill' ? ' and fail back (drill)' : ''}?`,
      ))
    ) {
      throw new OperationalError('nothing changed: not confirmed');
    }
  }

  const runId = makeId('failover', ctx.now());
  const startedAt = ctx.now();
  const argo = await argoSnapshot(ctx, opts, o);
  const onSignal = () => controller.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  let outcome;
  try {
    outcome = await failover.runFailover(deps, o, pre);
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }
  const { writeEvidence } = await import('../../evidence/write.js');
  const { FailoverEvidence } = await import('../../schemas/failover-evidence.js');
  const freeze = {
    active: isFreezeActive(freezeGuard.freeze, startedAt),
    overridden: freezeGuard.overridden,
    reason: freezeGuard.overridden ? (opts.reason ?? null) : null,
    state: freezeGuard.freeze ?? null,
  };
  const { path } = await writeEvidence({
    kind: FailoverEvidence,
    cwd: ctx.root,
    runId,
    startedAt,
    status: outcome.verdict,
    body: { ...outcome.body, freeze, argo },
    env: ctx.env,
  });
  const ending = failover.VERDICT_OUTCOME[outcome.verdict];
  const b = outcome.body;
  ctx.requestFields.rto_ms = b.rto_ms;
  ctx.requestFields.verdict = outcome.verdict;
  const rel = relative(ctx.root, path);
  const human = [
    `${outcome.verdict.toUpperCase()}: ${outcome.message}`,
    ...b.legs.map(
      (l) =>
        `  ${l.direction}: t0 +0  detect ${fmt(l.offsets_ms.tDetect)}  switch ${fmt(l.offsets_ms.tSwitch)}  first 2xx ${fmt(l.offsets_ms.tFirstSuccess)}  steady ${fmt(l.offsets_ms.tSteady)}  RTO ${l.rto_ms ?? '-'} ms`,
    ),
    `evidence: ${rel}`,
  ].join('\n');
  return {
    data: {
      run_id: runId,
      evidence: rel,
      verdict: outcome.verdict,
      message: outcome.message,
      mode: o.mode,
      backend: o.backend,
      from: o.from,
      to: o.to,
      rto_ms: b.rto_ms,
      target_rto_ms: b.target_rto_ms,
      timestamps: b.timestamps,
      offsets_ms: b.offsets_ms,
      legs: b.legs,
    },
    human,
    outcome: ending,
  };
};

const fmt = (v: number | null) => (v === null ? '-' : `+${v}`);
