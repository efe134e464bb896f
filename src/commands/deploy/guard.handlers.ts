import type { CommandHandler } from '../../core/command.js';
import { OperationalError, SloGateError, UsageError } from '../../core/errors.js';
import { makeId } from '../../core/ids.js';
import { parseDuration, parsePositiveDuration } from '../../deploy/duration.js';
import { resolveGuardRevisions, runGuard } from '../../deploy/guard.js';
import { reportGuard } from '../../deploy/rollout-evidence.js';
import { buildGate } from '../../deploy/provider-factory.js';
import type { FlagsOf } from '../../cli/spec.js';
import type { guard } from './guard.js';

type GuardFlags = FlagsOf<typeof guard>;

export const guardCommand: CommandHandler<GuardFlags> = async (ctx, { args, opts }) => {
  const ksvc = args[0];
  const windowMs = parseDuration(opts.window ?? '5m', '--window');
  const intervalMs = parsePositiveDuration(opts.interval ?? '10s', '--interval');
  if (intervalMs > windowMs) throw new UsageError('--interval must not be longer than --window');
  // the SLO file's thresholds and its named metrics (hooks belong to rollouts, not to the guard)
  const { slo, provider, analysis } = await buildGate(ctx, opts, intervalMs);
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
  const outcome = await runGuard(
    { kube, provider, analysis, status: (l) => ctx.status(l) },
    { ksvc, windowMs, intervalMs, slo, runId, ...resolved },
  );
  const { evidence: evidenceRel, issue } = await reportGuard(
    ctx,
    kube,
    { ksvc, runId, startedAt, windowMs, intervalMs, provider: provider.name, openIssue: opts.issue !== false },
    outcome,
  );
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
