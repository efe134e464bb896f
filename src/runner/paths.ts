import { join } from 'node:path';

/** Where the runner keeps things, relative to the repository root. */
export const INBOX_DIR = join('codex', 'inbox');
export const DONE_DIR = join(INBOX_DIR, '_done');
export const FAILED_DIR = join(INBOX_DIR, '_failed');
export const RUNS_DIR = join('reports', 'codex_runs');
/** Runner-level state (job loop index, last job): one file for the whole inbox. Exec runs only. */
export const RUNNER_STATE = join(RUNS_DIR, 'phase_state.json');
/** A job's dry-run preview, inside its reports folder and apart from the exec state. */
const DRY_SUBDIR = 'dry';

export interface JobPaths {
  dir: string;
  runLog: string;
  stepsDir: string;
  phaseState: string;
  phaseSummary: string;
  jobCopy: string;
  applyLog: string;
  afterYaml: string;
}

/**
 * A job's report files. Exec runs keep theirs at the top of `reports/codex_runs/<job_id>/`: the
 * state there (phase_state.json) decides resume and "already processed", so nothing else may write
 * it. A dry run keeps its step records, state and summary in `<job_id>/dry/` (replaced by every dry
 * run) and appends its `[DRY]` lines to the job's one run.log, so the log reads as the job's history.
 */
export function jobPaths(cwd: string, jobId: string, mode: 'dry' | 'exec' = 'exec'): JobPaths {
  const top = join(cwd, RUNS_DIR, jobId);
  const dir = mode === 'dry' ? join(top, DRY_SUBDIR) : top;
  return {
    dir,
    runLog: join(top, 'run.log'),
    stepsDir: join(dir, 'steps'),
    phaseState: join(dir, 'phase_state.json'),
    phaseSummary: join(dir, 'phase_summary.json'),
    jobCopy: join(dir, 'job.json'),
    applyLog: join(dir, 'apply.log'),
    afterYaml: join(dir, 'after.yaml'),
  };
}

export function stepFileName(n: number): string {
  return `step_${String(n).padStart(3, '0')}.json`;
}
