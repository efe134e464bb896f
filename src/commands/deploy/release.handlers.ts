import { existsSync } from 'node:fs';
import type { KObj, KubeClient } from '../../adapters/kube.js';
import type { CommandHandler } from '../../core/command.js';
import { OperationalError, RefusedError, SloGateError, UsageError, VpmError } from '../../core/errors.js';
import { makeId } from '../../core/ids.js';
import { assertNamespaceFlagMatches, loadObjects, resolveManifest } from '../../deploy/apply.js';
import { runApplyLane } from '../../deploy/apply-lane.js';
import { CanaryRun, parseSteps, readProgress } from '../../deploy/canary.js';
import { parseDuration, parsePositiveDuration } from '../../deploy/duration.js';
import { assertNamespaceNotFrozen, assertNotFrozen, whoAmI } from '../../deploy/freeze.js';
import { runGuard } from '../../deploy/guard.js';
import { CANDIDATE_TAG, ksvcRef, servingRevision, tagUrl } from '../../deploy/ksvc.js';
import { buildGate } from '../../deploy/provider-factory.js';
import { waitReady } from '../../deploy/ready.js';
import {
  acquireLease,
  HEARTBEAT_STALE_MS,
  liveDriver,
  RELEASE_PHASES,
  releaseTraffic,
  startHeartbeat,
  writeReleaseProgress,
} from '../../deploy/release.js';
import { writeKsvcEvidence } from '../../deploy/ksvc-evidence.js';
import { describeTraffic } from '../../deploy/watch-view.js';
import { reportGuard, writeCanaryEvidence } from '../../deploy/rollout-evidence.js';
import { buildHookRunner } from '../../deploy/hooks.js';
import { notifier, type NotifyEvent } from '../../deploy/notify.js';
import {
  assertNoRolloutInProgress,
  checkForce,
  isKsvc,
  isLive,
  readRelease,
  unfinishedRelease,
  rejectedAnnotation,
  templateHash,
  type Override,
  type ReleaseProgress,
} from '../../deploy/traffic-ownership.js';
import { ReleaseEvidence } from '../../schemas/deploy-evidence.js';
import type { FlagsOf } from '../../cli/spec.js';
import type { release } from './release.js';

type ReleaseFlags = FlagsOf<typeof release>;
type Phase = 'apply' | 'ready' | 'canary' | 'guard';
type Result = 'released' | 'first_deploy' | 'unchanged' | 'aborted' | 'guard_failed' | 'held' | 'failed';

/** What the release record (evidence) collects as it goes. */
class ReleaseLog {
  readonly phases: Array<{ phase: Phase; run_id: string | null; evidence: string | null; verdict: string; at: string }> = [];
  readonly timeline: Array<{ at: string; event: string; detail?: Record<string, unknown> }> = [];
  phase(phase: Phase, run_id: string | null, evidence: string | null, verdict: string): void {
    this.phases.push({ phase, run_id, evidence, verdict, at: new Date().toISOString() });
  }
  event(event: string, detail?: Record<string, unknown>): void {
    this.timeline.push({ at: new Date().toISOString(), event, ...(detail ? { detail } : {}) });
  }
}

export const releaseCommand: CommandHandler<ReleaseFlags> = async (ctx, { args, opts }) => {
  const ksvc = args[0];
  const config = await ctx.config();
  // Every flag is validated before anything is read or changed.
  const { steps, pauses } = parseSteps(opts.steps, config.canary?.steps, opts.pauseAt);
  const pauseTimeoutMs = opts.pauseTimeout === undefined ? undefined : parsePositiveDuration(opts.pauseTimeout, '--pause-timeout');
  const intervalMs = parsePositiveDuration(opts.interval ?? config.canary?.interval ?? '10s', '--interval');
  const guardWindowMs = parseDuration(opts.guardWindow ?? '1m', '--guard-window');
  const readyTimeoutMs = parseDuration(opts.readyTimeout ?? '120s', '--ready-timeout');
  const settleTimeoutMs = parseDuration(opts.settleTimeout ?? '60s', '--settle-timeout');
  // A guard window shorter than the default interval is judged as one window; one given explicitly must fit.
  const intervalGiven = opts.interval !== undefined || config.canary?.interval !== undefined;
  if (guardWindowMs > 0 && intervalMs > guardWindowMs && intervalGiven)
    throw new UsageError('--interval must not be longer than --guard-window');
  const guardIntervalMs = Math.min(intervalMs, guardWindowMs);
  const { slo, hooks, maxHolds, provider, analysis } = await buildGate(ctx, opts, intervalMs);
  checkForce(opts);
  const fromStart = ctx.userPath(opts.file);
  const source = resolveManifest(ctx.root, existsSync(fromStart) ? fromStart : opts.file);
  const objects = await loadObjects(ctx.root, source.files);
  assertNamespaceFlagMatches(objects, opts.namespace);
  const manifestKsvc = objects.find((o) => isKsvc(o) && o.metadata.name === ksvc);
  if (!manifestKsvc)
    throw new UsageError(`${source.manifest} holds no Knative Service ${ksvc}`, { hint: 'name the KService the manifest defines' });
  const freezeGuard = { forceFreeze: opts.forceFreeze, reason: opts.reason, command: `release ${ksvc}` };
  await assertNotFrozen(ctx.root, ctx.now(), freezeGuard);
  const kube = await ctx.kube({ ...opts, namespace: opts.namespace ?? manifestKsvc.metadata.namespace });
  await assertNamespaceNotFrozen(ctx.root, kube, kube.namespace, ctx.now(), freezeGuard);
  // Hints name the namespace: a command copied from them must reach this KService.
  const nsFlag = ` -n ${kube.namespace}`;

  const startedAt = ctx.now();
  const runId = makeId('release', startedAt);
  // Hooks run in the sandbox: a machine where it cannot run refuses (exit 3) before anything is applied.
  const hookRunner = await buildHookRunner(ctx, hooks, runId);
  const hash = templateHash(manifestKsvc.spec?.template);
  const log = new ReleaseLog();
  const ref = ksvcRef(ksvc, kube.namespace);
  const live = await kube.get(ref);
  const previous = readRelease(live);
  const unfinished = unfinishedRelease(live);
  const overrides: Override[] = [];
  // An unfinished release of this template is resumed — once the process that ran it is gone; no
  // release starts while another process drives one here. The lease is taken over the object as read,
  // so of two runs started together one drives and the other is refused.
  let resuming = unfinished;
  if (unfinished && unfinished.template_hash !== hash) {
    const what = `release ${unfinished.run_id} of another template is in progress on ${ksvc} (phase ${unfinished.phase}, manifest ${unfinished.manifest})`;
    if (!opts.force)
      throw new RefusedError(what, {
        hint: `finish it by re-running it with ${unfinished.manifest}, end it with vpm canary abort ${ksvc}${nsFlag}, or replace it with --force --reason "…"`,
      });
    overrides.push({ object: `Service/${ksvc}`, what, reason: opts.reason ?? '' });
    resuming = null; // replaced: this release starts from its beginning
  }
  if (live && !unfinished) assertNoRolloutInProgress(live, opts, overrides);
  const driver = live ? (opts.force ? liveDriver(live) : await acquireLease(kube, ksvc, runId, live)) : null;
  if (driver) {
    const what = `release ${driver.run_id} of ${ksvc} is being run right now (pid ${driver.pid} on ${driver.host}${unfinished ? `, phase ${unfinished.phase}` : ''})`;
    if (!opts.force)
      throw new RefusedError(what, {
        hint: `follow it with vpm canary status ${ksvc}${nsFlag} --watch; once that process has ended (on another machine: ${HEARTBEAT_STALE_MS / 1000} s after its last heartbeat) run again; or take it over with --force --reason "…"`,
      });
    overrides.push({ object: `Service/${ksvc}`, what, reason: opts.reason ?? '' });
  }
  const firstDeploy = !resuming && !isLive(live);
  // Acquired above unless taken over (--force): then this run's first beat replaces the other's.
  const heartbeat = live ? startHeartbeat(kube, ksvc, runId, !opts.force) : null;
  const stable: string | null = resuming?.stable ?? (live && isLive(live) ? (servingRevision(live) ?? null) : null);
  let candidate: string | null = resuming?.candidate ?? null;
  const startPhase = resuming ? RELEASE_PHASES.indexOf(resuming.phase as (typeof RELEASE_PHASES)[number]) : 0;
  if (resuming) {
    log.event('resumed', { from_run_id: resuming.run_id, phase: resuming.phase });
    ctx.status(`resuming release ${resuming.run_id} of ${ksvc} at phase ${resuming.phase}`);
  }

  const progress = (phase: ReleaseProgress['phase'], reason?: string): ReleaseProgress => ({
    run_id: runId,
    phase,
    manifest: source.manifest,
    stable,
    candidate,
    template_hash: hash,
    updated_at: new Date().toISOString(),
    ...(reason ? { reason } : {}),
  });
  /** The phase this run is in; recorded on the KService from the first phase a live one has to protect. */
  let phaseNow: ReleaseProgress['phase'] = resuming ? (resuming.phase as ReleaseProgress['phase']) : 'applying';
  const enter = async (phase: ReleaseProgress['phase']) => {
    phaseNow = phase;
    if (!firstDeploy) await writeReleaseProgress(kube, ksvc, progress(phase));
  };
  // Ctrl-C leaves the release resumable: say where it stands and how to go on, then end as the signal would.
  const interrupted = () => {
    void (async () => {
      await heartbeat?.stop();
      const now = await kube.get(ref).catch(() => null);
      ctx.status(`interrupted in phase ${phaseNow}; ${ksvc} routes ${describeTraffic(now?.spec?.traffic) || '(unknown)'}`);
      ctx.status(`resume: vpm release ${ksvc} -f ${opts.file}${nsFlag}; or end it: vpm canary abort ${ksvc}${nsFlag}`);
      process.kill(process.pid, 'SIGINT');
    })();
  };
  process.once('SIGINT', interrupted);
  const notes = await notifier(ctx);
  const pending: Array<Promise<void>> = [];
  const evidenceRel = `reports/release/${ksvc}/${runId}.json`;
  const tell = (event: NotifyEvent, reason: string) =>
    pending.push(
      notes.notify(event, {
        ksvc,
        namespace: kube.namespace,
        run_id: runId,
        revision: candidate,
        previous: stable,
        reason,
        evidence: evidenceRel,
      }),
    );
  const NOTIFIED: Partial<Record<Result, NotifyEvent>> = {
    held: 'held',
    aborted: 'aborted',
    guard_failed: 'guard_failed',
    released: 'released',
  };
  let refusedBeforeApply = false;
  const finish = async (result: Result, reason: string, error?: VpmError) => {
    process.removeListener('SIGINT', interrupted);
    await heartbeat?.stop();
    const event = NOTIFIED[result];
    if (event) tell(event, reason);
    await Promise.all(pending);
    const terminal =
      result === 'held' ? null : result === 'released' || result === 'first_deploy' || result === 'unchanged' ? 'done' : 'failed';
    // A held canary keeps the release open: a re-run resumes it. A release refused before it applied
    // anything leaves the record of the last release as it was (its own is the evidence).
    if (refusedBeforeApply) await writeReleaseProgress(kube, ksvc, previous);
    else if (terminal && (await kube.get(ref))) await writeReleaseProgress(kube, ksvc, progress(terminal, reason));
    log.event(result, { reason });
    const evidence = await writeKsvcEvidence(ctx, kube, {
      kind: ReleaseEvidence,
      ksvc,
      runId,
      startedAt,
      status: result,
      body: {
        manifest: source.manifest,
        template_hash: hash,
        by: whoAmI(ctx.env),
        first_deploy: firstDeploy,
        stable,
        candidate,
        steps,
        interval_ms: intervalMs,
        guard_window_ms: guardWindowMs,
        resumed_from: resuming ? { run_id: resuming.run_id, phase: resuming.phase } : null,
        result,
        reason,
        notifications: notes.sent as unknown as Record<string, unknown>[],
        phases: log.phases,
        timeline: log.timeline,
      },
    });
    ctx.status(`release evidence: ${evidence}`);
    const data = { run_id: runId, ksvc, result, reason, stable, candidate, first_deploy: firstDeploy, evidence, phases: log.phases };
    if (error) {
      Object.assign(error, { details: { ...(error.details as object), ...data } });
      throw error;
    }
    return { data, human: `${result.replace('_', ' ')}: ${reason}\nevidence: ${evidence}` };
  };
  const fail = (phase: Phase, err: unknown) => {
    const error = err instanceof VpmError ? err : new OperationalError((err as Error).message, { cause: err });
    return finish('failed', `${phase} failed: ${error.message}`, error);
  };

  // 1. apply: the template with the live routing kept (stable 100%, the new revision 0% tagged candidate).
  if (startPhase <= 0) {
    await enter('applying');
    if (firstDeploy) ctx.status(`first deploy of ${ksvc}: nothing live yet, so the manifest’s own traffic is applied (no canary)`);
    try {
      const lane = await runApplyLane(ctx, kube, source, objects, {
        dryRun: false,
        force: opts.force,
        reason: opts.reason,
        ownRunId: runId,
        // Only the KService being released: any other in the manifest keeps its own live routing.
        trafficFor: stable
          ? (live) => (live.metadata.name === ksvc && live.metadata.namespace === kube.namespace ? releaseTraffic(stable!) : undefined)
          : undefined,
        command: `vpm release ${ksvc} -f`,
      });
      log.phase(
        'apply',
        lane.runId,
        `${lane.reportsDir}/evidence.json`,
        firstDeploy ? 'applied (first deploy: manifest traffic)' : 'applied',
      );
      for (const o of lane.overrides) log.event('override', { ...o });
    } catch (err) {
      const details = (err as VpmError).details as { reports_dir?: string; run_id?: string } | undefined;
      log.phase('apply', details?.run_id ?? null, details?.reports_dir ? `${details.reports_dir}/evidence.json` : null, 'failed');
      // Refusals (a rejected template, a rollout in progress) come before anything is applied.
      refusedBeforeApply = err instanceof RefusedError && !firstDeploy;
      return fail('apply', err);
    }
  }
  for (const o of overrides) log.event('override', { ...o });

  // 2. ready: the new revision Ready for the current generation.
  if (startPhase <= 1) {
    await enter('ready');
    let obj: KObj;
    try {
      const ready = await waitReady(ctx, kube, ksvc, readyTimeoutMs);
      obj = ready.obj;
      log.phase('ready', ready.runId, ready.evidence, 'ready');
    } catch (err) {
      log.phase('ready', null, ((err as VpmError).details as { evidence?: string } | undefined)?.evidence ?? null, 'not ready');
      const created = (await kube.get(ref))?.status?.latestCreatedRevisionName as string | undefined;
      if (!firstDeploy && created && created !== stable) await recordNeverReady(kube, ksvc, created, runId, (err as Error).message);
      return fail('ready', err);
    }
    if (firstDeploy) {
      candidate = obj.status?.latestReadyRevisionName ?? null;
      return finish('first_deploy', `${candidate} serves the manifest’s own traffic (nothing was live to protect)`);
    }
    candidate = obj.status?.latestReadyRevisionName ?? null;
    if (!candidate || candidate === stable)
      return finish('unchanged', `the template made no new revision: ${stable} keeps serving ${ksvc}`);
  }

  // 3. canary: stable and candidate pinned by name, shifted through the steps behind the SLO gates.
  const earlier = resuming ? readProgress(await kube.mustGet(ref)) : null;
  const canaryEnded = earlier?.candidate === candidate && (earlier?.phase === 'promoted' || earlier?.phase === 'aborted') ? earlier : null;
  if (startPhase <= 2 && canaryEnded) {
    // The canary finished (or was promoted/aborted by hand) after the crashed run last recorded its phase.
    log.phase('canary', canaryEnded.run_id, null, `${canaryEnded.phase} (before this run)`);
    if (canaryEnded.phase === 'aborted')
      return finish(
        'aborted',
        `canary ${canaryEnded.run_id} was aborted: ${canaryEnded.reason ?? ''}`,
        new SloGateError(`the canary of this release was aborted (${canaryEnded.reason ?? 'no reason'}); 100% on ${stable}`),
      );
  } else if (startPhase <= 2) {
    await enter('canary');
    const canaryId = makeId('canary', ctx.now());
    const canaryStarted = ctx.now();
    const outcome = await new CanaryRun(
      {
        kube,
        provider,
        analysis,
        hooks: hookRunner,
        status: (l) => ctx.status(l),
        onEvent: (e, detail) => {
          if (e === 'paused')
            tell('paused', `held at ${String(detail?.percent)}%: waiting for vpm canary resume|promote|abort ${ksvc}${nsFlag}`);
        },
      },
      {
        ksvc,
        resumeCommand: `vpm release ${ksvc} -f ${opts.file}${nsFlag}`,
        stable: stable!,
        candidate: candidate!,
        steps,
        intervalMs,
        slo,
        settleTimeoutMs,
        maxHolds,
        runId: canaryId,
        freezeOverride: opts.forceFreeze ? opts.reason : undefined,
        pauses,
        pauseTimeoutMs,
      },
    ).run();
    const evidence = await writeCanaryEvidence(
      ctx,
      kube,
      { ksvc, runId: canaryId, startedAt: canaryStarted, steps, intervalMs, provider: provider.name },
      outcome,
    );
    log.phase('canary', canaryId, evidence, outcome.result);
    if (outcome.result === 'promoted') tell('promoted', outcome.reason);
    if (outcome.result === 'held') return finish('held', outcome.reason, outcome.error as VpmError);
    if (outcome.result !== 'promoted') {
      const error = outcome.error instanceof VpmError ? outcome.error : new OperationalError(outcome.reason);
      return finish(outcome.result === 'aborted' ? 'aborted' : 'failed', outcome.reason, error);
    }
  }

  // 4. guard: the promoted revision re-checked through the window; NG puts stable back and freezes.
  if (guardWindowMs > 0) {
    await enter('guard');
    const guardId = makeId('guard', ctx.now());
    const guardStarted = ctx.now();
    const url = tagUrl(await kube.mustGet(ref), CANDIDATE_TAG);
    ctx.status(`guarding ${ksvc}: ${candidate} (previous ${stable}) for ${guardWindowMs} ms`);
    const outcome = await runGuard(
      { kube, provider, analysis, status: (l) => ctx.status(l) },
      { ksvc, windowMs: guardWindowMs, intervalMs: guardIntervalMs, slo, runId: guardId, revision: candidate!, previous: stable!, url },
    );
    const report = await reportGuard(
      ctx,
      kube,
      {
        ksvc,
        runId: guardId,
        startedAt: guardStarted,
        windowMs: guardWindowMs,
        intervalMs: guardIntervalMs,
        provider: provider.name,
        openIssue: opts.issue !== false,
      },
      outcome,
    );
    log.phase('guard', guardId, report.evidence, outcome.result);
    if (outcome.result === 'ng')
      return finish(
        'guard_failed',
        `guard NG: ${outcome.reason}`,
        new SloGateError(`guard NG on ${ksvc}: ${outcome.reason}; traffic back on ${stable}, deploys frozen`),
      );
    if (outcome.result === 'inconclusive')
      return finish(
        'failed',
        `guard inconclusive: ${outcome.reason}`,
        new OperationalError(`guard on ${ksvc} was inconclusive: ${outcome.reason}; ${candidate} keeps 100%`, {
          hint: 'send traffic during the window, or lengthen --guard-window; vpm canary undo puts the previous revision back',
        }),
      );
  }
  return finish('released', `${candidate} serves 100% of ${ksvc} (was ${stable})`);
};

/** A revision that never became Ready is rejected like one a gate failed; traffic never left stable. */
async function recordNeverReady(kube: KubeClient, ksvc: string, revision: string, runId: string, why: string): Promise<void> {
  const obj = await kube.mustGet(ksvcRef(ksvc, kube.namespace));
  await kube.mergePatch(
    ksvcRef(ksvc, kube.namespace),
    {
      metadata: { annotations: rejectedAnnotation(obj, { revision, by: 'release', run_id: runId, reason: `never became ready: ${why}` }) },
    },
    { resourceVersion: obj.metadata.resourceVersion },
  );
}
