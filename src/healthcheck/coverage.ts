/**
 * The δ metric: which goals of STATE `## G` have evidence — a report under reports/ (JSON or
 * Markdown) that names the goal id — and the test-coverage totals when a summary exists.
 */
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { ProjectState } from '../schemas/state.js';
import { listFiles } from './files.js';

export const REPORTS_DIR = 'reports';
/** The healthcheck's own outputs name every goal (in their gap lists), so they are never evidence. */
export const HEALTHCHECK_OUTPUTS = ['reports/coverage.json', 'reports/lag.json', 'reports/quality.json'];
const EXCLUDED_PREFIXES = ['reports/healthcheck/'];
const MAX_EVIDENCE_BYTES = 16 * 1024 * 1024;

export interface GoalCoverage {
  total: number;
  covered: number;
  ratio: number | null;
  items: Array<{ id: string; text: string; evidence: string[] }>;
  gaps: Array<{ id: string; text: string }>;
  scanned: number;
  excluded: string[];
}

function goalPattern(id: string): RegExp {
  // G-1 must not match inside G-10 or XG-1.
  return new RegExp(`(?<![A-Za-z0-9_-])${id.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?![0-9])`);
}

export function computeGoalCoverage(cwd: string, goals: ProjectState['goals']): GoalCoverage {
  const files = listFiles(cwd, REPORTS_DIR, /\.(json|md)$/i).filter(
    (f) => !HEALTHCHECK_OUTPUTS.includes(f) && !EXCLUDED_PREFIXES.some((p) => f.startsWith(p)),
  );
  const patterns = goals.map((g) => ({ goal: g, re: goalPattern(g.id), evidence: [] as string[] }));
  for (const file of files) {
    const path = join(cwd, file);
    if (statSync(path).size > MAX_EVIDENCE_BYTES) continue;
    const text = readFileSync(path, 'utf8');
    for (const p of patterns) if (p.re.test(text)) p.evidence.push(file);
  }
  const items = patterns.map((p) => ({ id: p.goal.id, text: p.goal.text, evidence: p.evidence }));
  const covered = items.filter((i) => i.evidence.length > 0).length;
  return {
    total: goals.length,
    covered,
    ratio: goals.length === 0 ? null : Math.round((covered / goals.length) * 10_000) / 10_000,
    items,
    gaps: items.filter((i) => i.evidence.length === 0).map(({ id, text }) => ({ id, text })),
    scanned: files.length,
    excluded: [...HEALTHCHECK_OUTPUTS, ...EXCLUDED_PREFIXES.map((p) => `${p}**`)],
  };
}

export interface TestCoverageTotals {
  source: string;
  lines: { total: number; covered: number; pct: number };
  statements: { total: number; covered: number; pct: number };
  functions: { total: number; covered: number; pct: number };
  branches: { total: number; covered: number; pct: number };
}

/** Reads an istanbul `json-summary` (what `vitest --coverage.reporter=json-summary` and nyc write). */
export function readTestCoverage(cwd: string, summaryPath: string): { totals: TestCoverageTotals | null; note: string | null } {
  let text: string;
  try {
    text = readFileSync(join(cwd, summaryPath), 'utf8');
  } catch {
    return {
      totals: null,
      note: `no test coverage summary at ${summaryPath} (run the tests with an istanbul json-summary reporter to get totals)`,
    };
  }
  try {
    const total = (JSON.parse(text) as { total?: Record<string, { total: number; covered: number; pct: number | string }> }).total;
    if (!total) return { totals: null, note: `${summaryPath} has no "total" section` };
    const metric = (name: string) => {
      const m = total[name] ?? { total: 0, covered: 0, pct: 0 };
      return { total: Number(m.total) || 0, covered: Number(m.covered) || 0, pct: Number(m.pct) || 0 };
    };
    return {
      totals: {
        source: summaryPath,
        lines: metric('lines'),
        statements: metric('statements'),
        functions: metric('functions'),
        branches: metric('branches'),
      },
      note: null,
    };
  } catch (err) {
    return { totals: null, note: `${summaryPath} is not valid JSON: ${(err as Error).message}` };
  }
}
