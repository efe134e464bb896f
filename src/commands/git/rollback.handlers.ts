import type { CommandResult } from '../../core/command.js';
import type { Ctx } from '../../core/context.js';
import { UsageError } from '../../core/errors.js';
import type { RollbackDone, RollbackPlan } from '../../git/rollback.js';
import type { TestRun } from '../../git/test-command.js';

import type { RollbackOptions } from './rollback.js';

function question(plan: RollbackPlan): string {
  const where = plan.branch ? `branch ${plan.branch}` : 'detached HEAD';
  const untracked = plan.untracked.length
    ? ` and moving ${plan.untracked.length} untracked path(s) into .git/vpm/untracked/ (${plan.untracked.slice(0, 3).join(', ')}${plan.untracked.length > 3 ? ', …' : ''})`
    : '';
  const label = plan.checkpoints.length ? `checkpoint ${plan.checkpoints.join(', ')}` : `"${plan.target_subject}"`;
  return (
    `Roll back ${where} from ${plan.head.slice(0, 12)} to ${plan.target.slice(0, 12)} (${label}), ` +
    `taking ${plan.commits_undone} commit(s) off it${untracked}? HEAD is saved under refs/vpm/pre-rollback/ first.`
  );
}

/**
 * Starts loading the modules needed after the rollback (the request log written at the end) while
 * the main thread would otherwise sit waiting for git status/reset; on a large repository this takes
 * their load time off the critical path. Failures surface later, where the modules are used.
 */
function warmUpModules(): void {
  for (const load of [() => import('../../core/log.js'), () => import('pino')]) {
    load().catch(() => undefined);
  }
}

export async function rollbackCommand(ctx: Ctx, opts: RollbackOptions): Promise<CommandResult> {
  const { writeGitSummary, failureReason } = await import('../../git/summary.js');
  const runTests = opts.test !== false;
  let stage = 'validate';
  let done: RollbackDone | undefined;
  try {
    // Everything that can be wrong with the invocation is checked before the repository is touched.
    if (!opts.yes && !ctx.canPrompt()) {
      throw new UsageError(
        'vpm rollback resets the working tree and needs confirmation, but it cannot ask (stdin or stdout is not a terminal, or --json)',
        {
          hint: 'pass --yes to roll back without asking',
        },
      );
    }
    let testArgv: string[] | undefined;
    let testCommand: string | undefined;
    if (runTests) {
      const { parseTestCommand } = await import('../../core/test-command.js');
      testCommand = opts.testCmd ?? (await ctx.config()).test.command;
      testArgv = parseTestCommand(testCommand, ctx.env, opts.testCmd !== undefined ? '--test-cmd' : 'test.command');
    }

    stage = 'preflight';
    const { rollback, rollbackTargetSpec, fastTargetRevParse, resolveTarget, preflightCheckArgs, parseWorktreeCheck } = await import(
      '../../git/rollback.js'
    );
    const spec = rollbackTargetSpec(ctx.root, opts.to);
    const { git, repo, extra, alongside } = await ctx.git({
      prefetched: opts.prefetched,
      extraRevParse: fastTargetRevParse(spec),
      alongside: preflightCheckArgs(),
      // The repository lock is taken next; load its module while git looks the repository up.
      whileGitRuns: () => void import('proper-lockfile').catch(() => undefined),
    });
    const target = await resolveTarget(git, spec, extra);
    const preflight = alongside?.then((results) => parseWorktreeCheck(results, repo.prefix));
    const confirmPlan = opts.yes
      ? undefined
      : async (plan: RollbackPlan) => (await import('../../core/progress.js')).confirm(ctx, question(plan));
    const rolling = rollback(
      {
        git,
        repo,
        stateRoot: ctx.root,
        startDir: ctx.startDir,
        env: ctx.env,
        now: ctx.now,
        status: (m) => ctx.status(m),
        confirm: confirmPlan,
      },
      target,
      {},
      preflight,
    );
    warmUpModules();
    done = await rolling;
    stage = 'reset';
    const cp = done.checkpoints.length ? ` (checkpoint ${done.checkpoints.join(', ')})` : '';
    ctx.status(`rolled back to ${done.target.slice(0, 12)}${cp}: ${done.commits_undone} commit(s) taken off ${done.branch ?? 'HEAD'}`);
    if (done.kept_state.length) ctx.status(`kept vpm state as it was: ${done.kept_state.join(', ')}`);
    ctx.requestFields.rollback_target = done.target;

    let test: (TestRun & { command: string; argv: string[] }) | { status: 'skipped' } = { status: 'skipped' };
    if (testArgv && testCommand) {
      stage = 'test';
      const { runTestCommand } = await import('../../git/test-command.js');
      ctx.status(`running tests: ${testCommand}`);
      const run = await runTestCommand(testArgv, { cwd: ctx.root, env: ctx.env, output: ctx.io.stderr });
      test = { ...run, command: testCommand, argv: testArgv };
      if (run.status === 'passed') ctx.status(`tests passed after the rollback (${run.duration_ms} ms)`);
      else {
        const why =
          run.status === 'error' ? `could not run: ${run.error}` : run.signal ? `killed by ${run.signal}` : `exit ${run.exit_code}`;
        ctx.status(`error: tests failed after the rollback (${why}): ${testCommand}`);
        ctx.status(
          `hint: the rollback itself is done; fix the tests, roll back further (vpm rollback --to …), or undo it: ${done.undo_command}`,
        );
      }
    }
    const ok = test.status === 'passed' || test.status === 'skipped';
    await writeGitSummary(ctx.startDir, opts.summaryFile, {
      phase: 'rollback',
      step: done.target,
      done: ok,
      latest_step: test.status === 'skipped' ? 'reset' : 'test',
      step_count: test.status === 'skipped' ? 1 : 2,
      end_reason: `rolled back to ${done.target}; tests ${test.status}`,
    });
    return {
      data: { ok, rollback: done.target, ...done, test },
      human: `rollback ${done.target}`,
      outcome: ok ? 'ok' : 'failed',
    };
  } catch (err) {
    await writeGitSummary(ctx.startDir, opts.summaryFile, {
      phase: 'rollback',
      step: done?.target ?? null,
      done: false,
      latest_step: stage,
      step_count: done ? 1 : 0,
      end_reason: failureReason(err),
    }).catch((e: Error) => ctx.status(`warning: could not write ${opts.summaryFile}: ${e.message}`));
    throw err;
  }
}
