/**
 * `--summary-file PATH`: a machine-readable record of where a run ended, for CI steps. Writes PATH
 * (JSON) and the same name with `.txt` (one `key=value` line). Shared by run, checkpoint and rollback.
 */
import { writeFileAtomic, writeJsonAtomic } from './fs.js';
import { maskValue } from './secrets.js';

export interface JobLoopSummary {
  enabled: boolean;
  max_jobs: number | null;
  job_index: number | null;
  completed: boolean;
  /** The runner's job loop also reports these (TOS field names). */
  job_name?: string | null;
  current_job_index?: number | null;
}

export interface RunSummary {
  phase: string;
  step: string | null;
  done: boolean;
  /** Set by a dry `vpm run`: a preview, nothing executed or consumed (`done` is then false). */
  dry_run?: boolean;
  latest_step: string | null;
  step_count: number;
  phase_summary_exists: boolean;
  job_result_exists: boolean;
  job_result_written: boolean;
  job_result_path: string | null;
  job_payload_present: boolean;
  job_payload_size: number;
  job_loop: JobLoopSummary;
  end_reason: string;
}

export function emptyJobLoop(): JobLoopSummary {
  return { enabled: false, max_jobs: null, job_index: null, completed: false };
}

/** The `.txt` companion: one line, values without spaces so `read`/`cut` can take it apart. */
function summaryLine(s: RunSummary): string {
  const v = (x: unknown) => (x === null || x === undefined || x === '' ? 'none' : String(x).replace(/\s+/g, '_'));
  return [
    `phase=${v(s.phase)}`,
    `step=${v(s.step)}`,
    `done=${s.done}`,
    ...(s.dry_run ? ['dry_run=true'] : []),
    `latest_step=${v(s.latest_step)}`,
    `step_count=${s.step_count}`,
    `phase_summary=${s.phase_summary_exists ? 'exists' : 'none'}`,
    `job_result=${s.job_result_exists ? 'exists' : 'none'}`,
    ...(s.job_result_exists && s.job_result_path ? [`job_result_path=${v(s.job_result_path)}`] : []),
    `job_result_written=${s.job_result_written}`,
    `job_payload=${s.job_payload_present ? 'present' : 'none'}`,
    `job_payload_size=${s.job_payload_size}`,
    `job_loop=${s.job_loop.enabled ? 'enabled' : 'disabled'}`,
    ...(s.job_loop.enabled ? [`job_name=${v(s.job_loop.job_name)}`] : []),
    `job_index=${v(s.job_loop.job_index)}`,
    ...(s.job_loop.enabled ? [`max_jobs=${v(s.job_loop.max_jobs)}`] : []),
    `end_reason=${v(s.end_reason)}`,
  ].join(' ');
}

export function summaryTxtPath(jsonPath: string): string {
  return jsonPath.replace(/\.json$/i, '') + '.txt';
}

export async function writeSummaryFile(path: string, given: RunSummary): Promise<void> {
  // end_reason can quote an error message, and an error message a secret.
  const summary = maskValue(given);
  await writeJsonAtomic(path, summary);
  await writeFileAtomic(summaryTxtPath(path), `${summaryLine(summary)}\n`);
}
