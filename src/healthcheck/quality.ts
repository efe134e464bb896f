/**
 * Quality checks: every memory summary within the 400-grapheme cap (counted with Intl.Segmenter,
 * not trusting the stored `chars`), and every reports/**.json parses and — when its `schema` names
 * a registered evidence kind — matches that kind's zod schema.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadEvidenceKinds } from '../evidence/registry.js';
import { evidenceKindBySchemaId } from '../schemas/evidence.js';
import { SUMMARY_MAX_GRAPHEMES } from '../schemas/memory.js';
import { graphemeLength } from '../memory/graphemes.js';
import { listFiles, readMemoryRaw } from './files.js';
import { REPORTS_DIR } from './coverage.js';

export interface SummaryQuality {
  file: string;
  max_graphemes: number;
  checked: number;
  over_cap: Array<{ id: string; graphemes: number }>;
  error: string | null;
}

export interface ReportQuality {
  root: string;
  checked: number;
  parsed: number;
  schema_checked: number;
  invalid: Array<{ file: string; problem: 'not_json' | 'schema'; message: string }>;
  unknown_schema: Array<{ file: string; schema: string }>;
}

export function checkSummaries(cwd: string): SummaryQuality {
  const memory = readMemoryRaw(cwd);
  const over: SummaryQuality['over_cap'] = [];
  let checked = 0;
  memory.entries.forEach((e, i) => {
    if (typeof e.summary !== 'string') return;
    checked++;
    const n = graphemeLength(e.summary);
    if (n > SUMMARY_MAX_GRAPHEMES) over.push({ id: typeof e.id === 'string' ? e.id : `entries[${i}]`, graphemes: n });
  });
  return { file: 'memory.json', max_graphemes: SUMMARY_MAX_GRAPHEMES, checked, over_cap: over, error: memory.error };
}

function issuesText(issues: Array<{ path: PropertyKey[]; message: string }>): string {
  const shown = issues.slice(0, 5).map((i) => `${i.path.map(String).join('.') || '(root)'}: ${i.message}`);
  return shown.join('; ') + (issues.length > 5 ? `; … ${issues.length - 5} more` : '');
}

/** `skip`: files about to be rewritten by this run (the healthcheck's own latest reports). */
export async function checkReports(cwd: string, skip: string[] = []): Promise<ReportQuality> {
  await loadEvidenceKinds();
  const files = listFiles(cwd, REPORTS_DIR, /\.json$/i).filter((f) => !skip.includes(f));
  const out: ReportQuality = { root: REPORTS_DIR, checked: files.length, parsed: 0, schema_checked: 0, invalid: [], unknown_schema: [] };
  for (const file of files) {
    let doc: unknown;
    try {
      doc = JSON.parse(readFileSync(join(cwd, file), 'utf8'));
    } catch (err) {
      out.invalid.push({ file, problem: 'not_json', message: (err as Error).message });
      continue;
    }
    out.parsed++;
    const schemaId = doc && typeof doc === 'object' && !Array.isArray(doc) ? (doc as { schema?: unknown }).schema : undefined;
    if (typeof schemaId !== 'string') continue;
    const kind = evidenceKindBySchemaId(schemaId);
    if (!kind) {
      if (schemaId.startsWith('vpm.')) out.unknown_schema.push({ file, schema: schemaId });
      continue;
    }
    out.schema_checked++;
    const parsed = kind.schema.safeParse(doc);
    if (!parsed.success)
      out.invalid.push({ file, problem: 'schema', message: `does not match ${schemaId}: ${issuesText(parsed.error.issues)}` });
  }
  return out;
}
