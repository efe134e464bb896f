/** Finds the newest evidence file under reports/ (by its envelope's finished_at). */
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { listFiles } from '../healthcheck/files.js';

export interface NewestEvidence {
  file: string;
  kind: string;
  status: string;
  finished_at: string;
  run_id: string;
}

const MAX_BYTES = 8 * 1024 * 1024;

export function newestEvidence(cwd: string): NewestEvidence | null {
  let best: NewestEvidence | null = null;
  for (const file of listFiles(cwd, 'reports', /\.json$/i)) {
    const path = join(cwd, file);
    try {
      if (statSync(path).size > MAX_BYTES) continue;
      const doc = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
      if (typeof doc?.schema !== 'string' || !doc.schema.startsWith('vpm.evidence.') || typeof doc.finished_at !== 'string') continue;
      // Prefer the canonical copy (reports/coverage.json) over its history twin when times tie.
      if (!best || doc.finished_at > best.finished_at || (doc.finished_at === best.finished_at && file.length < best.file.length)) {
        best = { file, kind: String(doc.kind), status: String(doc.status), finished_at: doc.finished_at, run_id: String(doc.run_id) };
      }
    } catch {
      // Unparsable files are the healthcheck's business, not the check-in's.
    }
  }
  return best;
}
