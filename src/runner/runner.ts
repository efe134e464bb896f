/**
 * `vpm run`: scans the inbox, moves bad job files to `_failed/`, runs jobs oldest first (each under
 * its own lock, so two runners never process the same job), moves processed jobs to `_done/`, and
 * keeps the runner-level state (job loop index) in reports/codex_runs/phase_state.json.
 *
 * A dry run (the default) is a preview, as `kubectl apply --dry-run=server` or `argo submit
 * --dry-run` are: it reads everything and reports what an exec run would do — `[DRY]` lines, step
 * records, the policy's decisions, invalid files, the job the loop would take next — and changes no
 * state an exec run reads. The inbox stays byte for byte as it was (nothing to `_done/` or
 * `_failed/`, no lock files in it), job_index is not advanced, job_result.json is not written,
 * `--clean`/cleanrun removes nothing (it lists what it would remove and previews as if it had), and
 * a job's exec state (`<job_id>/phase_state.json`) is never written. So "dry first, then --exec"
 * runs exactly the jobs the preview showed, as the preview showed them.
 */
import { readPhaseStateFile } from './phase-state-file.js';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { VpmConfig } from '../schemas/config.js';
import type { Job } from '../schemas/job.js';
import { withLock, writeJsonAtomic } from '../core/fs.js';
import { maskValue } from '../core/secrets.js';
import { RefusedError, TimeoutError } from '../core/errors.js';
import { emptyJobLoop, writeSummaryFile, summaryTxtPath, type RunSummary } from '../core/summary-file.js';
import { DEFAULT_EXECUTION_POLICY } from './defaults.js';
import {
  describeFailed,
  escapesRepo,
  listInbox,
  moveToDone,
  moveToFailed,
  readJobFile,
  sortJobs,
  inboxFileExists,
  type FailedJob,
  type JobFileResult,
} from './inbox.js';
import {
  execFinished,
  readJobState,
  readPhaseSummary,
  resumableState,
  runJob,
  stepsOf,
  type ExecMode,
  type JobLoopInfo,
  type JobPhase,
  type JobPhaseState,
  type JobRunDeps,
  type JobRunResult,
} from './job-runner.js';
import { FAILED_DIR, INBOX_DIR, RUNNER_STATE, RUNS_DIR, jobPaths, stepFileName } from './paths.js';
import { sanitisePayload, type SanitisedPayload } from './payload.js';
import type { PolicyConfig } from './policy.js';
import { prepareExecution, type Execution } from './execution.js';

export type RunMode = 'run' | 'test' | 'cleanrun';
type RunPhase = JobPhase | 'job_loop_complete' | 'idle';

export interface RunOptions {
  mode: RunMode;
  clean: boolean;
  exec: ExecMode;
  /** Absolute path of --summary-file. */
  summaryFile?: string;
  /** `--no-sandbox`: run exec steps unsandboxed (recorded); required for `runner.sandbox: none`. */
  noSandbox?: boolean;
  /** `--no-checkpoint`: no snapshot before exec (recorded). */
  noCheckpoint?: boolean;
}

export interface RunnerDeps extends JobRunDeps {
  config: VpmConfig;
}

interface RunnerState {
  v: 1;
  current_phase: RunPhase;
  job_loop_enabled: boolean;
  job_name: string | null;
  max_jobs: number | null;
  /** 1-based index of the next job in the loop; grows after each job an exec run ends done. */
  job_index: number;
  jobs_executed: number;
  completed: boolean;
  last_job_id: string | null;
  last_step: number | null;
  end_reason: string | null;
  updated_at: string;
}

interface JobReport {
  job_id: string;
  file: string;
  moved_to: string | null;
  kind: Job['kind'];
  /** The mode of the reports in reports_dir (an exec run's, for a job found already processed). */
  mode: ExecMode;
  phase: JobPhase;
  end_reason: string;
  reports_dir: string;
  step_count: number;
  done_count: number;
  executed_count: number;
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
  /** A dry run with --clean/cleanrun: what an exec run would remove (cleaned stays empty). */
  would_clean: string[];
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

/**
 * `cleanrun` / `--clean`: what to forget — the runner state, the job result and unfinished runs of
 * queued jobs (repo-relative paths that exist). Finished exec runs are evidence and stay.
 */
function planClean(cwd: string, config: VpmConfig): string[] {
  const paths: string[] = [RUNNER_STATE];
  if (config.job_loop) paths.push(config.job_loop.job_result.path);
  for (const file of listInbox(cwd)) {
    const r = readJobFile(cwd, file);
    if (!r.ok) continue;
    const state = readJobState(cwd, r.job.id);
    if (state && !execFinished(state)) paths.push(relative(cwd, jobPaths(cwd, r.job.id).dir));
  }
  return paths.filter((rel) => existsSync(join(cwd, rel)));
}

function removeAll(cwd: string, paths: string[]): string[] {
  for (const rel of paths) rmSync(join(cwd, rel), { recursive: true, force: true });
  return paths;
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
  return {
    payload: sanitisePayload(value, deps.env),
    jobName: typeof name === 'string' && name.trim() ? name.trim().slice(0, 200) : undefined,
  };
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
    mode: r.mode,
    phase: r.phase,
    end_reason: r.end_reason,
    reports_dir: r.reports_dir,
    step_count: r.step_count,
    done_count: r.summary.done_count,
    // Reports written before executed_count existed: only an exec run's steps can have executed.
    executed_count: r.summary.executed_count ?? (r.mode === 'exec' ? r.summary.done_count + r.summary.fatal_error_count : 0),
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

/** What one run knows while it walks the inbox. */
interface RunScope {
  mode: ExecMode;
  /** Job id → the inbox file this run took it from (catches duplicates a dry run does not record). */
  seen: Map<string, string>;
  /** A job's exec state as this run sees it (a dry cleanrun sees it as the clean would leave it). */
  execStateOf: (jobId: string) => JobPhaseState | undefined;
  /** How exec steps run (sandbox, checkpoint); absent in a dry run. */
  execution?: Execution;
}

/** An exec run moves a bad file to `_failed/`; a dry run reports it and leaves it where it is. */
async function reject(result: Extract<JobFileResult, { ok: false }>, deps: RunnerDeps, mode: ExecMode): Promise<FailedJob | undefined> {
  return mode === 'exec' ? moveToFailed(deps.cwd, result, deps.now(), deps.env) : describeFailed(result, deps.env);
}

/** Runs one inbox file under its lock: complete, duplicate and resume cases handled here. */
async function attemptJob(
  file: string,
  job: Job,
  policy: Policy,
  loop: JobLoopInfo,
  deps: RunnerDeps,
  scope: RunScope,
): Promise<JobAttempt> {
  const { mode } = scope;
  const attempt = async (): Promise<JobAttempt> => {
    if (!inboxFileExists(deps.cwd, file)) return { kind: 'skipped', reason: 'taken by another runner' };
    const state = scope.execStateOf(job.id);
    const owner = scope.seen.get(job.id) ?? state?.job_file;
    if (owner !== undefined && owner !== file) {
      const failed = await reject(
        {
          ok: false,
          file,
          reason: `duplicate job id ${job.id}: ${RUNS_DIR}/${job.id} belongs to ${owner}`,
          issues: [{ path: 'id', message: 'already used by another job' }],
        },
        deps,
        mode,
      );
      return { kind: 'failed', failed };
    }
    scope.seen.set(job.id, file);
    if (state && !state.finished && state.step_count !== stepsOf(job).length) {
      // Its run started with other steps: resuming could repeat or skip real side effects.
      const failed = await reject(
        {
          ok: false,
          file,
          reason: `job ${job.id} changed since its run started (${state.step_count} steps then, ${stepsOf(job).length} now)`,
          issues: [{ path: 'steps', message: 'changed during an unfinished run' }],
        },
        deps,
        mode,
      );
      return { kind: 'failed', failed };
    }
    if (execFinished(state)) {
      // An exec run finished it before a crash kept it from moving: finish the move, run nothing
      // again. Only a real (exec) finish counts; a job finished in DRY by an older vpm runs.
      const summary = readPhaseSummary(deps.cwd, job.id);
      const movedTo = mode === 'exec' ? (moveToDone(deps.cwd, file) ?? null) : null;
      deps.status?.(
        mode === 'exec'
          ? `job ${job.id}: already processed (${RUNS_DIR}/${job.id}); moved to _done without running again — give it a new id to run it again`
          : `job ${job.id}: already processed (${RUNS_DIR}/${job.id}); an exec run moves it to _done without running it again — give it a new id to run it again`,
      );
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
      {
        job,
        file,
        mode,
        policy,
        jobLoop,
        payload: info.payload,
        preflightError: info.error,
        execState: mode === 'dry' ? resumableState(state, stepsOf(job).length) : undefined,
        ...(scope.execution ? { execution: scope.execution } : {}),
      },
      deps,
    );
    // Only an exec run consumes the job: after a preview it stays queued for --exec.
    const movedTo = mode === 'exec' ? (moveToDone(deps.cwd, file) ?? null) : null;
    return { kind: 'ran', result, report: jobReport(result, movedTo) };
  };
  // An exec run locks the inbox file, so two runners never process one job. A dry run puts no lock
  // in the inbox (and never holds up an exec run); it locks its own preview folder instead, so two
  // previews of one job do not write into each other.
  const lockPath = mode === 'exec' ? join(deps.cwd, INBOX_DIR, file) : jobPaths(deps.cwd, job.id, 'dry').dir;
  try {
    return await withLock(lockPath, attempt, { waitMs: 0, what: mode === 'exec' ? `${INBOX_DIR}/${file}` : relative(deps.cwd, lockPath) });
  } catch (err) {
    if (err instanceof TimeoutError)
      return { kind: 'skipped', reason: mode === 'exec' ? 'locked by another runner' : 'previewed by another dry run' };
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
    // A dry run checks its own preview records (<job_id>/dry/), the ones it just wrote.
    const p = jobPaths(cwd, job.job_id, job.mode);
    const rel = (abs: string) => relative(cwd, abs);
    const summary = readJson<{ step_count?: number }>(p.phaseSummary);
    if (!summary) warnings.push(`WARNING: ${rel(p.phaseSummary)} missing or unreadable`);
    if (!readJson(p.phaseState)) warnings.push(`WARNING: ${rel(p.phaseState)} missing or unreadable`);
    if (!existsSync(p.runLog)) warnings.push(`WARNING: ${rel(p.runLog)} missing`);
    for (let n = 1; n <= job.step_count; n++) {
      if (!readJson(join(p.stepsDir, stepFileName(n))))
        warnings.push(`WARNING: ${rel(join(p.stepsDir, stepFileName(n)))} missing or unreadable`);
    }
  }
  return warnings;
}

export async function runInbox(opts: RunOptions, deps: RunnerDeps): Promise<RunReport> {
  const { config } = deps;
  const policy: Policy = config.execution_policy ?? DEFAULT_EXECUTION_POLICY;
  const jl = config.job_loop?.enabled ? config.job_loop : undefined;
  const dry = opts.exec === 'dry';
  // Exec mode refuses (exit 3) before touching anything when the sandbox cannot run.
  const execution = dry ? undefined : await prepareExecution(config, opts, deps);
  const clean = opts.clean || opts.mode === 'cleanrun';
  // A dry cleanrun removes nothing: it lists what it would remove and previews as if it had.
  const cleanPlan = clean ? planClean(deps.cwd, config) : [];
  const cleaned = clean && !dry ? removeAll(deps.cwd, cleanPlan) : [];
  if (clean && dry)
    deps.status?.(
      `dry run: ${cleanPlan.length > 0 ? `--clean would remove ${cleanPlan.join(', ')}` : '--clean has nothing to remove'}; nothing removed`,
    );
  const statePath = join(deps.cwd, RUNNER_STATE);
  const scope: RunScope = {
    mode: opts.exec,
    seen: new Map(),
    execStateOf: (jobId) => {
      const state = readJobState(deps.cwd, jobId);
      return clean && dry && state && !execFinished(state) ? undefined : state;
    },
    execution,
  };

  const body = async (stateLocked: boolean): Promise<RunReport> => {
    const saved = clean && dry ? undefined : readPhaseStateFile<RunnerState>(statePath, deps.cwd, deps.now());
    const rstate: RunnerState = { ...initialState(config, deps.now().toISOString()), ...(saved ?? {}) };
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
      would_clean: dry ? cleanPlan : [],
      job_loop: jl
        ? {
            enabled: true,
            max_jobs: jl.max_jobs,
            job_name: rstate.job_name ?? jl.job_name,
            current_job_index: rstate.job_index,
            completed: false,
          }
        : { enabled: false, max_jobs: null, job_name: null, current_job_index: null, completed: false },
      job_result: { path: jl ? jl.job_result.path : null, exists: false, written: false },
      job_payload: { present: false, size: 0 },
      warnings: [],
      summary_file: null,
    };
    let lastResult: JobRunResult | undefined;

    if (jl && rstate.job_index > jl.max_jobs) {
      // The loop has run its max_jobs jobs: not an error. A dry run says so and writes nothing.
      rstate.completed = true;
      rstate.current_phase = 'job_loop_complete';
      rstate.end_reason = `job_loop_complete: max_jobs(${jl.max_jobs}) reached`;
      if (!dry) {
        const resultPath = join(deps.cwd, jl.job_result.path);
        await writeJsonAtomic(
          resultPath,
          maskValue(
            {
              job_name: rstate.job_name ?? jl.job_name,
              max_jobs: jl.max_jobs,
              jobs_executed: rstate.jobs_executed,
              end_reason: rstate.end_reason,
              last_phase: 'job_loop_complete',
              last_step: rstate.last_step,
              timestamp: deps.now().toISOString(),
            },
            deps.env,
          ),
        );
        report.job_result.written = true;
      }
      report.phase = 'job_loop_complete';
      report.end_reason = dry ? `${rstate.end_reason} (dry run: ${jl.job_result.path} not written)` : rstate.end_reason;
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
        if (dry) {
          const failed = describeFailed(r, deps.env);
          report.failed.push(failed);
          deps.status?.(`job ${file}: invalid, left in the inbox (dry run; an exec run moves it to ${FAILED_DIR}) (${failed.reason})`);
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
        const attempt = await attemptJob(file, job, policy, loop, deps, scope);
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
          // Only a job an exec run ends done advances the loop: a preview must not use up an index.
          if (attempt.result.phase === 'done' && attempt.result.mode === 'exec' && !dry) {
            rstate.job_index += 1;
            rstate.jobs_executed += 1;
          }
          break; // one job per run
        }
      }
      if (lastResult) {
        report.phase = worstPhase(report.jobs.map((j) => j.phase)) ?? 'idle';
        report.end_reason =
          report.jobs.length === 1
            ? lastResult.end_reason
            : `${report.jobs.length} jobs: ${report.jobs.map((j) => `${j.job_id}=${j.phase}`).join(', ')}`;
        report.job_payload = { present: lastResult.summary.job_payload_present, size: lastResult.summary.job_payload_size };
        rstate.last_job_id = lastResult.job_id;
        rstate.last_step = lastResult.last_step;
      } else if (report.failed.length > 0) {
        report.phase = 'idle';
        report.end_reason = dry
          ? `no valid jobs; ${report.failed.length} invalid job file(s) (dry run: left in ${INBOX_DIR})`
          : `no valid jobs; ${report.failed.length} invalid job file(s) moved to ${FAILED_DIR}`;
      }
      rstate.current_phase = report.phase;
      rstate.end_reason = report.end_reason;
      report.job_loop.current_job_index = jl ? rstate.job_index : null;
    }
    if (jl) {
      // After a dry cleanrun the result is reported as the clean would leave it: gone.
      report.job_result.exists = !(dry && clean) && existsSync(join(deps.cwd, jl.job_result.path));
    }
    // Dry runs leave the runner state as they found it (not even updated_at).
    if (!dry) {
      rstate.updated_at = deps.now().toISOString();
      if (stateLocked) await writeJsonAtomic(statePath, rstate);
      else await withLock(statePath, () => writeJsonAtomic(statePath, rstate), { waitMs: 60_000, what: RUNNER_STATE });
    }

    report.exit_code = report.phase === 'deny' || report.phase === 'fatal_error' || report.failed.length > 0 ? 1 : 0;
    if (opts.mode === 'test') report.warnings = verifyOutputs(deps.cwd, report);
    if (opts.summaryFile) {
      await writeSummaryFile(opts.summaryFile, buildSummary(deps.cwd, report, lastResult));
      report.summary_file = { json: opts.summaryFile, txt: summaryTxtPath(opts.summaryFile) };
    }
    return report;
  };

  // Without the job loop, jobs lock themselves and runners work side by side; the runner state is
  // rewritten under its own short lock at the end. A dry run never writes it, so it takes no lock
  // and never holds up an exec run advancing the loop.
  if (!jl || dry) return body(false);
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
function buildSummary(cwd: string, report: RunReport, last: JobRunResult | undefined): RunSummary & Record<string, unknown> {
  const resultPath = report.job_result.path;
  return {
    phase: report.phase,
    step: last?.last_step !== null && last?.last_step !== undefined ? String(last.last_step) : null,
    // `done` means the work is done; a preview did none of it, whatever phase it predicts.
    done: report.exec_mode === 'exec' && (report.phase === 'done' || report.phase === 'job_loop_complete'),
    ...(report.exec_mode === 'dry' ? { dry_run: true } : {}),
    latest_step: last?.latest_step ?? null,
    step_count: last?.step_count ?? 0,
    phase_summary_exists: last ? existsSync(jobPaths(cwd, last.job_id, last.mode).phaseSummary) : false,
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
    sandbox: last?.summary.sandbox ?? null,
    checkpoint: last?.summary.checkpoint ?? null,
  };
}
