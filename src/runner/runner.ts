/**
 * `vpm run`: scans the inbox, moves bad job files to `_failed/`, runs jobs oldest first (each under
 * its own lock, so two runners never process the same job), moves processed jobs to `_done/`, and
 * keeps the runner-level state (job loop index) in reports/codex_runs/phase_state.json.
 */
import { readPhaseStateFile } from './phase-state-file.js';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import type { VpmConfig } from '../schemas/config.js';
import type { Job } from '../schemas/job.js';
import { withLock, writeJsonAtomic } from '../core/fs.js';
import { RefusedError, TimeoutError } from '../core/errors.js';
import { emptyJobLoop, writeSummaryFile, summaryTxtPath, type RunSummary } from '../core/summary-file.js';
import { DEFAULT_EXECUTION_POLICY } from './defaults.js';
import { escapesRepo, listInbox, moveToDone, moveToFailed, readJobFile, sortJobs, inboxFileExists, type FailedJob } from './inbox.js';
import { readJobState, readPhaseSummary, runJob, stepsOf, type ExecMode, type JobLoopInfo, type JobPhase, type JobRunDeps, type JobRunResult } from './job-runner.js';
import { INBOX_DIR, RUNNER_STATE, RUNS_DIR, jobPaths, stepFileName } from './paths.js';
import { sanitisePayload, type SanitisedPayload } from './payload.js';
import type { PolicyConfig } from './policy.js';

export type RunMode = 'run' | 'test' | 'cleanrun';
export type RunPhase = JobPhase | 'job_loop_complete' | 'idle';

export interface RunOptions {
  mode: RunMode;
  clean: boolean;
  exec: ExecMode;
  /** Absolute path of --summary-file. */
  summaryFile?: string;
}

export interface RunnerDeps extends JobRunDeps {
  config: VpmConfig;
}

export interface RunnerState {
  v: 1;
  current_phase: RunPhase;
  job_loop_enabled: boolean;
  job_name: string | null;
  max_jobs: number | null;
  /** 1-based index of the next job in the loop; grows after each job that ends done. */
  job_index: number;
  jobs_executed: number;
  completed: boolean;
  last_job_id: string | null;
  last_step: number | null;
  end_reason: string | null;
  updated_at: string;
}

export interface JobReport {
  job_id: string;
  file: string;
  moved_to: string | null;
  kind: Job['kind'];
  phase: JobPhase;
  end_reason: string;
  reports_dir: string;
  step_count: number;
  done_count: number;
  denied_count: number;
  fatal_error_count: number;
  stopped_count: number;
  resumed: boolean;
}

export interface RunReport {
  mode: RunMode;
  exec_mode: ExecMode;
  phase: RunPhase;
  end_reason: string;
  exit_code: number;
  jobs: JobReport[];
  failed: FailedJob[];
  skipped: Array<{ file: string; reason: string }>;
  cleaned: string[];
  job_loop: JobLoopInfo;
  job_result: { path: string | null; exists: boolean; written: boolean };
  job_payload: { present: boolean; size: number };
  warnings: string[];
  summary_file: { json: string; txt: string } | null;
}

type Policy = PolicyConfig & { timeout_s: number };

function readJson<T>(path: string): T | undefined {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

function initialState(config: VpmConfig, now: string): RunnerState {
  const jl = config.job_loop;
  return {
    v: 1,
    current_phase: 'idle',
    job_loop_enabled: Boolean(jl?.enabled),
    job_name: jl?.enabled ? jl.job_name : null,
    max_jobs: jl?.enabled ? jl.max_jobs : null,
    job_index: 1,
    jobs_executed: 0,
    completed: false,
    last_job_id: null,
    last_step: null,
    end_reason: null,
    updated_at: now,
  };
}

/** `cleanrun` / `--clean`: forget the runner state, the job result and half-done runs of queued jobs. */
function cleanState(cwd: string, config: VpmConfig): string[] {
  const removed: string[] = [];
  const rm = (rel: string) => {
    const abs = join(cwd, rel);
    if (existsSync(abs)) {
      rmSync(abs, { recursive: true, force: true });
      removed.push(rel);
    }
  };
  rm(RUNNER_STATE);
  if (config.job_loop) rm(config.job_loop.job_result.path);
  // Runs of jobs still in the inbox start over; finished runs are evidence and stay.
  for (const file of listInbox(cwd)) {
    const r = readJobFile(cwd, file);
    if (!r.ok) continue;
    const state = readJobState(cwd, r.job.id);
    if (state && !state.finished) rm(relative(cwd, jobPaths(cwd, r.job.id).dir));
  }
  return removed;
}

interface PayloadInfo {
  payload?: SanitisedPayload;
  jobName?: string;
  error?: string;
}

/** Reads a job_input file: a JSON object whose `job_name` overrides the configured one. */
function readJobInput(input: { path: string; required: boolean }, deps: RunnerDeps): PayloadInfo | undefined {
  if (escapesRepo(deps.cwd, input.path)) return { error: `job_input ${input.path} resolves outside the repository` };
  const abs = join(deps.cwd, input.path);
  if (!existsSync(abs)) return input.required ? { error: `job_input ${input.path} is required but missing` } : undefined;
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(abs, 'utf8'));
  } catch (err) {
    return { error: `job_input ${input.path} is not valid JSON: ${(err as Error).message}` };
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) return { error: `job_input ${input.path} must hold a JSON object` };
  const name = (value as { job_name?: unknown }).job_name;
  return { payload: sanitisePayload(value, deps.env), jobName: typeof name === 'string' && name.trim() ? name.trim().slice(0, 200) : undefined };
}

/** The payload of a job: its job_input file (the job's own, else the job loop's), else its payload/text. */
function payloadFor(job: Job, deps: RunnerDeps): PayloadInfo {
  const jl = deps.config.job_loop;
  const input = job.job_input ?? (jl?.enabled ? jl.job_input : undefined);
  const fromInput = input ? readJobInput(input, deps) : undefined;
  if (fromInput) return fromInput;
  if (job.payload !== undefined) return { payload: sanitisePayload(job.payload, deps.env) };
  if (job.text !== undefined) return { payload: sanitisePayload({ text: job.text }, deps.env) };
  return {};
}

function jobReport(r: JobRunResult, movedTo: string | null): JobReport {
  return {
    job_id: r.job_id,
    file: r.file,
    moved_to: movedTo,
    kind: r.kind,
    phase: r.phase,
    end_reason: r.end_reason,
    reports_dir: r.reports_dir,
    step_count: r.step_count,
    done_count: r.summary.done_count,
    denied_count: r.summary.denied_count,
    fatal_error_count: r.summary.fatal_error_count,
    stopped_count: r.summary.stopped_count,
    resumed: r.resumed,
  };
}

type JobAttempt =
  | { kind: 'ran'; result: JobRunResult; report: JobReport }
  | { kind: 'skipped'; reason: string }
  | { kind: 'failed'; failed: FailedJob | undefined };

/** Runs one inbox file under its lock: complete, duplicate and resume cases handled here. */
async function attemptJob(file: string, job: Job, policy: Policy, loop: JobLoopInfo, deps: RunnerDeps, mode: ExecMode): Promise<JobAttempt> {
  try {
    return await withLock(
      join(deps.cwd, INBOX_DIR, file),
      async (): Promise<JobAttempt> => {
        if (!inboxFileExists(deps.cwd, file)) return { kind: 'skipped', reason: 'taken by another runner' };
        const state = readJobState(deps.cwd, job.id);
        if (state && state.job_file !== file) {
          const failed = await moveToFailed(
            deps.cwd,
            { ok: false, file, reason: `duplicate job id ${job.id}: ${RUNS_DIR}/${job.id} belongs to ${state.job_file}`, issues: [{ path: 'id', message: 'already used by another job' }] },
            deps.now(),
            deps.env,
          );
          return { kind: 'failed', failed };
        }
        if (state && !state.finished && state.step_count !== stepsOf(job).length) {
          // Its run started with other steps: resuming could repeat or skip real side effects.
          const failed = await moveToFailed(
            deps.cwd,
            { ok: false, file, reason: `job ${job.id} changed since its run started (${state.step_count} steps then, ${stepsOf(job).length} now)`, issues: [{ path: 'steps', message: 'changed during an unfinished run' }] },
            deps.now(),
            deps.env,
          );
          return { kind: 'failed', failed };
        }
        if (state?.finished) {
          // Finished before a crash kept it from moving: finish the move, run nothing again.
          const summary = readPhaseSummary(deps.cwd, job.id);
          const movedTo = moveToDone(deps.cwd, file) ?? null;
          deps.status?.(`job ${job.id}: already processed (${RUNS_DIR}/${job.id}); moved to _done without running again — give it a new id to run it again`);
          if (summary) {
            const result: JobRunResult = {
              job_id: job.id,
              file,
              kind: job.kind,
              mode: summary.mode,
              phase: summary.current_phase,
              end_reason: summary.end_reason,
              reports_dir: relative(deps.cwd, jobPaths(deps.cwd, job.id).dir),
              step_count: summary.step_count,
              latest_step: summary.step_count > 0 ? stepFileName(summary.step_count) : null,
              last_step: summary.step_count > 0 ? summary.step_count : null,
              summary,
              resumed: true,
            };
            return { kind: 'ran', result, report: jobReport(result, movedTo) };
          }
        }
        const info = payloadFor(job, deps);
        const jobLoop = { ...loop, job_name: loop.enabled ? (info.jobName ?? loop.job_name) : loop.job_name };
        const result = await runJob(
          { job, file, mode, policy, jobLoop, payload: info.payload, preflightError: info.error },
          deps,
        );
        const movedTo = moveToDone(deps.cwd, file) ?? null;
        return { kind: 'ran', result, report: jobReport(result, movedTo) };
      },
      { waitMs: 0, what: `${INBOX_DIR}/${file}` },
    );
  } catch (err) {
    if (err instanceof TimeoutError) return { kind: 'skipped', reason: 'locked by another runner' };
    throw err;
  }
}

function worstPhase(phases: JobPhase[]): JobPhase | undefined {
  if (phases.includes('fatal_error')) return 'fatal_error';
  if (phases.includes('deny')) return 'deny';
  if (phases.includes('done')) return 'done';
  return undefined;
}

/** Checks the outputs of a run (`--mode test`) and returns warnings; they never change the exit code. */
function verifyOutputs(cwd: string, report: RunReport): string[] {
  const warnings: string[] = [];
  const jl = report.job_loop;
  if (jl.enabled && !jl.completed) warnings.push('WARNING: job_loop enabled but not completed');
  if (jl.enabled && !report.job_payload.present) warnings.push('WARNING: job_payload_present=false');
  if (jl.enabled && jl.current_job_index !== null && jl.max_jobs !== null && jl.current_job_index > jl.max_jobs) {
    warnings.push(`WARNING: job_index (${jl.current_job_index}) > max_jobs (${jl.max_jobs})`);
  }
  if (jl.enabled && jl.completed && !report.job_result.exists) warnings.push('WARNING: job_result_written=false');
  for (const job of report.jobs) {
    const p = jobPaths(cwd, job.job_id);
    const summary = readJson<{ step_count?: number }>(p.phaseSummary);
    if (!summary) warnings.push(`WARNING: ${job.reports_dir}/phase_summary.json missing or unreadable`);
    if (!readJson(p.phaseState)) warnings.push(`WARNING: ${job.reports_dir}/phase_state.json missing or unreadable`);
    if (!existsSync(p.runLog)) warnings.push(`WARNING: ${job.reports_dir}/run.log missing`);
    for (let n = 1; n <= job.step_count; n++) {
      if (!readJson(join(p.stepsDir, stepFileName(n)))) warnings.push(`WARNING: ${job.reports_dir}/steps/${stepFileName(n)} missing or unreadable`);
    }
  }
  return warnings;
}

export async function runInbox(opts: RunOptions, deps: RunnerDeps): Promise<RunReport> {
  const { config } = deps;
  const policy: Policy = config.execution_policy ?? DEFAULT_EXECUTION_POLICY;
  const jl = config.job_loop?.enabled ? config.job_loop : undefined;
  const cleaned = opts.clean || opts.mode === 'cleanrun' ? cleanState(deps.cwd, config) : [];
  const statePath = join(deps.cwd, RUNNER_STATE);

  const body = async (stateLocked: boolean): Promise<RunReport> => {
    const rstate: RunnerState = { ...initialState(config, deps.now().toISOString()), ...(readPhaseStateFile<RunnerState>(statePath, deps.cwd, deps.now()) ?? {}) };
    rstate.job_loop_enabled = Boolean(jl);
    if (jl) {
      rstate.max_jobs = jl.max_jobs;
      rstate.job_name = rstate.job_name ?? jl.job_name;
    }
    const report: RunReport = {
      mode: opts.mode,
      exec_mode: opts.exec,
      phase: 'idle',
      end_reason: 'no jobs in inbox',
      exit_code: 0,
      jobs: [],
      failed: [],
      skipped: [],
      cleaned,
      job_loop: jl
        ? { enabled: true, max_jobs: jl.max_jobs, job_name: rstate.job_name ?? jl.job_name, current_job_index: rstate.job_index, completed: false }
        : { enabled: false, max_jobs: null, job_name: null, current_job_index: null, completed: false },
      job_result: { path: jl ? jl.job_result.path : null, exists: false, written: false },
      job_payload: { present: false, size: 0 },
      warnings: [],
      summary_file: null,
    };
    let lastResult: JobRunResult | undefined;

    if (jl && rstate.job_index > jl.max_jobs) {
      // The loop has run its max_jobs jobs: not an error.
      rstate.completed = true;
      rstate.current_phase = 'job_loop_complete';
      rstate.end_reason = `job_loop_complete: max_jobs(${jl.max_jobs}) reached`;
      const resultPath = join(deps.cwd, jl.job_result.path);
      await writeJsonAtomic(resultPath, {
        job_name: rstate.job_name ?? jl.job_name,
        max_jobs: jl.max_jobs,
        jobs_executed: rstate.jobs_executed,
        end_reason: rstate.end_reason,
        last_phase: 'job_loop_complete',
        last_step: rstate.last_step,
        timestamp: deps.now().toISOString(),
      });
      report.job_result.written = true;
      report.phase = 'job_loop_complete';
      report.end_reason = rstate.end_reason;
      report.job_loop.completed = true;
      const info = readJobInput({ path: jl.job_input.path, required: false }, deps);
      report.job_payload = { present: Boolean(info?.payload), size: info?.payload?.size ?? 0 };
    } else {
      // Scan: bad files to _failed (under their lock), good ones oldest first.
      const valid: Array<{ file: string; job: Job }> = [];
      for (const file of listInbox(deps.cwd).sort()) {
        const r = readJobFile(deps.cwd, file);
        if (r.ok) {
          valid.push({ file, job: r.job });
          continue;
        }
        try {
          await withLock(
            join(deps.cwd, INBOX_DIR, file),
            async () => {
              if (!inboxFileExists(deps.cwd, file)) return;
              const moved = await moveToFailed(deps.cwd, r, deps.now(), deps.env);
              if (moved) {
                report.failed.push(moved);
                deps.status?.(`job ${file}: invalid, moved to ${moved.moved_to} (${moved.reason})`);
              }
            },
            { waitMs: 0, what: `${INBOX_DIR}/${file}` },
          );
        } catch (err) {
          if (!(err instanceof TimeoutError)) throw err;
          report.skipped.push({ file, reason: 'locked by another runner' });
        }
      }
      for (const { file, job } of sortJobs(valid)) {
        const loop: JobLoopInfo = report.job_loop;
        const attempt = await attemptJob(file, job, policy, loop, deps, opts.exec);
        if (attempt.kind === 'skipped') {
          report.skipped.push({ file, reason: attempt.reason });
          continue;
        }
        if (attempt.kind === 'failed') {
          if (attempt.failed) report.failed.push(attempt.failed);
          continue;
        }
        lastResult = attempt.result;
        report.jobs.push(attempt.report);
        deps.status?.(`job ${job.id}: ${attempt.result.phase} — ${attempt.result.end_reason}`);
        if (jl) {
          report.job_loop.job_name = attempt.result.summary.job_loop.job_name;
          rstate.job_name = report.job_loop.job_name;
          if (attempt.result.phase === 'done') {
            rstate.job_index += 1;
            rstate.jobs_executed += 1;
          }
          break; // one job per run
        }
      }
      if (lastResult) {
        report.phase = worstPhase(report.jobs.map((j) => j.phase)) ?? 'idle';
        report.end_reason = report.jobs.length === 1 ? lastResult.end_reason : `${report.jobs.length} jobs: ${report.jobs.map((j) => `${j.job_id}=${j.phase}`).join(', ')}`;
        report.job_payload = { present: lastResult.summary.job_payload_present, size: lastResult.summary.job_payload_size };
        rstate.last_job_id = lastResult.job_id;
        rstate.last_step = lastResult.last_step;
      } else if (report.failed.length > 0) {
        report.phase = 'idle';
        report.end_reason = `no valid jobs; ${report.failed.length} invalid job file(s) moved to ${INBOX_DIR}/_failed`;
      }
      rstate.current_phase = report.phase;
      rstate.end_reason = report.end_reason;
      report.job_loop.current_job_index = jl ? rstate.job_index : null;
    }
    if (jl) {
      report.job_result.exists = existsSync(join(deps.cwd, jl.job_result.path));
    }
    rstate.updated_at = deps.now().toISOString();
    if (stateLocked) await writeJsonAtomic(statePath, rstate);
    else await withLock(statePath, () => writeJsonAtomic(statePath, rstate), { waitMs: 60_000, what: RUNNER_STATE });

    report.exit_code = report.phase === 'deny' || report.phase === 'fatal_error' || report.failed.length > 0 ? 1 : 0;
    if (opts.mode === 'test') report.warnings = verifyOutputs(deps.cwd, report);
    if (opts.summaryFile) {
      await writeSummaryFile(opts.summaryFile, buildSummary(deps.cwd, report, lastResult));
      report.summary_file = { json: opts.summaryFile, txt: summaryTxtPath(opts.summaryFile) };
    }
    return report;
  };

  // Without the job loop, jobs lock themselves and runners work side by side; the runner state is
  // rewritten under its own short lock at the end.
  if (!jl) return body(false);
  // The job loop is sequential by nature: one runner advances job_index at a time.
  try {
    return await withLock(statePath, () => body(true), { waitMs: 0, what: RUNNER_STATE });
  } catch (err) {
    if (err instanceof TimeoutError) {
      throw new RefusedError('another vpm run is advancing the job loop', {
        hint: `wait for it to finish (job loop state: ${RUNNER_STATE})`,
      });
    }
    throw err;
  }
}

/** The --summary-file document (see src/core/summary-file.ts for the TXT line). */
export function buildSummary(cwd: string, report: RunReport, last: JobRunResult | undefined): RunSummary & Record<string, unknown> {
  const resultPath = report.job_result.path;
  return {
    phase: report.phase,
    step: last?.last_step !== null && last?.last_step !== undefined ? String(last.last_step) : null,
    done: report.phase === 'done' || report.phase === 'job_loop_complete',
    latest_step: last?.latest_step ?? null,
    step_count: last?.step_count ?? 0,
    phase_summary_exists: last ? existsSync(jobPaths(cwd, last.job_id).phaseSummary) : false,
    job_result_exists: report.job_result.exists,
    job_result_written: report.job_result.written,
    job_result_path: report.job_result.exists && resultPath ? resultPath : null,
    job_payload_present: report.job_payload.present,
    job_payload_size: report.job_payload.size,
    job_loop: {
      ...emptyJobLoop(),
      enabled: report.job_loop.enabled,
      max_jobs: report.job_loop.max_jobs,
      job_index: report.job_loop.current_job_index,
      completed: report.job_loop.completed,
      job_name: report.job_loop.job_name,
      current_job_index: report.job_loop.current_job_index,
    },
    end_reason: report.end_reason,
    job_id: last?.job_id ?? null,
    reports_dir: last?.reports_dir ?? null,
    exec_mode: report.exec_mode,
  };
}

export function resolveSummaryPath(cwd: string, path: string): string {
  return resolve(cwd, path);
}
