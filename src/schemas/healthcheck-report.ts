/**
 * The three reports `vpm healthcheck` writes (reports/coverage.json, lag.json, quality.json), each an
 * evidence file; a copy of every run is kept under reports/healthcheck/<run_id>/.
 */
import { z } from 'zod';
import { defineEvidence } from './evidence.js';

export const HEALTHCHECK_DIR = 'reports/healthcheck';

const TestRun = z.object({
  command: z.string(),
  argv: z.array(z.string()),
  exit_code: z.number().int().nullable(),
  ok: z.boolean(),
  duration_ms: z.number().int().nonnegative(),
  timed_out: z.boolean(),
  /** The last lines of the test output (secrets masked). */
  output_tail: z.array(z.string()),
});

const CoverageMetric = z.object({ total: z.number(), covered: z.number(), pct: z.number() });

export const CoverageReport = defineEvidence('coverage', HEALTHCHECK_DIR, {
  state_file: z.string(),
  /** Goals in STATE `## G` and the reports that name them (the δ metric). */
  goals: z.object({
    total: z.number().int().nonnegative(),
    covered: z.number().int().nonnegative(),
    ratio: z.number().min(0).max(1).nullable(),
    min_ratio: z.number().min(0).max(1),
    items: z.array(z.object({ id: z.string(), text: z.string(), evidence: z.array(z.string()) })),
    gaps: z.array(z.object({ id: z.string(), text: z.string() })),
    /** Set when the goals could not be read (STATE missing or invalid). */
    error: z.string().nullable(),
  }),
  /** Where evidence was looked for, and what was excluded. */
  evidence_scan: z.object({ root: z.string(), files: z.number().int().nonnegative(), excluded: z.array(z.string()) }),
  /** The project's test run; null with --no-test. */
  tests: TestRun.nullable(),
  tests_note: z.string().nullable(),
  /** Totals from an istanbul json-summary (coverage/coverage-summary.json), null when there is none. */
  test_coverage: z
    .object({ source: z.string(), lines: CoverageMetric, statements: CoverageMetric, functions: CoverageMetric, branches: CoverageMetric })
    .nullable(),
  test_coverage_note: z.string().nullable(),
});

const LagStats = z.object({
  count: z.number().int().nonnegative(),
  p50_ms: z.number().nullable(),
  p95_ms: z.number().nullable(),
  max_ms: z.number().nullable(),
});

export const LagReport = defineEvidence('lag', HEALTHCHECK_DIR, {
  /** Chat entry `ts` → `created_at` of the summary whose source range covers it. */
  chat_to_summary: LagStats.extend({ unsummarised: z.number().int().nonnegative(), unmatched_summaries: z.number().int().nonnegative() }),
  /** Summary `created_at` → the first digest run at or after it (.ops/digest_runs.jsonl). */
  summary_to_digest: LagStats.extend({ undigested: z.number().int().nonnegative(), source: z.string(), note: z.string().nullable() }),
});

export const QualityReport = defineEvidence('quality', HEALTHCHECK_DIR, {
  summaries: z.object({
    file: z.string(),
    max_graphemes: z.number().int().positive(),
    checked: z.number().int().nonnegative(),
    over_cap: z.array(z.object({ id: z.string(), graphemes: z.number().int() })),
    error: z.string().nullable(),
  }),
  reports: z.object({
    root: z.string(),
    checked: z.number().int().nonnegative(),
    parsed: z.number().int().nonnegative(),
    schema_checked: z.number().int().nonnegative(),
    invalid: z.array(z.object({ file: z.string(), problem: z.enum(['not_json', 'schema']), message: z.string() })),
    /** Files whose `schema` is a vpm evidence id that no registered kind has. */
    unknown_schema: z.array(z.object({ file: z.string(), schema: z.string() })),
  }),
  diagrams: z.object({
    checked: z.number().int().nonnegative(),
    invalid: z.array(z.object({ file: z.string(), line: z.number().int().nullable(), message: z.string() })),
    exported: z.array(z.string()),
    /** Set when the diagrams could not be checked at all (no Chromium, …). */
    error: z.string().nullable(),
    skipped: z.boolean(),
  }),
});
