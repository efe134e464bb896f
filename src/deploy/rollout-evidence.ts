/**
 * Evidence of a canary run and of a guard window, and what a guard NG does besides the rollback
 * (freeze, GitHub issue): shared by `vpm canary start`, `vpm guard` and `vpm release`.
 */
import type { KubeClient } from '../adapters/kube.js';
import type { Ctx } from '../core/context.js';
import { writeKsvcEvidence } from './ksvc-evidence.js';
import { CanaryEvidence, GuardEvidence } from '../schemas/deploy-evidence.js';
import type { CanaryOutcome } from './canary.js';
import { readFreeze, setFreeze, whoAmI } from './freeze.js';
import { guardIssueBody, type GuardOutcome } from './guard.js';

export async function writeCanaryEvidence(
  ctx: Ctx,
  kube: KubeClient,
  run: { ksvc: string; runId: string; startedAt: Date; steps: number[]; intervalMs: number; provider: 'probe' | 'prometheus' },
  outcome: CanaryOutcome,
): Promise<string> {
  return writeKsvcEvidence(ctx, kube, {
    kind: CanaryEvidence,
    ksvc: run.ksvc,
    runId: run.runId,
    startedAt: run.startedAt,
    status: outcome.result,
    body: {
      stable: outcome.stable,
      candidate: outcome.candidate,
      steps: run.steps,
      interval_ms: run.intervalMs,
      provider: run.provider,
      resumed_from: outcome.resumedFrom,
      result: outcome.result,
      reason: outcome.reason,
      checks: outcome.checks,
      timeline: outcome.timeline,
      detect_to_restore_ms: outcome.detectToRestoreMs,
      traffic_final: outcome.trafficFinal as unknown as Record<string, unknown>[],
      hooks: outcome.hooks,
      by: whoAmI(ctx.env),
    },
  });
}

export interface GuardReport {
  evidence: string;
  freeze: Record<string, unknown> | null;
  issue: { number: number | null; url: string | null; error: string | null } | null;
}

/** On NG: deploys frozen (source: guard) and a GitHub issue opened (unless `openIssue` is false); then the evidence. */
export async function reportGuard(
  ctx: Ctx,
  kube: KubeClient,
  run: {
    ksvc: string;
    runId: string;
    startedAt: Date;
    windowMs: number;
    intervalMs: number;
    provider: 'probe' | 'prometheus';
    openIssue: boolean;
  },
  outcome: GuardOutcome,
): Promise<GuardReport> {
  const { ksvc, runId } = run;
  const evidenceRel = `reports/guard/${ksvc}/${runId}.json`;
  let freeze: Record<string, unknown> | null = null;
  let issue: GuardReport['issue'] = null;
  if (outcome.result === 'ng') {
    const state = {
      frozen: true,
      reason: `guard NG on ${ksvc}: ${outcome.reason}`,
      by: 'vpm guard',
      at: new Date().toISOString(),
      until: null,
      source: 'guard' as const,
      run_id: runId,
    };
    await setFreeze(ctx.root, state);
    freeze = state;
    ctx.status('deploys frozen (source: guard)');
    if (run.openIssue) {
      try {
        const gh = await ctx.github();
        const created = await gh.call('opening the guard issue', (o) =>
          o.rest.issues.create({
            ...gh.repoRef,
            title: `vpm guard: ${ksvc} rolled back to ${outcome.previous} (${outcome.reason.slice(0, 80)})`,
            body: guardIssueBody({ ksvc, namespace: kube.namespace, context: kube.context, runId, evidencePath: evidenceRel }, outcome),
            labels: ['vpm-guard', 'incident'],
          }),
        );
        issue = { number: created.data.number, url: created.data.html_url, error: null };
        ctx.status(`issue opened: ${created.data.html_url}`);
      } catch (err) {
        // The rollback and freeze stand even if GitHub cannot be told; say so in the evidence,
        // with the hint (e.g. when a rate limit resets) so someone can open it by hand.
        const hint = (err as { hint?: string }).hint;
        const why = `${(err as Error).message}${hint ? ` (${hint})` : ''}`;
        issue = { number: null, url: null, error: why };
        ctx.status(`warning: could not open the GitHub issue: ${why}`);
      }
    }
  }
  await writeKsvcEvidence(ctx, kube, {
    kind: GuardEvidence,
    ksvc,
    runId,
    startedAt: run.startedAt,
    status: outcome.result,
    body: {
      revision: outcome.revision,
      previous_revision: outcome.previous,
      window_ms: run.windowMs,
      interval_ms: run.intervalMs,
      provider: run.provider,
      result: outcome.result,
      reason: outcome.reason,
      checks: outcome.checks,
      rollback: outcome.rollback as unknown as { done: boolean; traffic: Record<string, unknown>[]; at: string | null } | null,
      freeze: freeze ?? (readFreeze(ctx.root) as Record<string, unknown> | null),
      issue,
      timeline: outcome.timeline,
      by: whoAmI(ctx.env),
    },
  });
  ctx.status(`evidence: ${evidenceRel}`);
  return { evidence: evidenceRel, freeze, issue };
}
