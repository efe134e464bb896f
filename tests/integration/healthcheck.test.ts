/**
 * `vpm healthcheck` end to end on real temp git repos: the acceptance case from the issue (4 goals,
 * evidence for 3, one malformed report, one 401-grapheme summary inserted by hand), lag from a real
 * chat → summary → digest run, and the reports' own schemas.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { vpm, vpmJson } from '../helpers/cli.js';
import { makeGitRepo, type TempRepo } from '../helpers/gitrepo.js';
import { CoverageReport, LagReport, QualityReport } from '../../src/schemas/healthcheck-report.js';

const STATE = `---
phase: S2
updated_at: 2026-01-01T00:00:00.000Z
---
# Current state

## C
Evidence lane under construction.

## G
- G-1: canary with SLO gates
- G-2: guard opens an issue on NG
- G-3: failover RTO recorded
- G-4: persist-report lane merges itself

## δ
One goal without evidence.
`;

const repos: TempRepo[] = [];
afterAll(() => repos.forEach((r) => r.cleanup()));

function prepared(): TempRepo {
  const repo = makeGitRepo({
    files: {
      'STATE/current_state.md': STATE,
      // Evidence naming G-1, G-2, G-3 (JSON and Markdown, nested); G-10 must not count as G-1.
      'reports/canary/hello/run1.json': JSON.stringify({ goal: 'G-1', note: 'canary passed' }),
      'reports/guard/notes.md': '# Guard\n\nCovers G-2 (issue opened on NG).\n',
      'reports/failover/drill.json': JSON.stringify({ goals: ['G-3'], rto_ms: 1200 }),
      'reports/misc/other.json': JSON.stringify({ mentions: 'G-10 and XG-4 are not goals here' }),
      // The malformed report.
      'reports/broken.json': '{"schema": "vpm.evidence.coverage/v1", "run_id": ',
    },
  });
  repos.push(repo);
  return repo;
}

const over400 = 'あ'.repeat(399) + '👨‍👩‍👧' + '🇯🇵'; // 401 graphemes, 410 code points
const exactly400 = 'い'.repeat(398) + '👍🏽' + '👨‍👩‍👧'; // 400 graphemes: within the cap

describe('vpm healthcheck', () => {
  it('acceptance: names exactly the gap and the violations, exits non-zero, writes all three reports', async () => {
    const repo = prepared();
    const cwd = repo.dir;
    // A real memory loop: three chat turns, a summary, a digest (records its run for the lag report).
    for (const text of ['Start the canary for hello.', 'Canary at 10%, SLO ok.', 'Promote when green.']) {
      expect((await vpm(['chat', 'append', '--text', text], { cwd })).exitCode).toBe(0);
    }
    expect((await vpm(['summary'], { cwd })).exitCode).toBe(0);
    expect((await vpm(['digest'], { cwd })).exitCode).toBe(0);
    // Then two summaries inserted by hand: one over the cap, one exactly at it.
    const memory = JSON.parse(readFileSync(join(cwd, 'memory.json'), 'utf8'));
    const real = memory.entries[0];
    memory.entries.unshift(
      { ...real, id: 'mem_hand_over', summary: over400, chars: 401 },
      { ...real, id: 'mem_hand_400', summary: exactly400, chars: 400 },
    );
    writeFileSync(join(cwd, 'memory.json'), JSON.stringify(memory, null, 2));

    const { result, json } = await vpmJson(['healthcheck', '--test-cmd', `${process.execPath} -e "process.exit(0)"`], { cwd });
    expect(result.exitCode, String(result.stderr)).toBe(1);
    expect(json.ok).toBe(false);

    const coverage = JSON.parse(readFileSync(join(cwd, 'reports/coverage.json'), 'utf8'));
    const lag = JSON.parse(readFileSync(join(cwd, 'reports/lag.json'), 'utf8'));
    const quality = JSON.parse(readFileSync(join(cwd, 'reports/quality.json'), 'utf8'));

    // coverage.json: exactly G-4 is the gap; the evidence of the others is named.
    expect(coverage.goals.gaps).toEqual([{ id: 'G-4', text: 'persist-report lane merges itself' }]);
    expect(coverage.goals).toMatchObject({ total: 4, covered: 3, ratio: 0.75 });
    expect(Object.fromEntries(coverage.goals.items.map((i: any) => [i.id, i.evidence]))).toEqual({
      'G-1': ['reports/canary/hello/run1.json'],
      'G-2': ['reports/guard/notes.md'],
      'G-3': ['reports/failover/drill.json'],
      'G-4': [],
    });
    expect(coverage.tests).toMatchObject({ ok: true, exit_code: 0 });
    expect(coverage.test_coverage).toBeNull();
    expect(coverage.test_coverage_note).toMatch(/no test coverage summary at coverage\/coverage-summary\.json/);

    // quality.json: exactly the hand-inserted 401-grapheme summary and the malformed report.
    expect(quality.summaries.over_cap).toEqual([{ id: 'mem_hand_over', graphemes: 401 }]);
    expect(quality.summaries.checked).toBe(3);
    expect(quality.reports.invalid).toHaveLength(1);
    expect(quality.reports.invalid[0]).toMatchObject({ file: 'reports/broken.json', problem: 'not_json' });
    expect(quality.reports.checked).toBe(4); // the JSON ones (notes.md is evidence, not a JSON report)
    expect(quality.status).toBe('red');
    // The digest's nav diagram was validated by the real renderer and exported.
    expect(quality.diagrams).toMatchObject({ checked: 1, invalid: [], error: null });
    expect(quality.diagrams.exported).toEqual([expect.stringMatching(/^diagrams\/export\/\d{4}-\d{2}-\d{2}_nav\.svg$/)]);

    // lag.json: three chat turns → one summary, one summary → one digest run.
    expect(lag.chat_to_summary).toMatchObject({ count: 3, unsummarised: 0 });
    for (const k of ['p50_ms', 'p95_ms', 'max_ms']) expect(lag.chat_to_summary[k]).toBeGreaterThanOrEqual(0);
    expect(lag.chat_to_summary.p50_ms).toBeLessThanOrEqual(lag.chat_to_summary.p95_ms);
    expect(lag.chat_to_summary.p95_ms).toBeLessThanOrEqual(lag.chat_to_summary.max_ms);
    // The hand-inserted entries copy the real one's source, so all three summaries precede the digest.
    expect(lag.summary_to_digest).toMatchObject({ count: 3, undigested: 0, source: '.ops/digest_runs.jsonl', note: null });

    // Every report uses the evidence envelope and matches its own schema.
    expect(CoverageReport.schema.safeParse(coverage).success).toBe(true);
    expect(LagReport.schema.safeParse(lag).success).toBe(true);
    expect(QualityReport.schema.safeParse(quality).success).toBe(true);
    for (const doc of [coverage, lag, quality]) {
      expect(doc).toMatchObject({ run_id: json.run_id, tool: { name: 'vpm' }, git: { branch: 'main' } });
      expect(doc.git.sha).toMatch(/^[0-9a-f]{40}$/);
    }
    // …and a copy of this run is kept under reports/healthcheck/<run_id>/.
    expect(readdirSync(join(cwd, 'reports/healthcheck', json.run_id)).sort()).toEqual(['coverage.json', 'lag.json', 'quality.json']);

    // The --json document names the red checks.
    const byName = Object.fromEntries(json.checks.map((c: any) => [c.name, c]));
    expect(byName.quality.status).toBe('red');
    expect(byName.quality.problems.join('\n')).toMatch(/mem_hand_over has 401 graphemes/);
    expect(byName.quality.problems.join('\n')).toMatch(/reports\/broken\.json: not valid JSON/);
    expect(byName.coverage).toMatchObject({ status: 'warn' });
    expect(byName.tests.status).toBe('ok');
  });

  it('does not count its own reports as evidence on the next run, and fixes turn it green', async () => {
    const repo = prepared();
    const cwd = repo.dir;
    expect((await vpm(['healthcheck', '--no-test'], { cwd })).exitCode).toBe(1);
    // reports/coverage.json now names G-4 in its gap list: it must still be a gap.
    repo.remove('reports/broken.json');
    const second = await vpmJson(['healthcheck', '--no-test'], { cwd });
    expect(second.result.exitCode, String(second.result.stdout)).toBe(0);
    expect(second.json.ok).toBe(true);
    const coverage = JSON.parse(readFileSync(join(cwd, 'reports/coverage.json'), 'utf8'));
    expect(coverage.goals.gaps.map((g: any) => g.id)).toEqual(['G-4']);
    // The earlier run's copy is valid evidence and checked by schema, not counted as goal evidence.
    const quality = JSON.parse(readFileSync(join(cwd, 'reports/quality.json'), 'utf8'));
    expect(quality.reports.schema_checked).toBe(3);
    expect(quality.reports.invalid).toEqual([]);
    expect(coverage.tests).toBeNull();
    expect(coverage.tests_note).toBe('skipped (--no-test)');

    // Gaps are reported, not failed, unless a minimum coverage is asked for.
    const strict = await vpmJson(['healthcheck', '--no-test', '--min-goal-coverage', '1'], { cwd });
    expect(strict.result.exitCode).toBe(1);
    expect(strict.json.checks.find((c: any) => c.name === 'coverage')).toMatchObject({ status: 'red' });
  });

  it('fails on a report that does not match its registered schema, and on failing tests', async () => {
    const repo = prepared();
    repo.remove('reports/broken.json');
    // Envelope of a registered kind with the body missing.
    repo.write(
      'reports/contract/contract_x.json',
      JSON.stringify({
        schema: 'vpm.evidence.contract/v1',
        run_id: 'contract_x',
        kind: 'contract',
        started_at: '2026-01-01T00:00:00.000Z',
        finished_at: '2026-01-01T00:00:01.000Z',
        status: 'applied',
        git: { sha: null, branch: null },
        tool: { name: 'vpm', version: '0.1.0' },
      }),
    );
    const { result, json } = await vpmJson(
      ['healthcheck', '--test-cmd', `${process.execPath} -e "console.log('1 failed'); process.exit(3)"`],
      { cwd: repo.dir },
    );
    expect(result.exitCode).toBe(1);
    const quality = JSON.parse(readFileSync(join(repo.dir, 'reports/quality.json'), 'utf8'));
    expect(quality.reports.invalid).toEqual([
      {
        file: 'reports/contract/contract_x.json',
        problem: 'schema',
        message: expect.stringMatching(/does not match vpm\.evidence\.contract\/v1: repo: /),
      },
    ]);
    const tests = json.checks.find((c: any) => c.name === 'tests');
    expect(tests.status).toBe('red');
    const coverage = JSON.parse(readFileSync(join(repo.dir, 'reports/coverage.json'), 'utf8'));
    expect(coverage.tests).toMatchObject({ ok: false, exit_code: 3, output_tail: ['1 failed'] });
    expect(coverage.status).toBe('red');
  });

  it('reads test coverage totals from an istanbul json-summary', async () => {
    const repo = prepared();
    repo.write(
      'coverage/coverage-summary.json',
      JSON.stringify({
        total: {
          lines: { total: 200, covered: 150, pct: 75 },
          statements: { total: 210, covered: 160, pct: 76.19 },
          functions: { total: 40, covered: 30, pct: 75 },
          branches: { total: 80, covered: 40, pct: 50 },
        },
      }),
    );
    await vpm(['healthcheck', '--no-test', '--no-diagrams'], { cwd: repo.dir });
    const coverage = JSON.parse(readFileSync(join(repo.dir, 'reports/coverage.json'), 'utf8'));
    expect(coverage.test_coverage).toMatchObject({
      source: 'coverage/coverage-summary.json',
      lines: { total: 200, covered: 150, pct: 75 },
      branches: { pct: 50 },
    });
    expect(coverage.test_coverage_note).toBeNull();
  });

  it('refuses a test command with shell syntax before running anything (exit 2)', async () => {
    const repo = prepared();
    const r = await vpm(['healthcheck', '--test-cmd', 'npm test && rm -rf /'], { cwd: repo.dir });
    expect(r.exitCode).toBe(2);
    expect(String(r.stderr)).toMatch(/needs a shell \(operator &&\); vpm runs test commands without a shell/);
    expect(existsSync(join(repo.dir, 'reports/coverage.json'))).toBe(false);
  });

  it('skips the default npm test with a note when the repo has no package.json', async () => {
    const repo = prepared();
    repo.remove('reports/broken.json');
    const { result, json } = await vpmJson(['healthcheck', '--no-diagrams'], { cwd: repo.dir });
    expect(result.exitCode).toBe(0);
    expect(json.checks.find((c: any) => c.name === 'tests')).toMatchObject({
      status: 'skipped',
      detail: expect.stringMatching(/default npm test needs a package\.json/),
    });
  });

  it('is the last stage of vpm loop', async () => {
    const repo = prepared();
    repo.remove('reports/broken.json');
    repo.write('vpm.config.yaml', `test:\n  command: ${JSON.stringify(`${process.execPath} -e "process.exit(0)"`)}\n`);
    const { result, json } = await vpmJson(['loop', '--text', 'G-4 next: the persist-report lane.'], { cwd: repo.dir });
    expect(result.exitCode, String(result.stderr)).toBe(0);
    expect(json.stages.map((s: any) => [s.stage, s.status])).toEqual([
      ['chat append', 'ok'],
      ['summary', 'ok'],
      ['digest', 'ok'],
      ['healthcheck', 'ok'],
    ]);
    expect(existsSync(join(repo.dir, 'reports/lag.json'))).toBe(true);
  });
});
