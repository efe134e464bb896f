import { join } from 'node:path';

/** Where the runner keeps things, relative to the repository root. */
export const INBOX_DIR = join('codex', 'inbox');
export const DONE_DIR = join(INBOX_DIR, '_done');
export const FAILED_DIR = join(INBOX_DIR, '_failed');
export const RUNS_DIR = join('reports', 'codex_runs');
/** Runner-level state (job loop index, last job): one file for the whole inbox. */
export const RUNNER_STATE = join(RUNS_DIR, 'phase_state.json');

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

export function jobPaths(cwd: string, jobId: string): JobPaths {
  const dir = join(cwd, RUNS_DIR, jobId);
  return {
    dir,
    runLog: join(dir, 'run.log'),
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
