import type { CommandHandler } from '../../core/command.js';
import { UsageError } from '../../core/errors.js';
import type { FlagsOf } from '../../cli/spec.js';
import type { contractCheck } from './contract-check.js';

type ContractFlags = FlagsOf<typeof contractCheck>;

/**
 * `vpm contract check PR [--apply]`: the persist-report lane. Exit 0 when eligible (and, with
 * --apply, labelled and set to auto-merge), 3 when a rule fails (a precondition not met).
 */
export const contractCheckCommand: CommandHandler<ContractFlags> = async (ctx, { args, opts }) => {
  const raw = args[0] ?? '';
  const prNumber = Number(/^#?(\d+)$/.exec(raw.trim())?.[1] ?? /\/pull\/(\d+)/.exec(raw)?.[1] ?? NaN);
  if (!Number.isInteger(prNumber) || prNumber <= 0)
    throw new UsageError(`'${raw}' is not a pull request number`, { hint: 'pass the number, e.g. vpm contract check 42' });
  const mergeMethod = (opts.mergeMethod ?? 'squash').toUpperCase();
  if (!['MERGE', 'SQUASH', 'REBASE'].includes(mergeMethod))
    throw new UsageError(`--merge-method must be merge, squash or rebase, got '${opts.mergeMethod}'`);
  const label = opts.label ?? 'persist-report';
  if (!label.trim()) throw new UsageError('--label must not be empty');

  const contract = await import('../../github/contract.js');
  const startedAt = ctx.now();
  const gh = await ctx.github({ repo: opts.repo });
  const check = await contract.checkPersistReport(gh, prNumber);
  let applied: Awaited<ReturnType<typeof contract.applyPersistReport>> | undefined;
  let evidencePath: string | null = null;
  if (opts.apply && check.eligible) {
    applied = await contract.applyPersistReport(gh, check, { label, mergeMethod: mergeMethod as 'MERGE' | 'SQUASH' | 'REBASE' });
    const [{ writeEvidence }, { ContractReport }] = await Promise.all([
      import('../../evidence/write.js'),
      import('../../schemas/contract-report.js'),
    ]);
    const { relative } = await import('node:path');
    const written = await writeEvidence({
      kind: ContractReport,
      cwd: ctx.root,
      startedAt,
      finishedAt: ctx.now(),
      status: applied.auto_merge.enabled ? 'applied' : 'labelled',
      env: ctx.env,
      body: {
        repo: `${gh.repoRef.owner}/${gh.repoRef.repo}`,
        pr: { number: check.pr.number, url: check.pr.url, head_ref: check.pr.head_ref, head_sha: check.pr.head_sha },
        eligible: check.eligible,
        rules: check.rules,
        files: check.files,
        checks: check.checks,
        applied,
      },
    });
    evidencePath = relative(ctx.root, written.path);
  }
  if (opts.apply && !check.eligible) ctx.status('contract: not eligible, nothing applied');
  const human = contract.renderContract(check, applied) + (evidencePath ? `\nevidence ${evidencePath}` : '');
  return {
    data: { ...check, applied: applied ?? null, evidence: evidencePath },
    human,
    outcome: check.eligible ? 'ok' : 'refused',
  };
};
