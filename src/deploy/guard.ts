/**
 * Post-promotion guard: re-evaluates the SLO on the promoted revision through a window. On NG it
 * puts traffic back on the previous stable revision, freezes deploys (source: guard) and opens a
 * GitHub issue with the evidence. On OK it only records evidence.
 */
import type { KubeClient } from '../adapters/kube.js';
import { combine, type Analysis, type MetricRecord } from './analysis.js';
import { writeCanaryTraffic, readProgress, type SloCheckRecord, type TimelineEvent } from './canary.js';
import { CANDIDATE_TAG, ksvcRef, splitTraffic, tagUrl, type TrafficTarget } from './ksvc.js';
import { evaluateSloGate, type Slo } from './slo.js';
import type { SloProvider } from './providers/types.js';
import { rejectedAnnotation } from './traffic-ownership.js';

export interface GuardOptions {
  ksvc: string;
  revision?: string;
  previous?: string;
  windowMs: number;
  intervalMs: number;
  slo: Slo;
  runId: string;
}

export interface GuardOutcome {
  result: 'ok' | 'ng' | 'inconclusive';
  reason: string;
  revision: string;
  previous: string;
  checks: SloCheckRecord[];
  timeline: TimelineEvent[];
  rollback: { done: boolean; traffic: TrafficTarget[]; at: string | null } | null;
}

export async function resolveGuardRevisions(
  kube: KubeClient,
  o: Pick<GuardOptions, 'ksvc' | 'revision' | 'previous'>,
): Promise<{ revision: string; previous: string; url?: string }> {
  const obj = await kube.mustGet(ksvcRef(o.ksvc, kube.namespace));
  const progress = readProgress(obj);
  const revision = o.revision ?? (progress?.phase === 'promoted' ? progress.candidate : undefined);
  const previous = o.previous ?? (progress?.phase === 'promoted' ? progress.stable : undefined);
  return { revision: revision ?? '', previous: previous ?? '', url: tagUrl(obj, CANDIDATE_TAG) ?? obj.status?.url };
}

export async function runGuard(
  deps: { kube: KubeClient; provider: SloProvider; status: (l: string) => void; analysis?: Analysis },
  o: GuardOptions & { revision: string; previous: string; url?: string },
): Promise<GuardOutcome> {
  // After promotion the previous revision serves nothing, so a comparison with it has no data: the
  // guard judges the SLO file's metrics that stand alone and leaves `compare: stable` to the canary.
  const metrics = deps.analysis?.metrics.filter((m) => m.compare !== 'stable') ?? [];
  const timeline: TimelineEvent[] = [];
  const checks: SloCheckRecord[] = [];
  const event = (e: string, detail?: Record<string, unknown>) =>
    timeline.push({ at: new Date().toISOString(), event: e, ...(detail ? { detail } : {}) });
  const deadline = Date.now() + o.windowMs;
  event('started', { revision: o.revision, previous: o.previous, window_ms: o.windowMs });
  let passes = 0;
  let lastReason = 'no evaluation ran';
  while (Date.now() < deadline) {
    const windowMs = Math.min(o.intervalMs, Math.max(1, deadline - Date.now()));
    const started = Date.now();
    const { measurement, evidence } = await deps.provider.measure(
      { namespace: deps.kube.namespace, ksvc: o.ksvc, revision: o.revision, url: o.url },
      windowMs,
      o.slo,
    );
    let gate = evaluateSloGate(measurement, o.slo);
    let evaluated: MetricRecord[] | undefined;
    if (deps.analysis && metrics.length > 0) {
      const at = new Date();
      evaluated = await deps.analysis.evaluate(
        { namespace: deps.kube.namespace, ksvc: o.ksvc, candidate: o.revision },
        at.getTime() - started,
        at,
        metrics,
      );
      gate = combine(gate, evaluated);
    }
    checks.push({
      step: null,
      percent: 100,
      revision: o.revision,
      provider: evidence.provider,
      query: evidence.query,
      raw: evidence.raw,
      thresholds: o.slo,
      window_ms: evidence.window_ms,
      checks: gate.checks,
      decision: gate.decision,
      reason: gate.reason,
      ...(evaluated ? { metrics: evaluated } : {}),
      at: new Date().toISOString(),
    });
    event(`gate_${gate.decision}`, { reason: gate.reason });
    lastReason = gate.reason;
    if (gate.decision === 'fail') {
      deps.status(`guard NG: ${gate.reason}; rolling back to ${o.previous}`);
      const traffic = splitTraffic(o.previous, o.revision, 0);
      const obj = await deps.kube.mustGet(ksvcRef(o.ksvc, deps.kube.namespace));
      const progress = readProgress(obj) ?? {
        run_id: o.runId,
        stable: o.previous,
        candidate: o.revision,
        steps: [100],
        step_index: 0,
        phase: 'promoted' as const,
        updated_at: '',
      };
      await writeCanaryTraffic(
        deps.kube,
        o.ksvc,
        traffic,
        {
          ...progress,
          stable: o.previous,
          candidate: o.revision,
          phase: 'aborted',
          updated_at: new Date().toISOString(),
          reason: `guard ${o.runId} NG: ${gate.reason}`,
        },
        deps.status,
        120_000,
        undefined,
        (current) =>
          rejectedAnnotation(current, { revision: o.revision, by: 'guard', run_id: o.runId, reason: `guard NG: ${gate.reason}` }),
      );
      const at = new Date().toISOString();
      event('rolled_back', { to: o.previous });
      return {
        result: 'ng',
        reason: gate.reason,
        revision: o.revision,
        previous: o.previous,
        checks,
        timeline,
        rollback: { done: true, traffic, at },
      };
    }
    if (gate.decision === 'pass') passes++;
    deps.status(`guard ${gate.decision}: ${gate.reason}`);
  }
  if (passes === 0)
    return {
      result: 'inconclusive',
      reason: `no conclusive evaluation in the window: ${lastReason}`,
      revision: o.revision,
      previous: o.previous,
      checks,
      timeline,
      rollback: null,
    };
  return {
    result: 'ok',
    reason: `${passes} of ${checks.length} evaluations passed, none failed`,
    revision: o.revision,
    previous: o.previous,
    checks,
    timeline,
    rollback: null,
  };
}

/** Markdown body of the guard issue: what happened, what vpm did, the checks with their numbers. */
export function guardIssueBody(
  o: { ksvc: string; namespace: string; context: string; runId: string; evidencePath: string },
  outcome: GuardOutcome,
): string {
  const rows = outcome.checks.map(
    (c) =>
      `| ${c.at} | ${c.decision} | ${String(c.raw.requests ?? c.raw.total ?? '-')} | ${String(c.raw.success_rate ?? '-')} | ${String(c.raw.p95_ms ?? '-')} | ${c.reason.replace(/\|/g, '\\|')} |`,
  );
  return [
    `vpm guard detected an SLO breach on \`${o.ksvc}\` (namespace \`${o.namespace}\`, context \`${o.context}\`) after promotion of \`${outcome.revision}\`.`,
    '',
    `**Reason:** ${outcome.reason}`,
    '',
    '**What vpm did:**',
    `- traffic back to \`${outcome.previous}\` (100%) at ${outcome.rollback?.at ?? '-'}`,
    '- deploys frozen (`.ops/deploy_freeze.json`, source: guard) — lift with `vpm freeze off` once resolved',
    '',
    '| at | decision | requests | success rate | p95 ms | reason |',
    '|---|---|---|---|---|---|',
    ...rows,
    '',
    `Evidence: \`${o.evidencePath}\` (run \`${o.runId}\`).`,
  ].join('\n');
}
