import type { CommandHandler } from '../../core/command.js';
import type { Ctx } from '../../core/context.js';
import { UsageError, RefusedError, VpmError } from '../../core/errors.js';
import type { KObj, KubeClient } from '../../adapters/kube.js';
import { describeTraffic, rolloutEnded, statusLine, statusTree } from '../../deploy/watch-view.js';
import { makeId } from '../../core/ids.js';
import { CanaryRun, parseSteps, readProgress, writeCanaryTraffic, type CanaryOutcome, type CanaryProgress } from '../../deploy/canary.js';
import { parseDuration, parsePositiveDuration } from '../../deploy/duration.js';
import { assertNamespaceNotFrozen, assertNotFrozen, whoAmI } from '../../deploy/freeze.js';
import type { KubeFlags } from '../../core/context.js';
import { ksvcRef, revisionRef, servingRevision, splitTraffic, type TrafficTarget, CANARY_ANNOTATION } from '../../deploy/ksvc.js';
import { buildHookRunner } from '../../deploy/hooks.js';
import { buildGate } from '../../deploy/provider-factory.js';
import { writeKsvcEvidence } from '../../deploy/ksvc-evidence.js';
import { writeCanaryEvidence } from '../../deploy/rollout-evidence.js';
import { liveDriver, writeReleaseProgress } from '../../deploy/release.js';
import {
  assertNoRolloutInProgress,
  checkForce,
  readRejected,
  readRelease,
  unfinishedRelease,
  type Override,
  type OwnershipFlags,
} from '../../deploy/traffic-ownership.js';
import type { FlagsOf } from '../../cli/spec.js';
import type { canaryStart } from './canary-start.js';
import type { canaryStatus } from './canary-status.js';
import type { canaryAbort } from './canary-abort.js';
import type { canaryPromote } from './canary-promote.js';
import type { canaryResume } from './canary-resume.js';
import type { canaryUndo } from './canary-undo.js';
import { passedRevisions, readHistory, undoCandidates, type HistoryEntry } from '../../deploy/history.js';
import { UndoEvidence } from '../../schemas/deploy-evidence.js';

type StartFlags = FlagsOf<typeof canaryStart>;

export const canaryStartCommand: CommandHandler<StartFlags> = async (ctx, { args, opts }) => {
  const ksvc = args[0];
  const config = await ctx.config();
  // Validate every flag before touching anything.
  const { steps, pauses } = parseSteps(opts.steps, config.canary?.steps, opts.pauseAt);
  const pauseTimeoutMs = opts.pauseTimeout === undefined ? undefined : parsePositiveDuration(opts.pauseTimeout, '--pause-timeout');
  const intervalMs = parsePositiveDuration(opts.interval ?? config.canary?.interval ?? '10s', '--interval');
  const settleTimeoutMs = parseDuration(opts.settleTimeout ?? '60s', '--settle-timeout');
  const { slo, hooks, maxHolds, provider, analysis } = await buildGate(ctx, opts, intervalMs);
  const guard = { forceFreeze: opts.forceFreeze, reason: opts.reason, command: `canary start ${ksvc}` };
  await assertNotFrozen(ctx.root, ctx.now(), guard);

  const kube = await ctx.kube(opts);
  // A freeze set from any checkout is on the namespace itself.
  await assertNamespaceNotFrozen(ctx.root, kube, kube.namespace, ctx.now(), guard);
  // The canary of a release belongs to it: resuming it alone would leave the release open behind it.
  const release = unfinishedRelease(await kube.get(ksvcRef(ksvc, kube.namespace)));
  if (release)
    throw new RefusedError(`release ${release.run_id} is in progress on ${ksvc} (phase ${release.phase}); its canary is the release's`, {
      hint: `resume the release: vpm release ${ksvc} -f ${release.manifest} -n ${kube.namespace}; or end it: vpm canary abort ${ksvc} -n ${kube.namespace}`,
    });
  const runId = makeId('canary', ctx.now());
  const startedAt = ctx.now();
  const run = new CanaryRun(
    { kube, provider, status: (l) => ctx.status(l), analysis, hooks: await buildHookRunner(ctx, hooks, runId) },
    {
      ksvc,
      candidate: opts.candidate,
      stable: opts.stable,
      steps,
      intervalMs,
      slo,
      settleTimeoutMs,
      maxHolds,
      runId,
      freezeOverride: opts.forceFreeze ? opts.reason : undefined,
      pauses,
      pauseTimeoutMs,
    },
  );
  const outcome: CanaryOutcome = await run.run();
  const evidence = await writeCanaryEvidence(ctx, kube, { ksvc, runId, startedAt, steps, intervalMs, provider: provider.name }, outcome);
  ctx.status(`evidence: ${evidence}`);
  if (outcome.error) {
    const e = outcome.error as Error & { details?: unknown };
    Object.assign(e, { details: { evidence: evidence, result: outcome.result } });
    throw e;
  }
  return {
    data: {
      run_id: runId,
      ksvc,
      result: outcome.result,
      stable: outcome.stable,
      candidate: outcome.candidate,
      evidence: evidence,
      checks: outcome.checks.length,
    },
    human: `promoted ${outcome.candidate}: 100% of ${ksvc} (${outcome.checks.filter((c) => c.decision === 'pass').length} gates passed)`,
  };
};

export const canaryStatusCommand: CommandHandler<FlagsOf<typeof canaryStatus>> = async (ctx, { args, opts }) => {
  if (opts.timeout !== undefined && !opts.watch) throw new UsageError('--timeout only applies with --watch');
  const timeoutMs = opts.timeout === undefined ? undefined : parseDuration(opts.timeout, '--timeout');
  const kube = await ctx.kube(opts);
  if (opts.watch) return watchStatus(ctx, kube, args[0], timeoutMs);
  const obj = await kube.mustGet(ksvcRef(args[0], kube.namespace));
  const progress = readProgress(obj);
  const data = {
    ksvc: args[0],
    namespace: kube.namespace,
    context: kube.context,
    progress,
    spec_traffic: obj.spec?.traffic ?? [],
    status_traffic: obj.status?.traffic ?? [],
    ready: (obj.status?.conditions ?? []).find((c: { type: string }) => c.type === 'Ready') ?? null,
    latest_ready_revision: obj.status?.latestReadyRevisionName ?? null,
  };
  const human = [
    `${args[0]} (${kube.namespace}, context ${kube.context})`,
    progress
      ? `canary ${progress.run_id}: ${progress.phase} at step ${progress.step_index + 1}/${progress.steps.length} (${progress.steps[progress.step_index]}%), stable ${progress.stable}, candidate ${progress.candidate}${progress.reason ? ` — ${progress.reason}` : ''}`
      : 'no canary recorded',
    `spec traffic:   ${describeTraffic(obj.spec?.traffic)}`,
    `status traffic: ${describeTraffic(obj.status?.traffic)}`,
    `ready: ${data.ready?.status ?? 'Unknown'}${data.ready?.reason ? ` (${data.ready.reason})` : ''}`,
  ].join('\n');
  return { data, human };
};

/** A hold ends with any answer to it. */
function withoutHold(progress: CanaryProgress): Omit<CanaryProgress, 'hold'> {
  const { hold: _hold, ...rest } = progress;
  return rest;
}

/**
 * Follows the KService by watching it: each change is one line (stdout; stderr with --json), or the
 * tree redrawn when stdout is a terminal; ends with exit 0 when no release/canary is in progress.
 */
async function watchStatus(ctx: Ctx, kube: KubeClient, ksvc: string, timeoutMs: number | undefined) {
  const tty = ctx.io.stdoutIsTTY && !ctx.json;
  let last = '';
  let changes = 0;
  const show = (obj: KObj | null) => {
    const line = statusLine(obj);
    if (line === last) return;
    last = line;
    changes++;
    if (tty) ctx.io.stdout.write(`\x1b[H\x1b[2J${statusTree(ksvc, obj)}\n`);
    else if (ctx.json) ctx.status(`${new Date().toISOString()} ${line}`);
    else ctx.io.stdout.write(`${new Date().toISOString()} ${line}\n`);
  };
  const signal = timeoutMs === undefined ? new AbortController().signal : AbortSignal.timeout(timeoutMs);
  let final: KObj | null;
  try {
    final = await kube.watchUntil(
      ksvcRef(ksvc, kube.namespace),
      'services',
      (obj) => {
        show(obj);
        return rolloutEnded(obj);
      },
      signal,
    );
  } catch (err) {
    if (err instanceof VpmError) throw err;
    return {
      data: { ksvc, ended: false, timed_out: true, changes, last },
      human: tty ? '' : `timed out after ${timeoutMs} ms; still: ${last}`,
      outcome: 'timed_out' as const,
    };
  }
  return {
    data: { ksvc, ended: true, timed_out: false, changes, last, progress: readProgress(final), release: readRelease(final) },
    human: tty ? '' : `ended: ${last}`,
  };
}

async function rewrite(
  ctx: Ctx,
  ksvc: string,
  opts: KubeFlags,
  percent: 0 | 100,
  phase: 'aborted' | 'promoted',
  reason: string,
  freezeOverride?: string,
) {
  const kube = await ctx.kube(opts);
  const obj = await kube.mustGet(ksvcRef(ksvc, kube.namespace));
  const progress = readProgress(obj);
  if (!progress)
    throw new RefusedError(`${ksvc} has no canary recorded (annotation ${CANARY_ANNOTATION})`, {
      hint: `start one: vpm canary start ${ksvc} -n ${kube.namespace}`,
    });
  // Promoting moves traffic onto the candidate: only of a canary still in progress, never of one that
  // ended (aborted, an undo's record) — that would put its candidate back without a gate.
  if (phase === 'promoted' && !['progressing', 'holding', 'paused'].includes(progress.phase))
    throw new RefusedError(`canary ${progress.run_id} of ${ksvc} is ${progress.phase}: there is nothing in progress to promote`, {
      hint: `start a rollout instead: vpm release ${ksvc} -f MANIFEST -n ${kube.namespace}`,
    });
  const traffic = splitTraffic(progress.stable, progress.candidate, percent);
  await writeCanaryTraffic(
    kube,
    ksvc,
    traffic,
    { ...withoutHold(progress), phase, updated_at: ctx.now().toISOString(), reason: `${reason} (${whoAmI(ctx.env)})` },
    (l) => ctx.status(l),
    undefined,
    freezeOverride,
  );
  // Aborting the canary of a release ends the release too (apply and sync are no longer held).
  const releasing = unfinishedRelease(obj);
  if (phase === 'aborted' && releasing)
    await writeReleaseProgress(kube, ksvc, { ...releasing, phase: 'failed', reason, updated_at: ctx.now().toISOString() });
  return { kube, progress, traffic };
}

export const canaryAbortCommand: CommandHandler<FlagsOf<typeof canaryAbort>> = async (ctx, { args, opts }) => {
  // A release stopped before its canary (applying, waiting for Ready) has moved no traffic: aborting
  // it ends the release record, and nothing of an older canary's routing is written back.
  const kube = await ctx.kube(opts);
  const obj = await kube.mustGet(ksvcRef(args[0], kube.namespace));
  const release = readRelease(obj);
  if (release && (release.phase === 'applying' || release.phase === 'ready')) {
    const reason = `aborted by hand in phase ${release.phase} (${whoAmI(ctx.env)})`;
    await writeReleaseProgress(kube, args[0], { ...release, phase: 'failed', reason, updated_at: ctx.now().toISOString() });
    const traffic = (obj.spec?.traffic ?? []) as TrafficTarget[];
    return {
      data: { ksvc: args[0], action: 'aborted', run_id: release.run_id, release_phase: release.phase, traffic },
      human: `ended release ${release.run_id} in phase ${release.phase}: no traffic had moved (${describeTraffic(traffic)})`,
    };
  }
  // Abort lowers risk, so it is allowed while deploys are frozen.
  const { progress, traffic } = await rewrite(ctx, args[0], opts, 0, 'aborted', 'aborted by hand');
  return {
    data: { ksvc: args[0], action: 'aborted', run_id: progress.run_id, traffic },
    human: `aborted canary ${progress.run_id}: set traffic ${describeTraffic(traffic)}`,
  };
};

export const canaryPromoteCommand: CommandHandler<FlagsOf<typeof canaryPromote>> = async (ctx, { args, opts }) => {
  const guard = { forceFreeze: opts.forceFreeze, reason: opts.reason, command: `canary promote ${args[0]}` };
  await assertNotFrozen(ctx.root, ctx.now(), guard);
  const kube = await ctx.kube(opts);
  await assertNamespaceNotFrozen(ctx.root, kube, kube.namespace, ctx.now(), guard);
  const { progress, traffic } = await rewrite(
    ctx,
    args[0],
    opts,
    100,
    'promoted',
    'promoted by hand (remaining gates skipped)',
    opts.forceFreeze ? opts.reason : undefined,
  );
  return {
    data: { ksvc: args[0], action: 'promoted', run_id: progress.run_id, traffic },
    human: `promoted canary ${progress.run_id}: set traffic ${describeTraffic(traffic)}`,
  };
};

export const canaryResumeCommand: CommandHandler<FlagsOf<typeof canaryResume>> = async (ctx, { args, opts }) => {
  const ksvc = args[0];
  // Resuming moves traffic forward, so the freeze holds it like promote.
  const guard = { forceFreeze: opts.forceFreeze, reason: opts.reason, command: `canary resume ${ksvc}` };
  await assertNotFrozen(ctx.root, ctx.now(), guard);
  const kube = await ctx.kube(opts);
  await assertNamespaceNotFrozen(ctx.root, kube, kube.namespace, ctx.now(), guard);
  const obj = await kube.mustGet(ksvcRef(ksvc, kube.namespace));
  const progress = readProgress(obj);
  if (progress?.phase !== 'paused')
    throw new RefusedError(
      `${ksvc} has no hold to resume (${progress ? `canary ${progress.run_id} is ${progress.phase}` : 'no canary recorded'})`,
      {
        hint: `see vpm canary status ${ksvc}`,
      },
    );
  // A release's hold is answered to the process running the release: with none left, the canary
  // would stand at this step with nobody to take it further.
  const release = unfinishedRelease(obj);
  if (release && !liveDriver(obj))
    throw new RefusedError(`no process is running release ${release.run_id} any more: nobody would take the canary on from its hold`, {
      hint: `re-run the release (vpm release ${ksvc} -f ${release.manifest} -n ${kube.namespace}): it comes back to the hold; then resume it`,
    });
  const traffic = splitTraffic(progress.stable, progress.candidate, progress.steps[progress.step_index]);
  const rest = withoutHold(progress);
  const reason = `resumed by ${whoAmI(ctx.env)}`;
  await writeCanaryTraffic(
    kube,
    ksvc,
    traffic,
    { ...rest, phase: 'progressing', reason, updated_at: ctx.now().toISOString() },
    (l) => ctx.status(l),
    undefined,
    opts.forceFreeze ? opts.reason : undefined,
  );
  return {
    data: { ksvc, action: 'resumed', run_id: progress.run_id, percent: progress.steps[progress.step_index], by: whoAmI(ctx.env) },
    human: `resumed canary ${progress.run_id} from its hold at ${progress.steps[progress.step_index]}%`,
  };
};

/**
 * The revision to go back to by default: the first of `undoCandidates` that is not serving now, was
 * not rejected and still exists (Knative garbage-collects old revisions); those gone are skipped.
 */
async function previousGood(
  kube: KubeClient,
  ksvc: string,
  entries: HistoryEntry[],
  current: string | undefined,
  rejected: string[],
): Promise<{ to: string; skipped: string[] }> {
  const { candidates, undone } = undoCandidates(entries);
  const skipped: string[] = [];
  for (const rev of candidates) {
    if (rev === current || rejected.includes(rev)) continue;
    if (await kube.get(revisionRef(rev, kube.namespace))) return { to: rev, skipped };
    skipped.push(rev);
  }
  const why = [
    skipped.length ? `no longer on the cluster: ${skipped.join(', ')}` : '',
    undone.length ? `undone away from since they last passed a gate: ${undone.join(', ')}` : '',
  ].filter(Boolean);
  throw new RefusedError(`no earlier good revision of ${ksvc} left to go back to${why.length ? ` (${why.join('; ')})` : ''}`, {
    hint: 'name one with --to-revision REV (see vpm history and kubectl get revisions)',
    details: { skipped, undone },
  });
}

/**
 * A named revision must have served users or passed a gate (in the evidence, or as the stable of the
 * rollout on the KService now); `--force --reason` overrides that, recorded.
 */
function assertPassed(obj: KObj, to: string, entries: HistoryEntry[], opts: OwnershipFlags, overrides: Override[]): void {
  const passed = passedRevisions(entries);
  for (const stable of [readProgress(obj)?.stable, readRelease(obj)?.stable]) if (stable) passed.add(stable);
  if (passed.has(to)) return;
  const did = [...passed].join(', ') || 'none';
  const what = `${to} never served 100% of ${obj.metadata.name} and never passed a gate (no release, canary or guard in the evidence passed it, and it is not the stable of the last rollout)`;
  if (!opts.force)
    throw new RefusedError(`${what}; revisions that did: ${did}`, {
      hint: `pick one of those, or --force --reason "…" to put ${to} back anyway`,
      details: { revision: to, passed: [...passed] },
    });
  overrides.push({ object: `Service/${obj.metadata.name}`, what, reason: opts.reason ?? '' });
}

export const canaryUndoCommand: CommandHandler<FlagsOf<typeof canaryUndo>> = async (ctx, { args, opts }) => {
  const ksvc = args[0];
  checkForce(opts);
  const guard = { forceFreeze: opts.forceFreeze, reason: opts.reason, command: `canary undo ${ksvc}` };
  await assertNotFrozen(ctx.root, ctx.now(), guard);
  const kube = await ctx.kube(opts);
  await assertNamespaceNotFrozen(ctx.root, kube, kube.namespace, ctx.now(), guard);
  const obj = await kube.mustGet(ksvcRef(ksvc, kube.namespace));
  const overrides: Override[] = [];
  assertNoRolloutInProgress(obj, opts, overrides);
  const current = servingRevision(obj);
  const rejected = readRejected(obj).map((r) => r.revision);
  // Evidence speaks of revisions by name: only what was written about this KService — this cluster,
  // and since it was created (a KService deleted and created again numbers its revisions anew).
  const born = new Date(obj.metadata.creationTimestamp ?? 0).getTime() || 0;
  const entries = readHistory(ctx.root, ksvc, kube.namespace).filter(
    (e) => Date.parse(e.at) >= born && (e.context === null || e.context === kube.context),
  );
  const { to, skipped } = opts.toRevision
    ? { to: opts.toRevision, skipped: [] }
    : await previousGood(kube, ksvc, entries, current, rejected);
  if (to === current) throw new RefusedError(`${to} already serves ${ksvc}`);
  const revision = await kube.get(revisionRef(to, kube.namespace));
  if (!revision) throw new RefusedError(`revision ${to} does not exist`, { hint: 'see kubectl get revisions' });
  if (revision.status?.conditions?.find((c: { type: string }) => c.type === 'Ready')?.status !== 'True')
    throw new RefusedError(`revision ${to} is not Ready`);
  if (opts.toRevision) assertPassed(obj, to, entries, opts, overrides);
  if (rejected.includes(to)) {
    const what = `${to} was rejected (annotation vpm.dev/rejected-revisions)`;
    if (!opts.force) throw new RefusedError(`${what}; undo would put it back`, { hint: 'pick another revision, or --force --reason "…"' });
    overrides.push({ object: `Service/${ksvc}`, what, reason: opts.reason ?? '' });
  }
  const startedAt = ctx.now();
  const runId = makeId('undo', startedAt);
  const by = whoAmI(ctx.env);
  const reason = `undo to ${to} by ${by}`;
  const traffic: TrafficTarget[] = current ? splitTraffic(to, current, 0) : [{ revisionName: to, percent: 100, tag: 'stable' }];
  const progress: CanaryProgress = {
    run_id: runId,
    stable: to,
    candidate: current ?? to,
    steps: [100],
    step_index: 0,
    phase: 'aborted',
    updated_at: startedAt.toISOString(),
    reason,
  };
  await writeCanaryTraffic(kube, ksvc, traffic, progress, (l) => ctx.status(l), undefined, opts.forceFreeze ? opts.reason : undefined);
  const evidence = await writeKsvcEvidence(ctx, kube, {
    kind: UndoEvidence,
    ksvc,
    runId,
    startedAt,
    status: 'restored',
    body: {
      from: current ?? null,
      to,
      by,
      reason,
      traffic: traffic as unknown as Record<string, unknown>[],
      override: overrides[0] ? { what: overrides.map((o) => o.what).join('; '), reason: opts.reason ?? '' } : null,
      skipped,
    },
  });
  const gone = skipped.length ? `\nskipped (no longer on the cluster): ${skipped.join(', ')}` : '';
  return {
    data: { ksvc, run_id: runId, from: current ?? null, to, skipped, traffic, evidence },
    human: `100% of ${ksvc} back on ${to} (was ${current ?? '-'})${gone}\nevidence: ${evidence}`,
  };
};
