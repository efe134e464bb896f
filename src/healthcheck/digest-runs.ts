/**
 * `.ops/digest_runs.jsonl`: one line per `vpm digest` run (when it wrote, for which day/session), so
 * the healthcheck can measure summary → digest lag. Appended under a lock; never rewritten.
 */
import { join } from 'node:path';
import { appendLines } from '../core/fs.js';
import { readJsonLines } from './files.js';

export const DIGEST_RUNS_FILE = join('.ops', 'digest_runs.jsonl');

export interface DigestRun {
  ts: string;
  date: string;
  session: string | null;
  digest: string;
  entries: number;
}

export async function recordDigestRun(cwd: string, run: DigestRun): Promise<void> {
  const path = join(cwd, DIGEST_RUNS_FILE);
  await appendLines(path, `${JSON.stringify(run)}\n`, { what: DIGEST_RUNS_FILE });
}

export function readDigestRuns(cwd: string): DigestRun[] {
  return readJsonLines(join(cwd, DIGEST_RUNS_FILE)).filter(
    (r): r is DigestRun =>
      !!r && typeof r === 'object' && typeof (r as DigestRun).ts === 'string' && !Number.isNaN(Date.parse((r as DigestRun).ts)),
  );
}
