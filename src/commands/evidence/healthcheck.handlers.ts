import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { CommandHandler } from '../../core/command.js';
import { UsageError } from '../../core/errors.js';
import type { FlagsOf } from '../../cli/spec.js';
import type { healthcheck } from './healthcheck.js';

export type HealthcheckFlags = FlagsOf<typeof healthcheck>;

/** Also the `healthcheck` stage of `vpm loop` (called with no flags: config defaults apply). */
export const healthcheckCommand: CommandHandler<HealthcheckFlags> = async (ctx, { opts }) => {
  const minGoalCoverage = Number(opts.minGoalCoverage ?? ctx.env.VPM_MIN_GOAL_COVERAGE ?? 0);
  if (!Number.isFinite(minGoalCoverage) || minGoalCoverage < 0 || minGoalCoverage > 1) {
    throw new UsageError(`--min-goal-coverage must be a ratio between 0 and 1, got '${opts.minGoalCoverage}'`);
  }
  const testTimeoutS = Number(opts.testTimeout ?? 1800);
  if (!Number.isFinite(testTimeoutS) || testTimeoutS <= 0)
    throw new UsageError(`--test-timeout must be a positive number of seconds, got '${opts.testTimeout}'`);
  const config = await ctx.config();
  let testCommand = opts.test === false ? null : (opts.testCmd ?? config.test.command);
  let testsNote: string | undefined;
  if (testCommand === 'npm test' && opts.testCmd === undefined && !existsSync(join(ctx.root, 'package.json'))) {
    // The default command cannot mean anything without a package.json: say so instead of failing.
    testCommand = null;
    testsNote = 'no tests configured: the default npm test needs a package.json (set test.command in vpm.config.yaml)';
  }
  if (testCommand !== null) {
    // Refuse shell syntax before anything runs or is written.
    const { parseTestCommand } = await import('../../core/test-command.js');
    parseTestCommand(testCommand, ctx.env, opts.testCmd !== undefined ? '--test-cmd' : 'test.command');
  }
  const { runHealthcheck, renderHealthcheck } = await import('../../healthcheck/run.js');
  const streamTests = !ctx.json && (ctx.verbose || ctx.io.stderrIsTTY);
  const { withProgress } = await import('../../core/progress.js');
  const check = () =>
    runHealthcheck({
      cwd: ctx.root,
      env: ctx.env,
      now: () => ctx.now(),
      testCommand,
      testsNote,
      testTimeoutMs: testTimeoutS * 1000,
      diagrams: opts.diagrams !== false,
      minGoalCoverage,
      coverageSummary: opts.coverageSummary ?? 'coverage/coverage-summary.json',
      status: (line) => ctx.status(line),
      onTestOutput: streamTests ? (chunk) => ctx.io.stderr.write(chunk) : undefined,
    });
  // Streamed test output shows its own progress; otherwise say that the wait goes on.
  const result = streamTests ? await check() : await withProgress(ctx, 'healthcheck: running the tests and checks', check);
  return { data: result, human: renderHealthcheck(result), outcome: result.ok ? 'ok' : 'failed' };
};
