/**
 * Runs one job: every step goes through the execution policy, then is either logged (`[DRY]`) or
 * executed (`[EXEC]`). After every step the job's phase_state.json is rewritten atomically, so a
 * runner killed mid-job resumes where it stopped and never runs a `done` step twice (the step that
 * was running when it died is run again: at-least-once for that one, exactly-once for done ones).
 */
import { readPhaseStateFile } from './phase-state-file.js';
import { appendFileSync, mkdirSync, readFileSync, existsSync, renameSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Job, JobStep } from '../schemas/job.js';
import { appendDurable, assertSafePath, writeFileAtomic, writeJsonAtomic } from '../core/fs.js';
import { shellQuote } from '../core/posix-shell.js';
import { maskSecrets, maskValue } from '../core/secrets.js';
import { evaluatePolicy, commandWords, needsShell, type PolicyConfig, type PolicyDecision } from './policy.js';
import type { Executor } from './executor.js';
import { jobPaths, stepFileName, type JobPaths } from './paths.js';
import type { SanitisedPayload } from './payload.js';

export type ExecMode = 'dry' | 'exec';
export type StepOutcome = 'done' | 'deny' | 'fatal_error' | 'stopped';
export type JobPhase = 'running' | 'done' | 'deny' | 'fatal_error';

/** A step as the runner executes it (job steps plus the ones generated for apply jobs). */
export interface RunnerStep extends JobStep {
  /** Write the step's stdout to this file in the run folder (apply: after.yaml). */
  stdout_file?: 'after.yaml';
  /** Append the step's output to apply.log. */
  apply_log?: boolean;
  /**
   * argv[0] `vpm` is this vpm (same Node, same CLI, `--json`); its apply.log and after.yaml are
   * copied into the job's folder and its run id recorded.
   */
  vpm_handover?: boolean;
}

/** The CLI entry of this vpm, for steps handed over to a vpm command. */
const VPM_ENTRY = fileURLToPath(new URL('../../bin/vpm.js', import.meta.url));

export interface StepState {
  step: number;
  name: string;
  /** pending = not reached yet; running = started, not finished (re-run on resume). */
  outcome: StepOutcome | 'running' | 'pending';
  mode: ExecMode;
}

export interface JobPhaseState {
  v: 1;
  job_id: string;
  job_file: string;
  kind: Job['kind'];
  mode: ExecMode;
  current_phase: JobPhase;
  step_count: number;
  /** The step to run next (1-based); step_count + 1 once finished. */
  next_step: number;
  steps: StepState[];
  job_index: number | null;
  finished: boolean;
  end_reason: string | null;
  started_at: string;
  updated_at: string;
  attempts: number;
}

export interface StepRef {
  step: number;
  name: string;
  file: string;
  matched_rule?: string;
  exit_code?: number | null;
}

export interface PhaseSummary {
  v: 1;
  job_id: string;
  kind: Job['kind'];
  mode: ExecMode;
  current_phase: JobPhase;
  end_reason: string;
  step_count: number;
  done_count: number;
  /** Steps that ended done (stopped and denied steps never count). */
  success_count: number;
  denied_steps: StepRef[];
  denied_count: number;
  fatal_error_steps: StepRef[];
  fatal_error_count: number;
  stopped_steps: StepRef[];
  stopped_count: number;
  stop_on_deny: boolean;
  job_loop_enabled: boolean;
  job_loop: JobLoopInfo;
  job_payload_present: boolean;
  job_payload_size: number;
  started_at: string;
  finished_at: string;
}

export interface JobLoopInfo {
  enabled: boolean;
  max_jobs: number | null;
  job_name: string | null;
  current_job_index: number | null;
  completed: boolean;
}

export interface JobRunDeps {
  cwd: string;
  env: NodeJS.ProcessEnv;
  now: () => Date;
  exec: Executor;
  /** Progress lines (stderr). */
  status?: (line: string) => void;
}

export interface JobRunOptions {
  job: Job;
  file: string;
  mode: ExecMode;
  policy: PolicyConfig & { timeout_s: number };
  jobLoop: JobLoopInfo;
  payload?: SanitisedPayload;
  /** A job-level failure found before any step ran (e.g. a required job_input missing). */
  preflightError?: string;
}

export interface JobRunResult {
  job_id: string;
  file: string;
  kind: Job['kind'];
  mode: ExecMode;
  phase: JobPhase;
  end_reason: string;
  reports_dir: string;
  step_count: number;
  latest_step: string | null;
  last_step: number | null;
  summary: PhaseSummary;
  resumed: boolean;
}

/**
 * The steps of a job. Apply jobs hand over to the deploy command (`vpm apply OVERLAY`), or with
 * `apply.lane: kubectl` run kubectl diff → apply → get; either way through the policy.
 */
export function stepsOf(job: Job): RunnerStep[] {
  const steps: RunnerStep[] = [];
  if (job.kind === 'apply' && job.apply) {
    const target = ['-f', job.apply.overlay];
    const scope = [...(job.apply.context ? ['--context', job.apply.context] : []), ...(job.apply.namespace ? ['-n', job.apply.namespace] : [])];
    if (job.apply.lane !== 'kubectl') {
      steps.push({ name: 'vpm apply', argv: ['vpm', 'apply', job.apply.overlay, ...scope], vpm_handover: true });
    } else steps.push(
      // kubectl diff exits 1 when there are differences: that is not a failure.
      { name: 'kubectl diff', argv: ['kubectl', 'diff', ...target, ...scope], ok_exit_codes: [0, 1], apply_log: true },
      { name: 'kubectl apply', argv: ['kubectl', 'apply', '--server-side', '--field-manager=vpm', ...target, ...scope], apply_log: true },
      { name: 'kubectl get', argv: ['kubectl', 'get', ...target, '-o', 'yaml', ...scope], apply_log: true, stdout_file: 'after.yaml' },
    );
  }
  for (const s of job.steps ?? []) steps.push(s);
  return steps;
}

function displayCommand(step: RunnerStep, env: NodeJS.ProcessEnv): string {
  // Each word is masked before it is quoted: quoting escapes the context (`'"'"'`) the masker reads.
  return (step.argv ? step.argv.map((a) => shellQuote(maskSecrets(a, env))).join(' ') : maskSecrets(step.command ?? '', env)).replace(/[\r\n]+/g, ' ');
}

/** What is actually executed: leading VAR=value words become environment, strings become words. */
function execArgv(step: RunnerStep): { argv: string[]; env: Record<string, string> } {
  let words: string[];
  if (step.argv) words = step.argv;
  else if (needsShell(step.command!)) return { argv: ['sh', '-c', step.command!], env: {} }; // allowlisted verbatim
  else words = commandWords(step.command!);
  const env: Record<string, string> = {};
  let i = 0;
  while (i < words.length - 1 && /^[A-Za-z_][A-Za-z0-9_]*=/.test(words[i])) {
    const eq = words[i].indexOf('=');
    env[words[i].slice(0, eq)] = words[i].slice(eq + 1);
    i++;
  }
  return { argv: words.slice(i), env };
}

/**
 * After `vpm apply --json`: its run id and reports folder (from the result or the error details),
 * and its apply.log / after.yaml copied into the job's folder, where the S5 evidence is expected.
 */
async function collectHandover(
  stdout: string,
  cwd: string,
  paths: JobPaths,
  write: (path: string, data: string) => Promise<void>,
): Promise<{ run_id: string | null; reports_dir: string | null; status: string | null } | undefined> {
  let doc: { run_id?: string; reports_dir?: string; status?: string; error?: { details?: { run_id?: string; reports_dir?: string } } };
  try {
    doc = JSON.parse(stdout);
  } catch {
    return undefined;
  }
  const runId = doc.run_id ?? doc.error?.details?.run_id ?? null;
  const reportsDir = doc.reports_dir ?? doc.error?.details?.reports_dir ?? null;
  if (reportsDir && !reportsDir.split(/[\\/]/).includes('..')) {
    for (const [from, to] of [['apply.log', paths.applyLog], ['after.yaml', paths.afterYaml]] as const) {
      try {
        await write(to, readFileSync(join(cwd, reportsDir, from), 'utf8'));
      } catch {
        // vpm apply failed before writing it: the step log says why.
      }
    }
  }
  return { run_id: runId, reports_dir: reportsDir, status: doc.status ?? (doc.error ? 'failed' : null) };
}

/** vpm's own credentials are not handed to the programs a job runs. */
const WITHHELD_ENV = new Set(['GITHUB_TOKEN', 'GH_TOKEN', 'VPM_LLM_API_KEY', 'OPENAI_API_KEY', 'ANTHROPIC_API_KEY']);

function stepEnvironment(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(env)) if (!WITHHELD_ENV.has(k)) out[k] = v;
  return out;
}

/** The last `max` characters of a step's output, masked as a whole first (a cut can hide a key's BEGIN line). */
function maskedTail(text: string, env: NodeJS.ProcessEnv, max = 4000): string {
  const masked = maskSecrets(text, env);
  return masked.length > max ? `…${masked.slice(-max)}` : masked;
}

function readJson<T>(path: string): T | undefined {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

export function readJobState(cwd: string, jobId: string): JobPhaseState | undefined {
  return readJson<JobPhaseState>(jobPaths(cwd, jobId).phaseState);
}

export function readPhaseSummary(cwd: string, jobId: string): PhaseSummary | undefined {
  return readJson<PhaseSummary>(jobPaths(cwd, jobId).phaseSummary);
}

function freshState(o: JobRunOptions, steps: RunnerStep[], startedAt: string): JobPhaseState {
  return {
    v: 1,
    job_id: o.job.id,
    job_file: o.file,
    kind: o.job.kind,
    mode: o.mode,
    current_phase: 'running',
    step_count: steps.length,
    next_step: 1,
    steps: steps.map((s, i) => ({ step: i + 1, name: s.name, outcome: 'pending', mode: o.mode })),
    job_index: o.jobLoop.enabled ? o.jobLoop.current_job_index : null,
    finished: false,
    end_reason: null,
    started_at: startedAt,
    updated_at: startedAt,
    attempts: 1,
  };
}

let tmpCounter = 0;

/**
 * Writers for one job's reports. Always atomic (temp file + rename: a killed runner never leaves a
 * torn file). EXEC runs also fsync, because the state then records real side effects; a DRY run
 * changed nothing, so losing its last reports to a power cut only means the dry run is redone.
 */
function reportWriters(durable: boolean) {
  if (durable) return { json: writeJsonAtomic, text: writeFileAtomic, append: appendDurable };
  const text = async (path: string, data: string) => {
    assertSafePath(path);
    const tmp = `${path}.${process.pid}.${++tmpCounter}.tmp`;
    writeFileSync(tmp, data);
    renameSync(tmp, path);
  };
  return {
    json: (path: string, value: unknown) => text(path, `${JSON.stringify(value, null, 2)}\n`),
    text,
    append: (path: string, data: string) => {
      assertSafePath(path);
      appendFileSync(path, data);
    },
  };
}

/** Runs (or resumes) one job and writes its reports. Never throws for a step's failure. */
export async function runJob(o: JobRunOptions, deps: JobRunDeps): Promise<JobRunResult> {
  const paths = jobPaths(deps.cwd, o.job.id);
  // The run folder is created and written below with plain fs calls in dry mode: check it first.
  assertSafePath(paths.runLog);
  assertSafePath(join(paths.stepsDir, stepFileName(1)));
  mkdirSync(paths.stepsDir, { recursive: true });
  const steps = stepsOf(o.job);
  const nowIso = () => deps.now().toISOString();
  const { json: writeJsonAtomic, text: writeFileAtomic, append: appendDurable } = reportWriters(o.mode === 'exec');
  const log = (line: string) => appendDurable(paths.runLog, `${nowIso()} ${maskSecrets(line, deps.env)}\n`);

  let state = readPhaseStateFile<JobPhaseState>(paths.phaseState, deps.cwd, deps.now());
  const resumed = Boolean(state && !state.finished && state.step_count === steps.length);
  if (!state || !resumed) {
    state = freshState(o, steps, nowIso());
    await writeJsonAtomic(paths.jobCopy, maskValue(o.job, deps.env));
    log(`[START] job ${o.job.id} (${o.job.kind}, ${steps.length} step(s), mode ${o.mode})`);
  } else {
    state.attempts += 1;
    state.mode = o.mode;
    log(`[RESUME] job ${o.job.id} at step ${state.next_step} (attempt ${state.attempts}, mode ${o.mode})`);
  }
  const saveState = () => {
    state!.updated_at = nowIso();
    return writeJsonAtomic(paths.phaseState, state);
  };
  await saveState();

  let halted: { outcome: 'deny' | 'fatal_error'; step: number; reason: string } | undefined;
  if (o.preflightError) {
    halted = { outcome: 'fatal_error', step: 0, reason: o.preflightError };
    log(`[FATAL] ${o.preflightError}`);
  }

  for (let i = 0; i < steps.length; i++) {
    const n = i + 1;
    const step = steps[i];
    const prev = state.steps[i];
    // Exactly once: a step that completed for real is never run again; a dry "done" is redone
    // only when this run executes for real.
    if (prev.outcome === 'done' && (prev.mode === 'exec' || o.mode === 'dry') && resumed) continue;
    const stepFile = join(paths.stepsDir, stepFileName(n));
    const started = nowIso();
    const base = {
      v: 1 as const,
      job_id: o.job.id,
      step: n,
      name: step.name,
      mode: o.mode,
      argv: step.argv ? step.argv.map((a) => maskSecrets(a, deps.env)) : undefined,
      command: step.command !== undefined ? maskSecrets(step.command, deps.env) : undefined,
      job_loop_enabled: o.jobLoop.enabled,
      job_name: o.jobLoop.job_name,
      job_index: o.jobLoop.current_job_index,
      job_payload: o.payload?.text ?? null,
      started_at: started,
    };
    const display = displayCommand(step, deps.env);

    if (halted) {
      await writeJsonAtomic(stepFile, {
        ...base,
        phase: 'stopped',
        outcome: 'stopped',
        stopped: true,
        stopped_because: `step ${halted.step === 0 ? '(preflight)' : halted.step} ended ${halted.outcome}`,
        decision: null,
        matched_rule: null,
        normalized_argv: null,
        finished_at: nowIso(),
      });
      log(`[STOPPED] ${display}`);
      state.steps[i] = { step: n, name: step.name, outcome: 'stopped', mode: o.mode };
      state.next_step = n + 1;
      await saveState();
      continue;
    }

    const decision: PolicyDecision = evaluatePolicy(step.argv ? { argv: step.argv } : { command: step.command! }, o.policy);
    const decisionFields = {
      decision: decision.decision,
      matched_rule: maskSecrets(decision.matched_rule, deps.env),
      normalized_argv: decision.normalized_argv.map((a) => maskSecrets(a, deps.env)),
      normalized_commands: decision.normalized_commands.map((c) => c.map((a) => maskSecrets(a, deps.env))),
    };

    if (decision.decision === 'deny') {
      log(`[DENY] ${display} (${decisionFields.matched_rule})`);
      await writeJsonAtomic(stepFile, { ...base, ...decisionFields, phase: 'deny', outcome: 'deny', stopped: false, executed: false, finished_at: nowIso() });
      state.steps[i] = { step: n, name: step.name, outcome: 'deny', mode: o.mode };
      state.next_step = n + 1;
      if (o.policy.stop_on_deny) halted = { outcome: 'deny', step: n, reason: decisionFields.matched_rule };
      await saveState();
      continue;
    }

    if (o.mode === 'dry') {
      log(`[DRY] ${display}`);
      await writeJsonAtomic(stepFile, { ...base, ...decisionFields, phase: 'done', outcome: 'done', stopped: false, executed: false, finished_at: nowIso() });
      state.steps[i] = { step: n, name: step.name, outcome: 'done', mode: 'dry' };
      state.next_step = n + 1;
      await saveState();
      continue;
    }

    // EXEC: record that the step is running before starting it (a crash now re-runs this step only).
    state.steps[i] = { step: n, name: step.name, outcome: 'running', mode: 'exec' };
    state.next_step = n;
    await saveState();
    const { argv: plainArgv, env: stepEnv } = execArgv(step);
    const argv = step.vpm_handover && plainArgv[0] === 'vpm' ? [process.execPath, VPM_ENTRY, '--cwd', deps.cwd, '--json', ...plainArgv.slice(1)] : plainArgv;
    const timeoutS = step.timeout_s ?? o.policy.timeout_s;
    deps.status?.(`[EXEC] ${display}`);
    const r = await deps.exec({
      argv,
      cwd: deps.cwd,
      env: {
        ...stepEnvironment(deps.env),
        ...stepEnv,
        VPM_JOB_ID: o.job.id,
        VPM_STEP: String(n),
        ...(o.payload ? { VPM_JOB_PAYLOAD: o.payload.text } : {}),
      },
      timeoutMs: Math.round(timeoutS * 1000),
    });
    const okCodes = step.ok_exit_codes ?? [0];
    const ok = r.spawnError === undefined && !r.timedOut && r.exitCode !== null && okCodes.includes(r.exitCode);
    const exitText = r.spawnError ? `spawn failed: ${r.spawnError}` : r.timedOut ? `timeout after ${timeoutS}s` : r.exitCode === null ? `killed by ${r.signal}` : `exit ${r.exitCode}`;
    log(`[EXEC] ${display} → ${r.exitCode === null ? exitText : `exit ${r.exitCode}${r.timedOut ? ` (timeout after ${timeoutS}s)` : ''}`}`);
    if (step.apply_log) {
      appendDurable(paths.applyLog, maskSecrets(`$ ${display}\n${r.stdout}${r.stderr}\n→ ${exitText}\n\n`, deps.env));
    }
    if (step.stdout_file === 'after.yaml' && ok) await writeFileAtomic(paths.afterYaml, maskSecrets(r.stdout, deps.env));
    const handover = step.vpm_handover ? await collectHandover(r.stdout, deps.cwd, paths, writeFileAtomic) : undefined;
    const outcome: StepOutcome = ok ? 'done' : 'fatal_error';
    await writeJsonAtomic(stepFile, {
      ...base,
      ...decisionFields,
      phase: outcome,
      outcome,
      stopped: false,
      executed: true,
      exit_code: r.exitCode,
      signal: r.signal,
      timed_out: r.timedOut,
      timeout_s: timeoutS,
      error: ok ? null : exitText,
      ok_exit_codes: okCodes,
      duration_ms: r.durationMs,
      ...(step.vpm_handover ? { executed_argv: argv.map((a) => maskSecrets(a, deps.env)), handover: handover ?? null } : {}),
      stdout_tail: maskedTail(r.stdout, deps.env),
      stderr_tail: maskedTail(r.stderr, deps.env),
      finished_at: nowIso(),
    });
    state.steps[i] = { step: n, name: step.name, outcome, mode: 'exec' };
    state.next_step = n + 1;
    if (!ok) halted = { outcome: 'fatal_error', step: n, reason: exitText };
    await saveState();
  }

  // Outcome of the job.
  const refs = (outcome: StepOutcome): StepRef[] =>
    state!.steps
      .filter((s) => s.outcome === outcome)
      .map((s) => {
        const rec = readJson<{ matched_rule?: string; exit_code?: number | null }>(join(paths.stepsDir, stepFileName(s.step)));
        return {
          step: s.step,
          name: s.name,
          file: `steps/${stepFileName(s.step)}`,
          ...(outcome === 'deny' && rec?.matched_rule ? { matched_rule: rec.matched_rule } : {}),
          ...(outcome === 'fatal_error' && rec ? { exit_code: rec.exit_code ?? null } : {}),
        };
      });
  const denied = refs('deny');
  const fatal = refs('fatal_error');
  const stopped = refs('stopped');
  const doneCount = state.steps.filter((s) => s.outcome === 'done').length;
  let phase: JobPhase;
  let endReason: string;
  if (o.preflightError) {
    phase = 'fatal_error';
    endReason = `fatal_error: ${o.preflightError}`;
  } else if (fatal.length > 0) {
    phase = 'fatal_error';
    endReason = `fatal_error: step ${fatal[0].step} (${fatal[0].name}) ${halted?.outcome === 'fatal_error' ? halted.reason : 'failed'}`;
  } else if (denied.length > 0) {
    phase = 'deny';
    endReason = o.policy.stop_on_deny
      ? `deny: step ${denied[0].step} (${denied[0].name}) ${denied[0].matched_rule ?? ''}`.trim()
      : `deny: ${denied.length} step(s) denied, ${doneCount} done (stop_on_deny=false)`;
  } else {
    phase = 'done';
    endReason = o.jobLoop.enabled && o.jobLoop.current_job_index !== null
      ? `done (job ${o.jobLoop.current_job_index}/${o.jobLoop.max_jobs} completed)`
      : steps.length === 0
        ? 'done (no steps)'
        : `done (${doneCount}/${steps.length} steps)`;
  }
  const finishedAt = nowIso();
  const summary: PhaseSummary = {
    v: 1,
    job_id: o.job.id,
    kind: o.job.kind,
    mode: o.mode,
    current_phase: phase,
    end_reason: endReason,
    step_count: steps.length,
    done_count: doneCount,
    success_count: doneCount,
    denied_steps: denied,
    denied_count: denied.length,
    fatal_error_steps: fatal,
    fatal_error_count: fatal.length,
    stopped_steps: stopped,
    stopped_count: stopped.length,
    stop_on_deny: o.policy.stop_on_deny,
    job_loop_enabled: o.jobLoop.enabled,
    job_loop: o.jobLoop,
    job_payload_present: Boolean(o.payload),
    job_payload_size: o.payload?.size ?? 0,
    started_at: state.started_at,
    finished_at: finishedAt,
  };
  await writeJsonAtomic(paths.phaseSummary, summary);
  state.current_phase = phase;
  state.finished = true;
  state.end_reason = endReason;
  state.next_step = steps.length + 1;
  await saveState();
  log(`[END] ${endReason}`);
  const lastStep = steps.length > 0 ? steps.length : null;
  return {
    job_id: o.job.id,
    file: o.file,
    kind: o.job.kind,
    mode: o.mode,
    phase,
    end_reason: endReason,
    reports_dir: relative(deps.cwd, paths.dir),
    step_count: steps.length,
    latest_step: lastStep ? stepFileName(lastStep) : null,
    last_step: lastStep,
    summary,
    resumed,
  };
}

export function jobReportsExist(cwd: string, jobId: string): boolean {
  return existsSync(jobPaths(cwd, jobId).dir);
}

export type { JobPaths };
