import type { CommandHandler } from '../../core/command.js';
import type { Ctx } from '../../core/context.js';
import { UsageError } from '../../core/errors.js';
import { FREEZE_FILE, isFreezeActive, readFreeze, setFreeze, whoAmI } from '../../deploy/freeze.js';
import type { FreezePlace } from '../../deploy/cluster-freeze.js';
import type { freezeOff } from './freeze-off.js';
import { parseDuration } from '../../deploy/duration.js';
import type { freezeOn } from './freeze-on.js';
import type { freezeStatus } from './freeze-status.js';
import type { FlagsOf } from '../../cli/spec.js';

/** `--until` takes an ISO time or a duration from now (`2h`, `30m`). */
function parseUntil(value: string | undefined, now: Date): string | null {
  if (value === undefined) return null;
  const asDate = Date.parse(value);
  if (!Number.isNaN(asDate) && /\d{4}-\d{2}-\d{2}/.test(value)) {
    if (asDate <= now.getTime()) throw new UsageError(`--until ${value} is in the past`);
    return new Date(asDate).toISOString();
  }
  return new Date(now.getTime() + parseDuration(value, '--until')).toISOString();
}

type ClusterFlags = { local?: boolean; kubeconfig?: string };

function placesLine(places: FreezePlace[]): string {
  return places
    .map((p) => `  ${p.ok ? 'applied' : 'FAILED '} ${p.kind} ${p.name} (context ${p.context})${p.error ? `: ${p.error}` : ''}`)
    .join('\n');
}

/** The cluster half of `freeze on|off`; null when this repository freezes its checkout only. */
async function onClusters(
  ctx: Ctx,
  opts: ClusterFlags,
  f: 'apply' | 'remove',
  info?: import('../../deploy/cluster-freeze.js').ClusterFreezeInfo,
) {
  const { resolveFreezeTargets } = await import('../../deploy/freeze-targets.js');
  const targets = await resolveFreezeTargets(ctx, opts);
  if (!targets) return null;
  const cf = await import('../../deploy/cluster-freeze.js');
  return f === 'apply' ? cf.applyClusterFreeze(targets, info!) : cf.removeClusterFreeze(targets);
}

export const freezeOnCommand: CommandHandler<FlagsOf<typeof freezeOn>> = async (ctx, { opts }) => {
  if (!opts.reason?.trim()) throw new UsageError('vpm freeze on needs --reason "…"');
  const now = ctx.now();
  const state = {
    frozen: true,
    reason: opts.reason,
    by: whoAmI(ctx.env),
    at: now.toISOString(),
    until: parseUntil(opts.until, now),
    source: 'manual' as const,
    run_id: null,
  };
  const places = await onClusters(ctx, opts, 'apply', { reason: state.reason, by: state.by, at: state.at, until: state.until });
  // The checkout's file is written whatever the clusters answered: the freeze holds here at least.
  const saved = await setFreeze(ctx.root, state, places ?? []);
  const failed = (places ?? []).filter((p) => !p.ok);
  return {
    data: { ...saved, places: places ?? [], cluster: places !== null },
    human: `deploys frozen: ${saved.reason}${saved.until ? ` (until ${saved.until})` : ''}${places ? `\n${placesLine(places)}` : '\n  (this checkout only: no fleet configured)'}`,
    outcome: failed.length ? 'failed' : 'ok',
  };
};

export const freezeOffCommand: CommandHandler<FlagsOf<typeof freezeOff>> = async (ctx, { opts }) => {
  const previous = (() => {
    try {
      return readFreeze(ctx.root);
    } catch {
      return null; // a corrupt file is replaced by `off`
    }
  })();
  const state = {
    frozen: false,
    reason: previous?.reason ?? '',
    by: whoAmI(ctx.env),
    at: ctx.now().toISOString(),
    until: null,
    source: previous?.source ?? ('manual' as const),
    run_id: previous?.run_id ?? null,
  };
  const places = await onClusters(ctx, opts, 'remove');
  await setFreeze(ctx.root, state, places ?? []);
  const failed = (places ?? []).filter((p) => !p.ok);
  return {
    data: { ...state, previous, places: places ?? [] },
    human: `deploys unfrozen${places ? `\n${placesLine(places)}` : ''}`,
    outcome: failed.length ? 'failed' : 'ok',
  };
};

export const freezeStatusCommand: CommandHandler<FlagsOf<typeof freezeStatus>> = async (ctx, { opts }) => {
  const now = ctx.now();
  const state = readFreeze(ctx.root);
  const fileActive = isFreezeActive(state, now);
  const expired = Boolean(state?.frozen && !fileActive);
  const { activeSchedules } = await import('../../deploy/freeze.js');
  const schedules = await activeSchedules(ctx.root, now);
  const { resolveFreezeTargets } = await import('../../deploy/freeze-targets.js');
  const targets = await resolveFreezeTargets(ctx, opts);
  const cluster = targets ? await (await import('../../deploy/cluster-freeze.js')).readClusterFreeze(targets) : null;
  const manualWindows = cluster?.windows.filter((w) => String(w.window.description ?? '').startsWith('vpm:freeze')) ?? [];
  const nsFrozen = cluster?.namespaces.filter((n) => n.freeze) ?? [];
  const places = [
    ...(fileActive ? [`file ${FREEZE_FILE}`] : []),
    ...manualWindows.map((w) => `AppProject ${w.project} deny window (context ${w.context})`),
    ...nsFrozen.map((n) => `namespace ${n.namespace} annotation (context ${n.context})`),
    ...(cluster?.policies.filter((p) => p.present).map((p) => `ValidatingAdmissionPolicy vpm-freeze (context ${p.context})`) ?? []),
    ...schedules.map((s) => `recurring freeze ${s.id} ("${s.cron}" for ${s.duration}, ${s.tz})`),
  ];
  const active = places.length > 0;
  // The places must agree: a freeze in one and not the others means one checkout, Argo CD or kubectl is not held.
  const clusterFrozen = manualWindows.length > 0 || nsFrozen.length > 0;
  const disagree = cluster !== null && (fileActive !== clusterFrozen || (clusterFrozen && (!manualWindows.length || !nsFrozen.length)));
  const head = !active
    ? !state
      ? 'not frozen (no freeze recorded)'
      : expired
        ? `not frozen (the freeze of ${state.at} expired at ${state.until})`
        : `not frozen (lifted at ${state.at} by ${state.by})`
    : fileActive && state
      ? `FROZEN since ${state.at} by ${state.by} (${state.source}): ${state.reason}${state.until ? `; until ${state.until}` : ''}`
      : nsFrozen[0]?.freeze
        ? `FROZEN on the cluster since ${nsFrozen[0].freeze.at} by ${nsFrozen[0].freeze.by}: ${nsFrozen[0].freeze.reason}`
        : 'FROZEN';
  const human = [
    head,
    ...places.map((p) => `  found: ${p}`),
    ...(disagree
      ? [
          `  DISAGREE: this checkout's file says ${fileActive ? 'frozen' : 'not frozen'}, the cluster ${clusterFrozen ? `is frozen (${manualWindows.length ? 'window' : 'no window'}, ${nsFrozen.length ? 'namespaces' : 'no namespace'})` : 'is not'}; run \`vpm freeze on\` or \`vpm freeze off\` to make them agree`,
        ]
      : []),
    ...(cluster?.errors.map((e) => `  could not read context ${e.context}: ${e.error}`) ?? []),
  ].join('\n');
  // --exit-code makes the answer a gate for scripts, as `git diff --exit-code` does.
  return {
    data: { file: FREEZE_FILE, active, expired, state, places, disagree, cluster, schedules },
    human,
    outcome: opts.exitCode && active ? 'refused' : 'ok',
  };
};
