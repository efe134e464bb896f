/**
 * `vpm healthcheck`: tests → Mermaid diagrams (validate + export SVG) → goal coverage (δ) → lag →
 * quality, then the three reports (reports/coverage.json, lag.json, quality.json). The reports are
 * written whether or not a check is red; a copy of each run is kept, never overwritten, under
 * reports/healthcheck/<run_id>/.
 */
import { join } from 'node:path';
import { VpmError } from '../core/errors.js';
import { writeJsonAtomic } from '../core/fs.js';
import { checkAndExportDiagrams, formatDiagramProblem, type DiagramsOutcome } from '../diagrams/export.js';
import { newRunId, writeEvidence } from '../evidence/write.js';
import { readState, STATE_FILE } from '../memory/state-doc.js';
import { CoverageReport, LagReport, QualityReport } from '../schemas/healthcheck-report.js';
import type { ProjectState } from '../schemas/state.js';
import { computeGoalCoverage, HEALTHCHECK_OUTPUTS, readTestCoverage, REPORTS_DIR } from './coverage.js';
import { computeLag } from './lag.js';
import { checkReports, checkSummaries } from './quality.js';
import { runTestCommand, type TestRunResult } from './tests.js';

type CheckStatus = 'ok' | 'warn' | 'red' | 'skipped';

export interface HealthcheckOptions {
  cwd: string;
  env: NodeJS.ProcessEnv;
  now: () => Date;
  /** The test command, or null to skip the tests. */
  testCommand: string | null;
  /** Why the tests are skipped (default: --no-test). */
  testsNote?: string;
  testTimeoutMs: number;
  diagrams: boolean;
  /** Goal coverage below this ratio is red (default 0: gaps are reported, not failed). */
  minGoalCoverage: number;
  coverageSummary: string;
  status: (line: string) => void;
  onTestOutput?: (chunk: string) => void;
}

interface CheckSummary {
  name: 'tests' | 'diagrams' | 'coverage' | 'lag' | 'quality';
  status: CheckStatus;
  detail: string;
  problems: string[];
}

export interface HealthcheckResult {
  ok: boolean;
  run_id: string;
  checks: CheckSummary[];
  reports: { coverage: string; lag: string; quality: string };
  history: string;
}

const ms = (v: number | null) => (v === null ? '–' : v < 1000 ? `${v} ms` : `${(v / 1000).toFixed(1)} s`);

export async function runHealthcheck(opts: HealthcheckOptions): Promise<HealthcheckResult> {
  const startedAt = opts.now();
  const runId = newRunId('healthcheck', startedAt);
  const checks: CheckSummary[] = [];

  // 1. Tests.
  let tests: TestRunResult | null = null;
  let testsNote: string | null = null;
  if (opts.testCommand === null) {
    testsNote = opts.testsNote ?? 'skipped (--no-test)';
    checks.push({ name: 'tests', status: 'skipped', detail: testsNote, problems: [] });
  } else {
    opts.status(`healthcheck: running tests: ${opts.testCommand}`);
    tests = await runTestCommand({
      cwd: opts.cwd,
      env: opts.env,
      command: opts.testCommand,
      timeoutMs: opts.testTimeoutMs,
      onOutput: opts.onTestOutput,
    });
    const how = tests.timed_out ? `timed out after ${ms(tests.duration_ms)}` : `exit ${tests.exit_code} in ${ms(tests.duration_ms)}`;
    checks.push({
      name: 'tests',
      status: tests.ok ? 'ok' : 'red',
      detail: `${opts.testCommand}: ${how}`,
      problems: tests.ok ? [] : [`tests failed: ${opts.testCommand} (${how})`, ...tests.output_tail.slice(-5).map((l) => `  ${l}`)],
    });
  }

  // 2. Diagrams.
  let diagrams: DiagramsOutcome & { error: string | null; skipped: boolean } = {
    checked: 0,
    invalid: [],
    exported: [],
    unchanged: [],
    error: null,
    skipped: !opts.diagrams,
  };
  if (opts.diagrams) {
    opts.status('healthcheck: validating Mermaid diagrams');
    try {
      diagrams = { ...(await checkAndExportDiagrams({ cwd: opts.cwd, env: opts.env, write: true })), error: null, skipped: false };
    } catch (err) {
      if (!(err instanceof VpmError)) throw err;
      diagrams.error = `${err.message}${err.hint ? ` (${err.hint})` : ''}`;
    }
    const bad = diagrams.invalid.map(formatDiagramProblem);
    checks.push({
      name: 'diagrams',
      status: diagrams.error || bad.length ? 'red' : 'ok',
      detail: diagrams.error ?? `${diagrams.checked} checked, ${diagrams.invalid.length} invalid, ${diagrams.exported.length} exported`,
      problems: diagrams.error ? [diagrams.error] : bad,
    });
  } else {
    checks.push({ name: 'diagrams', status: 'skipped', detail: 'skipped (--no-diagrams)', problems: [] });
  }

  // 3. Goal coverage (δ) and test coverage.
  let goals: ProjectState['goals'] = [];
  let goalsError: string | null = null;
  try {
    goals = (await readState(opts.cwd)).goals;
  } catch (err) {
    if (!(err instanceof VpmError)) throw err;
    goalsError = err.message;
  }
  const coverage = computeGoalCoverage(opts.cwd, goals);
  const testCoverage = readTestCoverage(opts.cwd, opts.coverageSummary);
  const belowMin = coverage.ratio !== null && coverage.ratio < opts.minGoalCoverage;
  const coverageStatus: CheckStatus = goalsError || belowMin ? 'red' : coverage.gaps.length ? 'warn' : 'ok';
  checks.push({
    name: 'coverage',
    status: coverageStatus,
    detail: goalsError
      ? goalsError
      : `${coverage.covered}/${coverage.total} goals have evidence${coverage.ratio === null ? '' : ` (${Math.round(coverage.ratio * 100)}%)`}${coverage.gaps.length ? `; gaps: ${coverage.gaps.map((g) => g.id).join(', ')}` : ''}`,
    problems: goalsError ? [goalsError] : belowMin ? [`goal coverage ${coverage.ratio} is below the minimum ${opts.minGoalCoverage}`] : [],
  });

  // 4. Lag.
  const lag = computeLag(opts.cwd);
  const lagData = lag.chat_to_summary.count + lag.summary_to_digest.count > 0;
  checks.push({
    name: 'lag',
    status: lagData ? 'ok' : 'skipped',
    detail: lagData
      ? `chat→summary p50 ${ms(lag.chat_to_summary.p50_ms)} p95 ${ms(lag.chat_to_summary.p95_ms)} max ${ms(lag.chat_to_summary.max_ms)}; summary→digest p50 ${ms(lag.summary_to_digest.p50_ms)} p95 ${ms(lag.summary_to_digest.p95_ms)} max ${ms(lag.summary_to_digest.max_ms)}`
      : 'no summarised chat yet',
    problems: [],
  });

  // 5. Quality.
  const summaries = checkSummaries(opts.cwd);
  const reports = await checkReports(opts.cwd, HEALTHCHECK_OUTPUTS);
  const qualityProblems = [
    ...(summaries.error ? [summaries.error] : []),
    ...summaries.over_cap.map((o) => `memory.json: summary ${o.id} has ${o.graphemes} graphemes (max ${summaries.max_graphemes})`),
    ...reports.invalid.map((r) => `${r.file}: ${r.problem === 'not_json' ? `not valid JSON: ${r.message}` : r.message}`),
  ];
  checks.push({
    name: 'quality',
    status: qualityProblems.length ? 'red' : 'ok',
    detail: `${summaries.checked} summaries (${summaries.over_cap.length} over ${summaries.max_graphemes}), ${reports.checked} reports (${reports.invalid.length} invalid, ${reports.schema_checked} schema-checked)`,
    problems: qualityProblems,
  });

  // 6. Reports (written either way).
  const status = (...names: CheckSummary['name'][]): CheckStatus => {
    const s = checks.filter((c) => names.includes(c.name)).map((c) => c.status);
    return s.includes('red') ? 'red' : s.includes('warn') ? 'warn' : s.every((x) => x === 'skipped') ? 'skipped' : 'ok';
  };
  const finishedAt = opts.now();
  const common = { cwd: opts.cwd, runId, startedAt, finishedAt, env: opts.env };
  const written = {
    coverage: await writeEvidence({
      ...common,
      kind: CoverageReport,
      path: `${runId}/coverage.json`,
      status: status('coverage', 'tests'),
      body: {
        state_file: STATE_FILE.split('\\').join('/'),
        goals: {
          total: coverage.total,
          covered: coverage.covered,
          ratio: coverage.ratio,
          min_ratio: opts.minGoalCoverage,
          items: coverage.items,
          gaps: coverage.gaps,
          error: goalsError,
        },
        evidence_scan: { root: REPORTS_DIR, files: coverage.scanned, excluded: coverage.excluded },
        tests,
        tests_note: testsNote,
        test_coverage: testCoverage.totals,
        test_coverage_note: testCoverage.note,
      },
    }),
    lag: await writeEvidence({
      ...common,
      kind: LagReport,
      path: `${runId}/lag.json`,
      status: lagData ? 'ok' : 'no_data',
      body: { ...lag },
    }),
    quality: await writeEvidence({
      ...common,
      kind: QualityReport,
      path: `${runId}/quality.json`,
      status: status('quality', 'diagrams'),
      body: {
        summaries,
        reports,
        diagrams: {
          checked: diagrams.checked,
          invalid: diagrams.invalid,
          exported: [...diagrams.exported, ...diagrams.unchanged].sort(),
          error: diagrams.error,
          skipped: diagrams.skipped,
        },
      },
    }),
  };
  const latest = { coverage: 'reports/coverage.json', lag: 'reports/lag.json', quality: 'reports/quality.json' };
  for (const key of ['coverage', 'lag', 'quality'] as const) await writeJsonAtomic(join(opts.cwd, latest[key]), written[key].document);

  return {
    ok: !checks.some((c) => c.status === 'red'),
    run_id: runId,
    checks,
    reports: latest,
    history: `${CoverageReport.dir}/${runId}/`,
  };
}

export function renderHealthcheck(r: HealthcheckResult): string {
  const lines = [`healthcheck ${r.ok ? 'OK' : 'RED'} (${r.run_id})`];
  for (const c of r.checks) {
    lines.push(`  ${c.name.padEnd(9)} ${c.status.padEnd(7)} ${c.detail}`);
    for (const p of c.problems) lines.push(`      ${p}`);
  }
  lines.push(`reports: ${Object.values(r.reports).join(' ')} (this run also under ${r.history})`);
  return lines.join('\n');
}
