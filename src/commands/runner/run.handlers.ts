import type { CommandHandler } from '../../core/command.js';
import type { Ctx } from '../../core/context.js';
import { UsageError } from '../../core/errors.js';
import type { ExecMode } from '../../runner/job-runner.js';
import type { RunReport } from '../../runner/runner.js';
import type { FlagsOf } from '../../cli/spec.js';
import type { run } from './run.js';

export type RunOptions = FlagsOf<typeof run>;

/** `--exec` / `--dry-run` win over RUN_MODE; the default is dry. */
export function resolveExecMode(opts: Pick<RunOptions, 'exec' | 'dryRun'>, env: NodeJS.ProcessEnv): ExecMode {
  if (opts.exec && opts.dryRun) throw new UsageError('--exec and --dry-run contradict each other', { hint: 'pass one of them' });
  if (opts.exec) return 'exec';
  if (opts.dryRun) return 'dry';
  const fromEnv = env.RUN_MODE?.trim().toLowerCase();
  if (fromEnv === undefined || fromEnv === '') return 'dry';
  if (fromEnv === 'dry' || fromEnv === 'exec') return fromEnv;
  throw new UsageError(`RUN_MODE=${JSON.stringify(env.RUN_MODE)} is not dry or exec`, {
    hint: 'set RUN_MODE=dry or RUN_MODE=exec, or pass --exec',
  });
}

function render(report: RunReport): string {
  const lines: string[] = [];
  for (const j of report.jobs) {
    lines.push(`${j.job_id}\t${j.phase}\t${j.end_reason}\t${j.reports_dir}`);
  }
  for (const f of report.failed) lines.push(`${f.file}\tinvalid\t${f.reason}\t${f.moved_to ?? 'left in the inbox (dry run)'}`);
  for (const s of report.skipped) lines.push(`${s.file}\tskipped\t${s.reason}`);
  lines.push(`phase=${report.phase} mode=${report.exec_mode} end_reason=${report.end_reason}`);
  return lines.join('\n');
}

export const runCommand: CommandHandler<RunOptions> = async (ctx: Ctx, { opts }) => {
  const exec = resolveExecMode(opts, ctx.env);
  const summaryFile = opts.summaryFile !== undefined ? ctx.userPath(opts.summaryFile) : undefined;
  if (opts.summaryFile !== undefined && !opts.summaryFile.trim()) throw new UsageError('--summary-file needs a path');
  const config = await ctx.config();
  const [{ runInbox }, executor] = await Promise.all([import('../../runner/runner.js'), ctx.exec()]);
  ctx.status(`vpm run: mode ${opts.mode}, ${exec === 'exec' ? 'EXEC (steps are executed)' : 'DRY (nothing is executed)'}`);
  const report = await runInbox(
    {
      mode: opts.mode,
      clean: Boolean(opts.clean),
      exec,
      summaryFile,
      noSandbox: opts.sandbox === false,
      noCheckpoint: opts.checkpoint === false,
    },
    { cwd: ctx.root, env: ctx.env, now: () => ctx.now(), exec: executor, status: (l) => ctx.status(l), config },
  );
  for (const w of report.warnings) ctx.io.stderr.write(`${w}\n`);
  Object.assign(ctx.requestFields, {
    run_phase: report.phase,
    jobs: report.jobs.length,
    invalid_jobs: report.failed.length,
    exec_mode: exec,
  });
  return { data: report, human: render(report), outcome: report.exit_code === 0 ? 'ok' : 'failed' };
};
