import { resolve } from 'node:path';
import { emptyJobLoop, writeSummaryFile, type RunSummary } from '../core/summary-file.js';
import { VpmError } from '../core/errors.js';

export interface GitRunOutcome {
  phase: 'checkpoint' | 'rollback';
  /** The commit the command ended on (the checkpoint, or the rollback target). */
  step: string | null;
  done: boolean;
  /** The last stage reached: e.g. `commit`, `reset`, `test`, or the stage that refused. */
  latest_step: string | null;
  step_count: number;
  end_reason: string;
}

/** `--summary-file` for checkpoint/rollback: the runner's format, with the job fields empty. */
function gitRunSummary(o: GitRunOutcome): RunSummary {
  return {
    ...o,
    phase_summary_exists: false,
    job_result_exists: false,
    job_result_written: false,
    job_result_path: null,
    job_payload_present: false,
    job_payload_size: 0,
    job_loop: emptyJobLoop(),
  };
}

export function failureReason(err: unknown): string {
  const kind = err instanceof VpmError ? ({ 2: 'usage', 3: 'refused', 5: 'timeout' }[err.exitCode as 2 | 3 | 5] ?? 'failed') : 'failed';
  return `${kind}: ${(err as Error)?.message?.split('\n')[0] ?? String(err)}`;
}

export async function writeGitSummary(cwd: string, path: string | undefined, o: GitRunOutcome): Promise<void> {
  if (!path) return;
  await writeSummaryFile(resolve(cwd, path), gitRunSummary(o));
}
