/**
 * Rollout hooks (`pre_rollout`, `pre_step`, `post_rollout`, `on_abort`): each kind's steps run as
 * one runner job — the same runJob that `vpm run --exec` uses, so every step is decided by the
 * execution policy and runs in the bubblewrap sandbox, with its step records (masked output) under
 * reports/codex_runs/<job_id>/. {{ksvc}}, {{namespace}}, {{stable}}, {{candidate}}, {{percent}} and
 * {{run_id}} in a step's words are filled in before the policy sees them; the whole context is
 * also in VPM_JOB_PAYLOAD (JSON).
 */
import type { Ctx } from '../core/context.js';
import { type JobPhase, runJob } from '../runner/job-runner.js';
import { DEFAULT_EXECUTION_POLICY } from '../runner/defaults.js';
import { prepareExecution } from '../runner/execution.js';
import { sanitisePayload } from '../runner/payload.js';
import { stepFileName } from '../runner/paths.js';
import type { HookKind } from '../schemas/config.js';
import type { JobStep } from '../schemas/job.js';
import { readTextIfExists } from '../core/fs.js';
import { join } from 'node:path';

export interface HookVars {
  ksvc: string;
  namespace: string;
  stable: string;
  candidate: string;
  run_id: string;
  /** The step's candidate percentage (pre_step), the last one reached otherwise. */
  percent?: number;
  reason?: string;
}

export interface HookRecord {
  kind: HookKind;
  job_id: string;
  at: string;
  /** done: every step passed; deny: the policy refused a step; fatal_error: a step failed. */
  phase: JobPhase;
  end_reason: string;
  reports_dir: string;
  steps: Array<{
    name: string;
    decision: string | null;
    matched_rule: string | null;
    exit_code: number | null;
    sandbox: string | null;
    stdout_tail: string;
    stderr_tail: string;
  }>;
}

export interface HookRunner {
  has(kind: HookKind): boolean;
  run(kind: HookKind, vars: HookVars): Promise<HookRecord | null>;
}

type HookSteps = Partial<Record<HookKind, JobStep[]>>;

function fill(text: string, vars: HookVars): string {
  return text.replace(/\{\{\s*(ksvc|namespace|stable|candidate|percent|run_id)\s*\}\}/g, (_, k: keyof HookVars) => String(vars[k] ?? ''));
}

/**
 * The hook runner of one rollout, or undefined when no hook is configured. Prepares the sandbox
 * up front: a machine where it cannot run refuses (exit 3) before anything moves.
 */
export async function buildHookRunner(ctx: Ctx, hooks: HookSteps, runId: string): Promise<HookRunner | undefined> {
  if (!Object.values(hooks).some((steps) => steps?.length)) return undefined;
  const config = await ctx.config();
  const policy = config.execution_policy ?? DEFAULT_EXECUTION_POLICY;
  const execution = await prepareExecution(config, {}, { cwd: ctx.root, env: ctx.env });
  const exec = await ctx.exec();
  let count = 0;
  return {
    has: (kind) => Boolean(hooks[kind]?.length),
    async run(kind, vars) {
      const steps = hooks[kind];
      if (!steps?.length) return null;
      const jobId = `${runId}.${kind}.${++count}`;
      const at = ctx.now();
      ctx.status(`${kind} hook (${steps.length} step(s)): job ${jobId}`);
      const result = await runJob(
        {
          job: {
            id: jobId,
            kind: 'exec',
            created_at: at.toISOString(),
            source: `vpm ${kind} hook of ${vars.ksvc} (${runId})`,
            steps: steps.map((s) => ({
              ...s,
              ...(s.argv ? { argv: s.argv.map((a) => fill(a, vars)) } : {}),
              ...(s.command !== undefined ? { command: fill(s.command, vars) } : {}),
            })),
          },
          file: `${jobId}.json`,
          mode: 'exec',
          policy,
          jobLoop: { enabled: false, max_jobs: null, job_name: null, current_job_index: null, completed: false },
          payload: sanitisePayload({ hook: kind, ...vars }, ctx.env),
          // A hook is part of a rollout, not an agent's change to the repository: no git checkpoint.
          execution: { ...execution, checkpoint: false },
        },
        { cwd: ctx.root, env: ctx.env, now: () => ctx.now(), exec, status: (l) => ctx.status(l) },
      );
      const record: HookRecord = {
        kind,
        job_id: jobId,
        at: at.toISOString(),
        phase: result.phase,
        end_reason: result.end_reason,
        reports_dir: result.reports_dir,
        steps: steps.map((s, i) => stepRecord(join(ctx.root, result.reports_dir, 'steps', stepFileName(i + 1)), s.name)),
      };
      ctx.status(`${kind} hook: ${result.end_reason}`);
      return record;
    },
  };
}

/** What the runner recorded for one step (its output already masked and cut to the tail). */
function stepRecord(file: string, name: string): HookRecord['steps'][number] {
  const r = JSON.parse(readTextIfExists(file) ?? '{}') as Record<string, unknown>;
  const str = (v: unknown) => (typeof v === 'string' ? v : null);
  return {
    name,
    decision: str(r.decision),
    matched_rule: str(r.matched_rule),
    exit_code: typeof r.exit_code === 'number' ? r.exit_code : null,
    sandbox: str(r.sandbox),
    stdout_tail: str(r.stdout_tail) ?? '',
    stderr_tail: str(r.stderr_tail) ?? '',
  };
}
