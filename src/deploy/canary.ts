/**
 * Canary rollout of a Knative Service: stable and candidate pinned by revision name, candidate
 * traffic shifted through the steps (10 → 50 → 100), and an SLO gate after each shift. A breach
 * puts 100% back on stable at once. Progress lives in an annotation on the KService, written in
 * the same patch as the traffic, so a re-run after a crash resumes exactly where the traffic is.
 */
import { KubeApiError, withRetry, type KObj, type KubeClient } from '../adapters/kube.js';
import { OperationalError, RefusedError, SloGateError, TimeoutError, UsageError, VpmError } from '../core/errors.js';
import { evaluateSloGate, type GateResult, type Slo } from './slo.js';
import {
  CANARY_ANNOTATION,
  CANDIDATE_TAG,
  condition,
  isFailedAndCurrent,
  ksvcRef,
  revisionRef,
  servingRevision,
  splitTraffic,
  tagUrl,
  trafficSettled,
  type TrafficTarget,
} from './ksvc.js';
import type { ProviderEvidence, SloProvider } from './providers/types.js';
import { combine, type Analysis, type MetricRecord } from './analysis.js';
import type { HookRecord, HookRunner } from './hooks.js';
import type { HookKind } from '../schemas/config.js';
import { OVERRIDE_ANNOTATION as FREEZE_OVERRIDE_ANNOTATION } from './cluster-freeze.js';
import { readRejected, rejectedAnnotation } from './traffic-ownership.js';

export type CanaryPhase = 'progressing' | 'holding' | 'paused' | 'promoted' | 'aborted';

/** What the annotation `vpm.dev/canary` holds. */
export interface CanaryProgress {
  run_id: string;
  stable: string;
  candidate: string;
  steps: number[];
  step_index: number;
  phase: CanaryPhase;
  updated_at: string;
  reason?: string;
  /** Step indexes after which the rollout holds for `vpm canary resume|promote|abort` (manual gate). */
  pauses?: number[];
  /** The hold in effect while phase is `paused`: any checkout can answer it. */
  hold?: { percent: number; since: string; timeout_at: string | null };
}

export interface SloCheckRecord {
  step: number | null;
  percent: number | null;
  revision: string;
  provider: 'probe' | 'prometheus';
  query: Record<string, unknown>;
  raw: Record<string, unknown>;
  thresholds: Slo;
  window_ms: number;
  checks: GateResult['checks'];
  /** The SLO file's named metrics in this window (query, raw values, condition, decision). */
  metrics?: MetricRecord[];
  decision: GateResult['decision'];
  reason: string;
  at: string;
}

export interface TimelineEvent {
  at: string;
  event: string;
  detail?: Record<string, unknown>;
}

export interface CanaryOptions {
  ksvc: string;
  /** The command that resumes this rollout, for hints (default: `vpm canary start KSVC -n NS`). */
  resumeCommand?: string;
  candidate?: string;
  stable?: string;
  steps: number[];
  intervalMs: number;
  slo: Slo;
  settleTimeoutMs: number;
  maxHolds: number;
  runId: string;
  /** The reason given with --force-freeze: every traffic change then carries the freeze override. */
  freezeOverride?: string;
  /** Manual gates: step indexes after whose passed gate the rollout holds. */
  pauses?: number[];
  /** A hold nobody answers within this time aborts to stable (default: wait indefinitely). */
  pauseTimeoutMs?: number;
}

export interface CanaryDeps {
  kube: KubeClient;
  provider: SloProvider;
  status: (line: string) => void;
  now?: () => Date;
  /** Told of every timeline event as it happens (e.g. `paused`, for notifications). */
  onEvent?: (event: string, detail?: Record<string, unknown>) => void;
  /** The SLO file's named metrics, judged with the built-in checks at every gate. */
  analysis?: Analysis;
  /** pre_rollout / pre_step / post_rollout / on_abort, run through the policy and the sandbox. */
  hooks?: HookRunner;
}

export interface CanaryOutcome {
  result: 'promoted' | 'aborted' | 'held' | 'failed';
  reason: string;
  stable: string;
  candidate: string;
  resumedFrom: { run_id: string; step_index: number } | null;
  checks: SloCheckRecord[];
  timeline: TimelineEvent[];
  detectToRestoreMs: number | null;
  trafficFinal: TrafficTarget[];
  hooks: HookRecord[];
  error?: Error;
}

export function readProgress(obj: KObj | null): CanaryProgress | null {
  const raw = obj?.metadata.annotations?.[CANARY_ANNOTATION];
  if (!raw) return null;
  try {
    const p = JSON.parse(raw) as CanaryProgress;
    if (typeof p.stable === 'string' && typeof p.candidate === 'string' && Array.isArray(p.steps)) return p;
  } catch {
    /* an unreadable annotation is treated as no progress */
  }
  return null;
}

export function validateSteps(steps: number[]): string | undefined {
  if (steps.length === 0) return 'at least one step is needed';
  if (steps.some((s) => !Number.isInteger(s) || s < 1 || s > 100)) return 'steps are whole percentages between 1 and 100';
  if (steps.some((s, i) => i > 0 && s <= steps[i - 1])) return 'steps must increase';
  if (steps[steps.length - 1] !== 100) return 'the last step must be 100';
  return undefined;
}

/**
 * `--steps 10,pause,50,100` (default: config canary.steps, else 10,50,100) and `--pause-at 50`: the
 * percentages and the step indexes after which the rollout holds for a person; exit 2 on a bad list.
 */
export function parseSteps(
  value: string | undefined,
  configured: number[] | undefined,
  pauseAt?: string,
): { steps: number[]; pauses: number[] } {
  const items = value !== undefined ? value.split(',').map((s) => s.trim()) : (configured ?? [10, 50, 100]).map(String);
  const steps: number[] = [];
  const pauses = new Set<number>();
  for (const item of items) {
    if (item.toLowerCase() !== 'pause') steps.push(Number(item));
    else if (steps.length === 0)
      throw new UsageError(`--steps ${value}: a pause needs a step before it`, { hint: 'e.g. --steps 10,pause,50,100' });
    else pauses.add(steps.length - 1);
  }
  const problem = validateSteps(steps);
  if (problem) throw new UsageError(`--steps ${value ?? steps.join(',')}: ${problem}`, { hint: 'e.g. --steps 10,50,100' });
  for (const p of pauseAt === undefined ? [] : pauseAt.split(',').map((x) => Number(x.trim()))) {
    const index = steps.indexOf(p);
    if (index < 0 || index === steps.length - 1)
      throw new UsageError(`--pause-at ${pauseAt}: ${p} is not one of the steps before the last (${steps.slice(0, -1).join(', ')})`);
    pauses.add(index);
  }
  if (pauses.has(steps.length - 1)) throw new UsageError(`--steps ${value}: a pause after the last step holds nothing`);
  return { steps, pauses: [...pauses].sort((a, b) => a - b) };
}

const RETRY = { attempts: 12, baseMs: 100, maxMs: 2_000 };

/**
 * Writes traffic and progress in one merge patch guarded by resourceVersion; on 409 re-reads and
 * retries, on network errors backs off (the API server may be restarting).
 */
/** Thrown when a run no longer owns its canary: it writes nothing more, restoring included. */
export class CanaryLeftError extends Error {
  constructor(readonly error: VpmError) {
    super(error.message);
  }
}

/**
 * A run steps its canary forward only while it is its own: not after `vpm canary abort|promote`
 * ended it from elsewhere, and not after another run took it over (`--force`); its first write may
 * take over an unfinished canary (a resume).
 */
function assertStillOwned(ksvc: string, now: CanaryProgress | null, owner: { runId: string; takingOver: boolean }): void {
  if (!now) return;
  if (now.run_id === owner.runId && (now.phase === 'aborted' || now.phase === 'promoted'))
    throw new CanaryLeftError(
      now.phase === 'aborted'
        ? new SloGateError(`canary ${now.run_id} of ${ksvc} was aborted from elsewhere (${now.reason ?? 'by hand'}); this run stops`)
        : new RefusedError(`canary ${now.run_id} of ${ksvc} was promoted from elsewhere (${now.reason ?? 'by hand'}); this run stops`),
    );
  // After this run's first write the record is its own; another run's there means it was taken over.
  if (now.run_id !== owner.runId && !owner.takingOver)
    throw new CanaryLeftError(new RefusedError(`canary of ${ksvc} was taken over by run ${now.run_id} (${now.phase}); this run stops`));
}

export async function writeCanaryTraffic(
  kube: KubeClient,
  ksvc: string,
  traffic: TrafficTarget[],
  progress: CanaryProgress,
  status: (line: string) => void,
  deadlineMs = 60_000,
  freezeOverride?: string,
  /** More annotations computed from the object being patched (e.g. the rejected-revisions record). */
  extraAnnotations?: (current: KObj) => Record<string, string>,
  /** The run stepping the canary: it moves traffic forward only while the canary is still its own (see assertStillOwned). */
  owner?: { runId: string; takingOver: boolean },
): Promise<KObj> {
  const ref = ksvcRef(ksvc, kube.namespace);
  // Putting every request back on stable lowers risk and is allowed while deploys are frozen, so
  // it carries the override the cluster's freeze policy asks for; so does a change forced with
  // --force-freeze. The value is new every time: the policy accepts an override only with the
  // change that brings it.
  const backToStable = traffic.some((t) => t.revisionName === progress.stable && t.percent === 100);
  const override = freezeOverride ?? (backToStable ? `vpm: traffic back to ${progress.stable} (allowed while frozen)` : undefined);
  const overrideAnnotation = override ? { [FREEZE_OVERRIDE_ANNOTATION]: `${override} @ ${new Date().toISOString()}` } : {};
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    const current = await withRetry(() => kube.mustGet(ref), {
      ...RETRY,
      deadline,
      onRetry: (e, n) => status(`API server: ${e.message}; retry ${n}`),
    });
    const forward = traffic.some((t) => t.revisionName === progress.candidate && (t.percent ?? 0) > 0);
    if (owner && forward) assertStillOwned(ksvc, readProgress(current), owner);
    // A gate elsewhere (another run, a guard) may have rejected the candidate meanwhile: it gets no traffic.
    const rejected = readRejected(current).find((r) => r.revision === progress.candidate);
    if (rejected && forward)
      throw new RefusedError(
        `${progress.candidate} was rejected by ${rejected.by} ${rejected.run_id} (${rejected.reason}); it gets no traffic`,
        {
          hint: `vpm canary abort ${ksvc} -n ${kube.namespace} puts 100% back on ${progress.stable}`,
        },
      );
    try {
      return await withRetry(
        () =>
          kube.mergePatch(
            ref,
            {
              metadata: {
                annotations: { [CANARY_ANNOTATION]: JSON.stringify(progress), ...overrideAnnotation, ...extraAnnotations?.(current) },
              },
              spec: { traffic },
            },
            { resourceVersion: current.metadata.resourceVersion },
          ),
        { ...RETRY, deadline, onRetry: (e, n) => status(`patch traffic: ${e.message}; retry ${n}`) },
      );
    } catch (err) {
      if (err instanceof KubeApiError && err.status === 409 && Date.now() < deadline) continue;
      throw err;
    }
  }
}

export class CanaryRun {
  private readonly d: CanaryDeps;
  private readonly o: CanaryOptions;
  private readonly timeline: TimelineEvent[] = [];
  private readonly checks: SloCheckRecord[] = [];
  private readonly hookRecords: HookRecord[] = [];
  /** The candidate's percentage this run last wrote (the on_abort hook is told it). */
  private reachedPercent = 0;
  private firstFailureAt: number | null = null;
  private restoredAt: number | null = null;
  private lastTraffic: TrafficTarget[] = [];
  /** Whether this run wrote the canary annotation yet (its first write may take over a resumed one). */
  private owned = false;

  /** ` -n NS`: hints name the namespace, so a command copied from one reaches this KService. */
  private get ns(): string {
    return ` -n ${this.d.kube.namespace}`;
  }

  private get resumeCommand(): string {
    return this.o.resumeCommand ?? `vpm canary start ${this.o.ksvc}${this.ns}`;
  }

  constructor(deps: CanaryDeps, opts: CanaryOptions) {
    this.d = deps;
    this.o = opts;
  }

  private now(): Date {
    return this.d.now?.() ?? new Date();
  }

  private event(event: string, detail?: Record<string, unknown>): void {
    this.timeline.push({ at: this.now().toISOString(), event, ...(detail ? { detail } : {}) });
    this.d.onEvent?.(event, detail);
  }

  private get ref() {
    return ksvcRef(this.o.ksvc, this.d.kube.namespace);
  }

  /**
   * The first read of a run: no retries beyond the adapter's short wait for a starting server, so an
   * API server that cannot be reached (or a KService that is absent) ends the run at once, before
   * any traffic is touched. Retries are for outages in the middle of a rollout.
   */
  private async read(): Promise<KObj> {
    return this.d.kube.mustGet(this.ref);
  }

  async writeTraffic(
    traffic: TrafficTarget[],
    progress: CanaryProgress,
    deadlineMs = 60_000,
    extraAnnotations?: (current: KObj) => Record<string, string>,
  ): Promise<KObj> {
    const patched = await writeCanaryTraffic(
      this.d.kube,
      this.o.ksvc,
      traffic,
      progress,
      this.d.status,
      deadlineMs,
      this.o.freezeOverride,
      extraAnnotations,
      { runId: this.o.runId, takingOver: !this.owned },
    );
    this.owned = true;
    this.lastTraffic = traffic;
    return patched;
  }

  private async waitSettled(traffic: TrafficTarget[]): Promise<KObj> {
    const signal = AbortSignal.timeout(this.o.settleTimeoutMs);
    let failed: KObj | null = null;
    let settled: KObj;
    try {
      settled = await this.d.kube.watchUntil(
        this.ref,
        'services',
        (obj) => {
          if (isFailedAndCurrent(obj)) failed = obj;
          return failed !== null || trafficSettled(obj, traffic);
        },
        signal,
      );
    } catch (err) {
      // An API server that stayed unreachable, or an answer that will not change, is said as such.
      if (err instanceof VpmError) throw err;
      throw new TimeoutError(`traffic of ${this.o.ksvc} did not settle within ${this.o.settleTimeoutMs} ms`, {
        hint: `check the KService: vpm canary status ${this.o.ksvc}${this.ns}`,
      });
    }
    if (failed) {
      const ready = condition(failed, 'Ready');
      throw new OperationalError(`${this.o.ksvc} is not Ready: ${ready?.reason ?? ''} ${ready?.message ?? ''}`.trim());
    }
    return settled;
  }

  private progress(stable: string, candidate: string, stepIndex: number, phase: CanaryPhase, reason?: string): CanaryProgress {
    return {
      run_id: this.o.runId,
      stable,
      candidate,
      steps: this.o.steps,
      step_index: stepIndex,
      phase,
      updated_at: this.now().toISOString(),
      ...(reason ? { reason } : {}),
      ...(this.o.pauses?.length ? { pauses: this.o.pauses } : {}),
    };
  }

  /**
   * 100% back on stable; keeps the candidate tagged at 0% so it stays inspectable. A candidate the
   * gate rejected is recorded on the KService in the same patch (an apply then needs --force to bring it back).
   */
  async restoreStable(stable: string, candidate: string, stepIndex: number, reason: string, rejected = false): Promise<void> {
    const traffic = splitTraffic(stable, candidate, 0);
    const record = rejected
      ? (current: KObj) => rejectedAnnotation(current, { revision: candidate, by: 'canary', run_id: this.o.runId, reason })
      : undefined;
    await this.writeTraffic(traffic, this.progress(stable, candidate, stepIndex, 'aborted', reason), 120_000, record);
    this.restoredAt = Date.now();
    this.event('restored_stable', { stable, reason });
    this.d.status(`traffic restored: 100% on ${stable}`);
  }

  private async resolveRevisions(
    obj: KObj,
    progress: CanaryProgress | null,
  ): Promise<{ stable: string; candidate: string; startIndex: number; resumed: boolean }> {
    const latestReady = obj.status?.latestReadyRevisionName as string | undefined;
    if (progress && (progress.phase === 'progressing' || progress.phase === 'holding' || progress.phase === 'paused')) {
      const candidate = this.o.candidate ?? latestReady;
      if (candidate !== progress.candidate) {
        const reason = `candidate changed mid-run from ${progress.candidate} to ${candidate ?? '(none)'}`;
        this.event('candidate_changed', { previous: progress.candidate, now: candidate ?? null });
        await this.restoreStable(progress.stable, progress.candidate, progress.step_index, reason);
        throw new RefusedError(`${reason}; canary aborted, 100% on ${progress.stable}`, {
          hint: `start a new canary for ${candidate}: vpm canary start ${this.o.ksvc}${this.ns}`,
        });
      }
      if (JSON.stringify(progress.steps) !== JSON.stringify(this.o.steps)) {
        this.d.status(`resuming with the run's own steps ${progress.steps.join(',')}`);
        this.o.steps = progress.steps;
      }
      if (progress.pauses) this.o.pauses = progress.pauses;
      return { stable: progress.stable, candidate, startIndex: progress.step_index, resumed: true };
    }
    const stable = this.o.stable ?? servingRevision(obj);
    const candidate = this.o.candidate ?? latestReady;
    if (!stable || !candidate)
      throw new RefusedError(`${this.o.ksvc} has no ready revision to pin`, { hint: 'wait for it: vpm ready ' + this.o.ksvc });
    if (stable === candidate) {
      throw new RefusedError(`nothing to roll out: the candidate ${candidate} already serves ${this.o.ksvc}`, {
        hint: 'deploy a new revision first (vpm apply …), or name one with --candidate',
      });
    }
    for (const rev of [stable, candidate]) {
      const r = await withRetry(() => this.d.kube.get(revisionRef(rev, this.d.kube.namespace)), RETRY);
      if (!r) throw new RefusedError(`revision ${rev} does not exist`);
      if (condition(r, 'Ready')?.status !== 'True')
        throw new RefusedError(`revision ${rev} is not Ready (${condition(r, 'Ready')?.reason ?? 'unknown'})`);
    }
    return { stable, candidate, startIndex: 0, resumed: false };
  }

  async run(): Promise<CanaryOutcome> {
    // A window the provider cannot measure is refused before anything is read or moved.
    await this.d.provider.validateWindow?.(this.o.intervalMs);
    const obj = await this.read();
    const previous = readProgress(obj);
    const { stable, candidate, startIndex, resumed } = await this.resolveRevisions(obj, previous);
    // The serving revision's metrics must exist before the candidate gets any traffic to be judged by.
    await this.d.provider.preflight?.({ namespace: this.d.kube.namespace, ksvc: this.o.ksvc, revision: stable });
    await this.d.analysis?.preflight({ namespace: this.d.kube.namespace, ksvc: this.o.ksvc, candidate, stable }, this.o.intervalMs);
    const resumedFrom = resumed && previous ? { run_id: previous.run_id, step_index: previous.step_index } : null;
    this.event(resumed ? 'resumed' : 'started', { stable, candidate, steps: this.o.steps, step_index: startIndex });
    this.d.status(
      `${resumed ? 'resuming' : 'starting'} canary of ${this.o.ksvc}: stable ${stable}, candidate ${candidate}, steps ${this.o.steps.join(' → ')}`,
    );

    const outcome = (result: CanaryOutcome['result'], reason: string, error?: Error): CanaryOutcome => ({
      result,
      reason,
      stable,
      candidate,
      resumedFrom,
      checks: this.checks,
      timeline: this.timeline,
      detectToRestoreMs: this.firstFailureAt !== null && this.restoredAt !== null ? this.restoredAt - this.firstFailureAt : null,
      trafficFinal: this.lastTraffic,
      hooks: this.hookRecords,
      error,
    });

    const result = await this.rollout(stable, candidate, startIndex, resumed, outcome);
    // After the rollout ended: hooks that report, never change the result (a failure is recorded).
    if (result.result === 'promoted') await this.reportHook('post_rollout', stable, candidate, 100, result.reason);
    else if (result.result !== 'held') await this.reportHook('on_abort', stable, candidate, this.reachedPercent, result.reason);
    return result;
  }

  /** The steps from `startIndex`, gated by pre_rollout/pre_step hooks and the SLO gates. */
  private async rollout(
    stable: string,
    candidate: string,
    startIndex: number,
    resumed: boolean,
    outcome: (result: CanaryOutcome['result'], reason: string, error?: Error) => CanaryOutcome,
  ): Promise<CanaryOutcome> {
    let stepIndex = startIndex;
    // A resumed run finds traffic where the crashed one left it; a new one has moved nothing yet.
    let moved = resumed;
    const stopByHook = async (stop: { reason: string; error: Error }) => {
      if (moved) await this.restoreStable(stable, candidate, stepIndex, stop.reason);
      else this.lastTraffic = splitTraffic(stable, candidate, 0);
      return outcome('aborted', stop.reason, stop.error);
    };
    try {
      if (!resumed) {
        const stop = await this.gateHook('pre_rollout', stable, candidate, 0);
        if (stop) return await stopByHook(stop);
      }
      for (; stepIndex < this.o.steps.length; stepIndex++) {
        const percent = this.o.steps[stepIndex];
        const stop = await this.gateHook('pre_step', stable, candidate, percent);
        if (stop) return await stopByHook(stop);
        const traffic = splitTraffic(stable, candidate, percent);
        this.d.status(`step ${stepIndex + 1}/${this.o.steps.length}: ${percent}% to ${candidate}`);
        moved = true;
        await this.writeTraffic(traffic, this.progress(stable, candidate, stepIndex, 'progressing'));
        this.reachedPercent = percent;
        this.event('traffic_shifted', { step: stepIndex, percent });
        const settled = await this.waitSettled(traffic);
        this.event('traffic_settled', { step: stepIndex, percent, generation: settled.metadata.generation ?? null });

        for (let holds = 0; ; ) {
          const gate = await this.evaluate(settled, stable, candidate, stepIndex, percent);
          if (gate.decision === 'pass') {
            this.d.status(`gate passed at ${percent}%: ${gate.reason}`);
            break;
          }
          if (gate.decision === 'fail') {
            this.d.status(`gate FAILED at ${percent}%: ${gate.reason}`);
            await this.restoreStable(stable, candidate, stepIndex, `SLO breach at ${percent}%: ${gate.reason}`, true);
            return outcome(
              'aborted',
              `SLO breach at ${percent}%: ${gate.reason}`,
              new SloGateError(`canary of ${this.o.ksvc} aborted at ${percent}%: ${gate.reason}; 100% back on ${stable}`),
            );
          }
          holds++;
          this.d.status(`holding at ${percent}%: ${gate.reason} (${holds}/${this.o.maxHolds})`);
          await this.writeTraffic(traffic, this.progress(stable, candidate, stepIndex, 'holding', gate.reason));
          if (holds >= this.o.maxHolds) {
            const reason = `held at ${percent}% after ${holds} inconclusive windows: ${gate.reason}`;
            return outcome(
              'held',
              reason,
              new TimeoutError(`canary of ${this.o.ksvc} ${reason}; traffic stays at ${percent}%`, {
                hint: `send traffic and re-run \`${this.resumeCommand}\` to resume, or \`vpm canary abort ${this.o.ksvc}${this.ns}\``,
              }),
            );
          }
        }
        if (this.o.pauses?.includes(stepIndex) && stepIndex < this.o.steps.length - 1) {
          const answer = await this.pause(stable, candidate, stepIndex, percent, traffic);
          if (answer.kind === 'promoted') {
            this.lastTraffic = splitTraffic(stable, candidate, 100);
            return outcome('promoted', `promoted by hand at the ${percent}% hold: ${answer.reason}`);
          }
          if (answer.kind === 'aborted') {
            this.lastTraffic = splitTraffic(stable, candidate, 0);
            return outcome(
              'aborted',
              `aborted by hand at the ${percent}% hold: ${answer.reason}`,
              new SloGateError(`canary of ${this.o.ksvc} aborted by hand at ${percent}%; 100% back on ${stable}`),
            );
          }
          if (answer.kind === 'timeout') {
            const reason = `nobody answered the hold at ${percent}% within ${this.o.pauseTimeoutMs} ms`;
            await this.restoreStable(stable, candidate, stepIndex, reason);
            return outcome(
              'aborted',
              reason,
              new TimeoutError(`canary of ${this.o.ksvc}: ${reason}; aborted, 100% back on ${stable}`, {
                hint: `start again, and answer with vpm canary resume|promote|abort ${this.o.ksvc}${this.ns}`,
              }),
            );
          }
        }
      }
      const final = splitTraffic(stable, candidate, 100);
      await this.writeTraffic(final, this.progress(stable, candidate, this.o.steps.length - 1, 'promoted'));
      this.event('promoted', { candidate });
      return outcome('promoted', `all ${this.o.steps.length} gates passed`);
    } catch (err) {
      // Ended or taken over from elsewhere: whoever did it owns the traffic now.
      if (err instanceof CanaryLeftError) {
        this.event('left', { reason: err.message });
        return outcome('aborted', err.message, err.error);
      }
      // Anything unexpected mid-rollout: put traffic back on stable if the API lets us.
      const reason = `aborted on error: ${(err as Error).message}`;
      try {
        await this.restoreStable(stable, candidate, stepIndex, reason);
      } catch (restoreErr) {
        this.event('restore_failed', { error: (restoreErr as Error).message });
        return outcome(
          'failed',
          `${reason}; restoring stable also failed: ${(restoreErr as Error).message} — traffic is as last written: ${JSON.stringify(this.lastTraffic)}`,
          err as Error,
        );
      }
      return outcome('aborted', reason, err as Error);
    }
  }

  /**
   * Runs a hook that may stop the rollout: a step the policy denies stops it (exit 3), a step that
   * fails stops it (exit 4); either way traffic ends on stable. Null when it passed (or none is set).
   */
  private async gateHook(
    kind: HookKind,
    stable: string,
    candidate: string,
    percent: number,
  ): Promise<{ reason: string; error: Error } | null> {
    const record = await this.runHook(kind, stable, candidate, percent);
    if (!record || record.phase === 'done') return null;
    const denied = record.phase === 'deny';
    const reason = `${kind} hook ${denied ? 'denied by the execution policy' : 'failed'}: ${record.end_reason}`;
    const where = `before ${percent}% (evidence ${record.reports_dir})`;
    const message = `canary of ${this.o.ksvc} stopped ${where}: ${reason}; 100% on ${stable}`;
    return {
      reason,
      error: denied
        ? new RefusedError(message, { hint: 'allow the hook in execution_policy, or change the hook' })
        : new SloGateError(message, { hint: `the hook's output is in ${record.reports_dir}/steps/` }),
    };
  }

  /** A hook after the rollout ended: its failure is recorded and said, never changes the outcome. */
  private async reportHook(kind: HookKind, stable: string, candidate: string, percent: number, reason: string): Promise<void> {
    try {
      const record = await this.runHook(kind, stable, candidate, percent, reason);
      if (record && record.phase !== 'done') this.d.status(`WARNING: ${kind} hook: ${record.end_reason}`);
    } catch (err) {
      this.event('hook_error', { kind, error: (err as Error).message });
      this.d.status(`WARNING: ${kind} hook could not run: ${(err as Error).message}`);
    }
  }

  private async runHook(kind: HookKind, stable: string, candidate: string, percent: number, reason?: string): Promise<HookRecord | null> {
    if (!this.d.hooks?.has(kind)) return null;
    const record = await this.d.hooks.run(kind, {
      ksvc: this.o.ksvc,
      namespace: this.d.kube.namespace,
      stable,
      candidate,
      run_id: this.o.runId,
      percent,
      ...(reason ? { reason } : {}),
    });
    if (!record) return null;
    this.hookRecords.push(record);
    this.event(`hook_${record.phase === 'done' ? 'passed' : record.phase === 'deny' ? 'denied' : 'failed'}`, {
      kind,
      percent,
      job_id: record.job_id,
      reason: record.end_reason,
    });
    return record;
  }

  /**
   * The manual gate: the hold is written on the KService (phase `paused`) and the run waits — by
   * watching — for `vpm canary resume|promote|abort` from any process, or for --pause-timeout.
   */
  private async pause(
    stable: string,
    candidate: string,
    stepIndex: number,
    percent: number,
    traffic: TrafficTarget[],
  ): Promise<{ kind: 'resumed' | 'promoted' | 'aborted' | 'timeout'; reason: string }> {
    const since = this.now();
    const timeoutAt = this.o.pauseTimeoutMs ? new Date(since.getTime() + this.o.pauseTimeoutMs).toISOString() : null;
    const reason = `paused at ${percent}%: waiting for vpm canary resume|promote|abort ${this.o.ksvc}${this.ns}`;
    await this.writeTraffic(traffic, {
      ...this.progress(stable, candidate, stepIndex, 'paused', reason),
      hold: { percent, since: since.toISOString(), timeout_at: timeoutAt },
    });
    this.event('paused', { step: stepIndex, percent, timeout_at: timeoutAt });
    this.d.status(`${reason}${timeoutAt ? ` (until ${timeoutAt})` : ''}`);
    const signal = this.o.pauseTimeoutMs ? AbortSignal.timeout(this.o.pauseTimeoutMs) : new AbortController().signal;
    let answered: KObj;
    try {
      answered = await this.d.kube.watchUntil(
        this.ref,
        'services',
        (obj) => {
          const p = readProgress(obj);
          return !p || p.run_id !== this.o.runId || p.phase !== 'paused';
        },
        signal,
      );
    } catch (err) {
      if (err instanceof VpmError) throw err;
      this.event('pause_timeout', { step: stepIndex, percent });
      return { kind: 'timeout', reason: 'no answer' };
    }
    const p = readProgress(answered);
    const why = p?.reason ?? 'the hold was removed';
    if (p?.run_id === this.o.runId && p.phase === 'promoted') {
      this.event('promoted_by_hand', { step: stepIndex, reason: why });
      return { kind: 'promoted', reason: why };
    }
    if (p?.run_id === this.o.runId && (p.phase === 'progressing' || p.phase === 'holding')) {
      this.event('resumed_by_hand', { step: stepIndex, reason: why });
      this.d.status(`hold at ${percent}% answered: ${why}`);
      return { kind: 'resumed', reason: why };
    }
    this.event('aborted_by_hand', { step: stepIndex, reason: why });
    return { kind: 'aborted', reason: why };
  }

  private async evaluate(obj: KObj, stable: string, candidate: string, stepIndex: number, percent: number): Promise<GateResult> {
    const started = Date.now();
    const { measurement, evidence } = await this.d.provider.measure(
      { namespace: this.d.kube.namespace, ksvc: this.o.ksvc, revision: candidate, url: tagUrl(obj, CANDIDATE_TAG) },
      this.o.intervalMs,
      this.o.slo,
    );
    let gate = evaluateSloGate(measurement, this.o.slo);
    let metrics: MetricRecord[] | undefined;
    if (this.d.analysis) {
      // The named metrics over the same window, once the provider has its data (Prometheus: scraped after its end).
      const at = new Date();
      metrics = await this.d.analysis.evaluate(
        { namespace: this.d.kube.namespace, ksvc: this.o.ksvc, candidate, stable },
        at.getTime() - started,
        at,
      );
      gate = combine(gate, metrics);
    }
    this.record(stepIndex, percent, candidate, evidence, gate, metrics);
    if (gate.decision === 'fail' && this.firstFailureAt === null) this.firstFailureAt = evidence.first_failure_at ?? Date.now();
    return gate;
  }

  private record(
    step: number | null,
    percent: number | null,
    revision: string,
    evidence: ProviderEvidence,
    gate: GateResult,
    metrics?: MetricRecord[],
  ): void {
    this.checks.push({
      step,
      percent,
      revision,
      provider: evidence.provider,
      query: evidence.query,
      raw: evidence.raw,
      thresholds: this.o.slo,
      window_ms: evidence.window_ms,
      checks: gate.checks,
      ...(metrics ? { metrics } : {}),
      decision: gate.decision,
      reason: gate.reason,
      at: this.now().toISOString(),
    });
    this.event(`gate_${gate.decision}`, { step, percent, reason: gate.reason });
  }
}
