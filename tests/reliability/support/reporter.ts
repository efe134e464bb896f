/**
 * vitest reporter of `npm run test:reliability`: gathers the trial records every case left in its
 * test's meta, prints one line per area and `RELIABILITY: <trials> trials, <failures> failures`, and
 * writes reports/reliability/<run_id>.json (trials per area and case, every failure with details).
 *
 * A failure is a trial that broke an invariant, a test that failed outside its trials (harness error),
 * an unhandled error, or — in a whole run (every crash file, nothing skipped) — crash trials below
 * the issue's minimum of 200.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { basename, join, resolve } from 'node:path';
import type { Reporter, TestModule } from 'vitest/node';
import { AREAS, type Area, type CaseRecord, type FailureRecord } from './ledger.ts';

const REPO_ROOT = resolve(import.meta.dirname, '..', '..', '..');
const CRASH_MINIMUM = 200;

function areaOfFile(moduleId: string): Area {
  const prefix = basename(moduleId).split(/[-.]/)[0] as Area;
  return AREAS.includes(prefix) ? prefix : 'fault';
}

function git(args: string[]): string | null {
  try {
    return execFileSync('git', args, { cwd: REPO_ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return null;
  }
}

export default class ReliabilityReporter implements Reporter {
  private startedAt = new Date();

  onTestRunStart(): void {
    this.startedAt = new Date();
  }

  onTestRunEnd(testModules: ReadonlyArray<TestModule>, unhandledErrors: ReadonlyArray<{ message?: string; stack?: string }>): void {
    const finishedAt = new Date();
    const cases: CaseRecord[] = [];
    const failures: Array<FailureRecord | { area: Area | 'harness'; case: string; trial: null; label: string; problems: string[] }> = [];

    for (const mod of testModules) {
      const area = areaOfFile(mod.moduleId);
      for (const test of mod.children.allTests()) {
        const records = test.meta().reliability ?? [];
        const result = test.result();
        for (const r of records) {
          cases.push(r);
          failures.push(...r.failures);
        }
        if (result.state === 'skipped' && records.length === 0) {
          cases.push({
            area,
            case: test.fullName,
            trials: 0,
            failures: [],
            skipped: 'not run (filtered out, or its test environment is unavailable)',
            notes: [],
            wall_ms: 0,
          });
        }
        // A test that failed for a reason its trials did not record (set-up, harness, timeout).
        if (result.state === 'failed' && records.every((r) => r.failures.length === 0)) {
          failures.push({
            area,
            case: test.fullName,
            trial: null,
            label: 'test failed outside its trials',
            problems: (result.errors ?? []).map((e) => String(e.message ?? e).slice(0, 1500)),
          });
        }
      }
      // Errors in beforeAll/afterAll hooks of the file.
      for (const e of mod.errors())
        failures.push({
          area,
          case: basename(mod.moduleId),
          trial: null,
          label: 'file-level error',
          problems: [String(e.message).slice(0, 1500)],
        });
    }
    for (const e of unhandledErrors)
      failures.push({
        area: 'harness',
        case: 'unhandled error',
        trial: null,
        label: 'unhandled error',
        problems: [String(e.message ?? e).slice(0, 1500)],
      });

    type AreaSummary = {
      trials: number;
      failures: number;
      cases: Array<{ case: string; trials: number; failures: number; wall_ms: number; skipped?: string; notes?: string[] }>;
    };
    const perArea = {} as Record<Area, AreaSummary>;
    for (const a of AREAS) {
      const list = cases.filter((c) => c.area === a);
      perArea[a] = {
        trials: list.reduce((n, c) => n + c.trials, 0),
        failures: failures.filter((f) => f.area === a).length,
        cases: list.map((c) => ({
          case: c.case,
          trials: c.trials,
          failures: c.failures.length,
          wall_ms: c.wall_ms,
          ...(c.skipped ? { skipped: c.skipped } : {}),
          ...(c.notes.length ? { notes: c.notes } : {}),
        })),
      };
    }

    // The minimum applies to a whole run: every crash file ran and none of its tests was skipped.
    const crashFiles = readdirSync(join(REPO_ROOT, 'tests', 'reliability')).filter((f) => /^crash-.*\.reliability\.ts$/.test(f));
    const ranCrash = testModules.filter((m) => areaOfFile(m.moduleId) === 'crash');
    const wholeCrashRun =
      crashFiles.every((f) => ranCrash.some((m) => basename(m.moduleId) === f)) && !perArea.crash.cases.some((c) => c.skipped);
    if (wholeCrashRun && perArea.crash.trials < CRASH_MINIMUM) {
      failures.push({
        area: 'crash',
        case: 'minimum',
        trial: null,
        label: 'too few crash trials',
        problems: [`${perArea.crash.trials} crash-injection trials < the issue's minimum of ${CRASH_MINIMUM}`],
      });
      perArea.crash.failures++;
    }

    const trials = cases.reduce((n, c) => n + c.trials, 0);
    const runId = process.env.VPM_RELIABILITY_RUN_ID ?? `reliability_${finishedAt.getTime()}`;
    const report = {
      run_id: runId,
      seed: Number(process.env.VPM_RELIABILITY_SEED),
      started_at: this.startedAt.toISOString(),
      finished_at: finishedAt.toISOString(),
      wall_ms: finishedAt.getTime() - this.startedAt.getTime(),
      machine: { node: process.version, cpus: availableParallelism(), platform: process.platform },
      git: { sha: git(['rev-parse', 'HEAD']), dirty: (git(['status', '--porcelain']) ?? '') !== '' },
      totals: { trials, failures: failures.length, cases: cases.length, skipped_cases: cases.filter((c) => c.skipped).length },
      minimums: { crash_trials: CRASH_MINIMUM, checked: wholeCrashRun },
      areas: perArea,
      failures,
    };
    const dir = join(REPO_ROOT, 'reports', 'reliability');
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `${runId}.json`);
    writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);

    const out: string[] = ['', `reliability run ${runId} (seed ${report.seed}, ${Math.round(report.wall_ms / 1000)} s)`];
    for (const a of AREAS) {
      const p = perArea[a];
      const skipped = p.cases.filter((c) => c.skipped).length;
      const detail = p.cases.map((c) => `${c.case} ${c.skipped ? 'skipped' : c.trials}`).join(', ');
      out.push(
        `  ${a.padEnd(12)} ${String(p.trials).padStart(5)} trials  ${String(p.failures).padStart(3)} failures${skipped ? `  (${skipped} skipped)` : ''}  — ${detail}`,
      );
    }
    for (const f of failures.slice(0, 30))
      out.push(`  FAIL ${f.area}/${f.case}${f.trial === null ? '' : ` #${f.trial}`} ${f.label}: ${f.problems.join(' | ').slice(0, 400)}`);
    if (failures.length > 30) out.push(`  … ${failures.length - 30} more failures in the report`);
    out.push(`report: ${join('reports', 'reliability', basename(file))}`);
    out.push(`RELIABILITY: ${trials} trials, ${failures.length} failures`);
    process.stdout.write(`${out.join('\n')}\n`);
  }
}
