import type { CommandHandler } from '../../core/command.js';
import { OperationalError, SloGateError, UsageError } from '../../core/errors.js';
import { makeId } from '../../core/ids.js';
import { parseDuration } from '../../deploy/duration.js';
import { readFreeze, setFreeze } from '../../deploy/freeze.js';
import { guardIssueBody, resolveGuardRevisions, runGuard } from '../../deploy/guard.js';
import { buildProvider } from '../../deploy/provider-factory.js';
import { loadSlo } from '../../deploy/slo.js';
import { writeEvidence } from '../../evidence/write.js';
import { GuardEvidence } from '../../schemas/deploy-evidence.js';
import type { FlagsOf } from '../../cli/spec.js';
import type { guard } from './guard.js';

type GuardFlags = FlagsOf<typeof guard>;

export const guardCommand: CommandHandler<GuardFlags> = async (ctx, { args, opts }) => {
  const ksvc = args[0];
  const config = await ctx.config();
  const windowMs = parseDuration(opts.window ?? '5m', '--window');
  const intervalMs = parseDuration(opts.interval ?? '10s', '--interval');
  if (intervalMs > windowMs) throw new UsageError('--interval must not be longer than --window');
  const slo = await loadSlo(ctx.root, opts.slo === undefined ? undefined : ctx.userPath(opts.slo), config.canary?.slo);
  const provider = await buildProvider(ctx, opts, slo, intervalMs);
  const kube = await ctx.kube(opts);
  const resolved = await resolveGuardRevisions(kube, { ksvc, revision: opts.revision, previous: opts.previous });
  if (!resolved.revision || !resolved.previous) {
    throw new UsageError(`${ksvc} has no promoted canary to guard`, {
      hint: 'promote one with vpm canary start, or name them: --revision REV --previous REV',
    });
  }
  const runId = makeId('guard', ctx.now());
  const startedAt = ctx.now();
  ctx.status(`guarding ${ksvc}: ${resolved.revision} (previous ${resolved.previous}) for ${windowMs} ms`);
  const outcome = await runGuard({ kube, provider, status: (l) => ctx.status(l) }, { ksvc, windowMs, intervalMs, slo, runId, ...resolved });
  const evidenceRel = `reports/guard/${ksvc}/${runId}.json`;

  let freeze: Record<string, unknown> | null = null;
  let issue: { number: number | null; url: string | null; error: string | null } | null = null;
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
    if (opts.issue !== false) {
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
  await writeEvidence({
    kind: GuardEvidence,
    cwd: ctx.root,
    runId,
    startedAt,
    status: outcome.result,
    path: `${ksvc}/${runId}.json`,
    env: ctx.env,
    body: {
      context: kube.context,
      namespace: kube.namespace,
      ksvc,
      revision: outcome.revision,
      previous_revision: outcome.previous,
      window_ms: windowMs,
      interval_ms: intervalMs,
      provider: provider.name,
      result: outcome.result,
      reason: outcome.reason,
      checks: outcome.checks,
      rollback: outcome.rollback as unknown as { done: boolean; traffic: Record<string, unknown>[]; at: string | null } | null,
      freeze: freeze ?? (readFreeze(ctx.root) as Record<string, unknown> | null),
      issue,
      timeline: outcome.timeline,
    },
  });
  ctx.status(`evidence: ${evidenceRel}`);
  const data = {
    run_id: runId,
    ksvc,
    result: outcome.result,
    reason: outcome.reason,
    revision: outcome.revision,
    previous: outcome.previous,
    evidence: evidenceRel,
    issue,
  };
  if (outcome.result === 'ng') {
    throw new SloGateError(
      `guard NG on ${ksvc}: ${outcome.reason}; traffic back on ${outcome.previous}, deploys frozen${issue?.url ? `, issue ${issue.url}` : ''}`,
      { details: data },
    );
  }
  if (outcome.result === 'inconclusive')
    throw new OperationalError(`guard on ${ksvc} was inconclusive: ${outcome.reason}`, {
      hint: 'send traffic during the window, or lengthen --window',
      details: data,
    });
  return { data, human: `guard OK: ${ksvc} ${outcome.revision} held its SLO for ${windowMs} ms (${outcome.reason})` };
};
