/**
 * `vpm contract check PR [--apply]` (the persist-report lane) against the GitHub API double, which
 * validates every request against GitHub's OpenAPI description and GraphQL schema.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { tempDir, vpm, vpmJson } from '../helpers/cli.js';
import { startGithubDouble, type GithubDouble } from '../support/github-double.js';
import { ContractReport } from '../../src/schemas/contract-report.js';

let gh: GithubDouble;
const cwd = tempDir('vpm-contract-');

const green = {
  statuses: [{ context: 'ci/build', state: 'success' as const }],
  checkRuns: [
    { name: 'healthcheck', conclusion: 'success' as const },
    { name: 'lint', conclusion: 'skipped' as const },
  ],
};

beforeAll(async () => {
  gh = await startGithubDouble({
    repo: 'acme/app',
    pulls: [
      {
        number: 11,
        head: 'reports/run-1',
        title: 'Persist healthcheck reports',
        files: ['reports/coverage.json', 'reports/canary/hello/run1.json', { filename: 'reports/old.json', status: 'removed' }],
      },
      { number: 12, head: 'feat/mixed', title: 'Reports and code', files: ['reports/coverage.json', 'src/index.ts', 'README.md'] },
      { number: 13, head: 'reports/run-2', title: 'Reports, failing check', files: ['reports/lag.json'] },
      { number: 14, head: 'reports/run-3', title: 'Reports, pending check', files: ['reports/quality.json'] },
      {
        number: 15,
        head: 'reports/run-4',
        title: 'Renamed out of reports',
        files: [{ filename: 'docs/coverage.json', status: 'renamed', previous_filename: 'reports/coverage.json' }],
      },
      { number: 16, head: 'reports/run-5', title: 'Draft', files: ['reports/a.json'], draft: true },
      { number: 17, head: 'reports/run-6', title: 'No checks yet', files: ['reports/b.json'] },
      // 250 files over three pages; the only one outside reports/ is on the last page.
      {
        number: 18,
        head: 'reports/bulk',
        title: 'Many reports',
        files: [...Array.from({ length: 249 }, (_, i) => `reports/bulk/${String(i).padStart(3, '0')}.json`), 'scripts/deploy.sh'],
      },
    ],
    checks: {
      'reports/run-1': green,
      'feat/mixed': green,
      'reports/run-2': {
        statuses: [{ context: 'ci/build', state: 'success' }],
        checkRuns: [{ name: 'healthcheck', conclusion: 'failure' }],
      },
      'reports/run-3': {
        statuses: [{ context: 'ci/build', state: 'pending' }],
        checkRuns: [{ name: 'healthcheck', status: 'in_progress' }],
      },
      'reports/run-4': green,
      'reports/run-5': green,
      'reports/bulk': green,
    },
  });
});
afterEach(() => {
  try {
    gh.assertNoUnexpected();
  } finally {
    gh.resetRequests();
  }
});
afterAll(async () => gh?.close());

const env = () => gh.env;

describe('vpm contract check', () => {
  it('a PR touching only reports/** with green checks is eligible (exit 0), and nothing is changed without --apply', async () => {
    const { result, json } = await vpmJson(['contract', 'check', '11'], { cwd, env: env() });
    expect(result.exitCode, String(result.stderr)).toBe(0);
    expect(json.eligible).toBe(true);
    expect(json.rules.map((r: any) => [r.rule, r.ok])).toEqual([
      ['pr_open', true],
      ['not_draft', true],
      ['only_reports', true],
      ['checks_green', true],
    ]);
    expect(json.checks.map((c: any) => `${c.source}:${c.name}=${c.state}`).sort()).toEqual([
      'check_run:healthcheck=success',
      'check_run:lint=success',
      'status:ci/build=success',
    ]);
    expect(gh.requestsFor('issues/add-labels')).toHaveLength(0);
    expect(gh.requestsFor('graphql')).toHaveLength(0);
    const human = await vpm(['contract', 'check', '#11'], { cwd, env: env() });
    expect(String(human.stdout)).toMatch(/eligible for the persist-report lane/);
  });

  it('names the failed rule: a file outside reports/', async () => {
    const r = await vpm(['contract', 'check', '12'], { cwd, env: env() });
    expect(r.exitCode).toBe(3);
    expect(String(r.stdout)).toMatch(/FAIL only_reports\s+2 changed file\(s\) outside reports\/: README\.md, src\/index\.ts/);
    expect(String(r.stdout)).toMatch(/not eligible: only_reports$/m);
  });

  it('names the failed rule: a failing check', async () => {
    const { result, json } = await vpmJson(['contract', 'check', '13'], { cwd, env: env() });
    expect(result.exitCode).toBe(3);
    const rule = json.rules.find((r: any) => r.rule === 'checks_green');
    expect(rule).toMatchObject({ ok: false, offending: ['healthcheck'] });
    expect(rule.detail).toBe('failing check(s): healthcheck (failure)');
    expect(json.rules.filter((r: any) => !r.ok).map((r: any) => r.rule)).toEqual(['checks_green']);
  });

  it('names the failed rule: a pending check (and a PR with no checks at all is pending too)', async () => {
    const pending = await vpmJson(['contract', 'check', '14'], { cwd, env: env() });
    expect(pending.result.exitCode).toBe(3);
    expect(pending.json.rules.find((r: any) => r.rule === 'checks_green').detail).toBe(
      'pending check(s): healthcheck (in_progress), ci/build (pending)',
    );
    const none = await vpmJson(['contract', 'check', '17'], { cwd, env: env() });
    expect(none.result.exitCode).toBe(3);
    expect(none.json.rules.find((r: any) => r.rule === 'checks_green').detail).toMatch(
      /^no checks have reported on [0-9a-f]{7} yet \(pending\)$/,
    );
  });

  it('a rename out of reports/ counts both paths; a draft is not eligible', async () => {
    const renamed = await vpmJson(['contract', 'check', '15'], { cwd, env: env() });
    expect(renamed.json.rules.find((r: any) => r.rule === 'only_reports')).toMatchObject({ ok: false, offending: ['docs/coverage.json'] });
    const draft = await vpmJson(['contract', 'check', '16'], { cwd, env: env() });
    expect(draft.result.exitCode).toBe(3);
    expect(draft.json.rules.filter((r: any) => !r.ok).map((r: any) => r.rule)).toEqual(['not_draft']);
  });

  it("reads every page of a large PR's files (the last page decides here)", async () => {
    const { result, json } = await vpmJson(['contract', 'check', '18'], { cwd, env: env() });
    expect(result.exitCode).toBe(3);
    expect(json.files).toHaveLength(250);
    expect(json.rules.find((r: any) => r.rule === 'only_reports')).toMatchObject({ ok: false, offending: ['scripts/deploy.sh'] });
    expect(gh.requestsFor('pulls/list-files').map((r) => r.query.page ?? '1')).toEqual(['1', '2', '3']);
  });

  it('--apply labels the PR, enables auto-merge through GraphQL and writes evidence', async () => {
    const work = tempDir('vpm-contract-apply-');
    const { result, json } = await vpmJson(['contract', 'check', '11', '--apply'], { cwd: work, env: env() });
    expect(result.exitCode, String(result.stderr)).toBe(0);
    expect(json.applied).toEqual({
      label: { name: 'persist-report', added: true },
      auto_merge: { enabled: true, already: false, merge_method: 'SQUASH' },
    });
    const pull = gh.state.pulls.find((p) => p.number === 11)!;
    expect(pull.labels).toEqual(['persist-report']);
    expect(pull.autoMerge).toMatchObject({ mergeMethod: 'SQUASH' });
    expect(gh.requestsFor('issues/add-labels').at(-1)!.body).toEqual({ labels: ['persist-report'] });
    const mutation = gh.requestsFor('graphql').at(-1)!;
    expect(mutation.graphql!.query).toMatch(/enablePullRequestAutoMerge/);
    expect(mutation.graphql!.variables).toEqual({ pullRequestId: pull.node_id, mergeMethod: 'SQUASH' });
    // Evidence of what was done, valid against its schema.
    const files = readdirSync(join(work, 'reports/contract'));
    expect(files).toHaveLength(1);
    const evidence = JSON.parse(readFileSync(join(work, 'reports/contract', files[0]), 'utf8'));
    expect(ContractReport.schema.safeParse(evidence).success).toBe(true);
    expect(evidence).toMatchObject({
      schema: 'vpm.evidence.contract/v1',
      status: 'applied',
      repo: 'acme/app',
      pr: { number: 11 },
      eligible: true,
    });
    expect(json.evidence).toBe(join('reports/contract', files[0]));

    // Applying again changes nothing on GitHub: label present, auto-merge already on.
    const before = gh.requests.length;
    const again = await vpmJson(['contract', 'check', '11', '--apply'], { cwd: work, env: env() });
    expect(again.json.applied).toEqual({
      label: { name: 'persist-report', added: false },
      auto_merge: { enabled: true, already: true, merge_method: 'SQUASH' },
    });
    expect(
      gh.requests
        .slice(before)
        .map((r) => r.operationId)
        .sort(),
    ).toEqual(['checks/list-for-ref', 'pulls/get', 'pulls/list-files', 'repos/get-combined-status-for-ref']);
  });

  it('--apply on an ineligible PR changes nothing and exits 3', async () => {
    const before = gh.requests.length;
    const r = await vpm(['contract', 'check', '12', '--apply', '--label', 'auto'], { cwd, env: env() });
    expect(r.exitCode).toBe(3);
    expect(String(r.stderr)).toMatch(/not eligible, nothing applied/);
    expect(gh.requests.slice(before).some((q) => q.method !== 'GET')).toBe(false);
  });

  it('GitHub errors are clear, name the variable to set, and never show the token', async () => {
    const bad = 'ghp_thisIsNotTheRightToken000000000000000';
    const r401 = await vpm(['contract', 'check', '11'], { cwd, env: { ...env(), GITHUB_TOKEN: bad } });
    expect(r401.exitCode).toBe(1);
    expect(String(r401.stderr)).toMatch(/401 bad credentials/);
    expect(String(r401.stderr)).toMatch(/GITHUB_TOKEN/);
    expect(String(r401.stdout) + String(r401.stderr)).not.toContain(bad);

    const none = await vpm(['contract', 'check', '11'], { cwd, env: { ...env(), GITHUB_TOKEN: undefined } });
    expect(String(none.stderr)).toMatch(/set GITHUB_TOKEN \(or GH_TOKEN\)/);

    gh.rateLimit({ operationId: 'pulls/get', times: 1 });
    const limited = await vpm(['contract', 'check', '11'], { cwd, env: env() });
    expect(limited.exitCode).toBe(1);
    expect(String(limited.stderr)).toMatch(/GitHub rate limit exhausted while reading pull request #11/);
    expect(String(limited.stderr)).toMatch(/retry after \d{4}-\d{2}-\d{2}T/);

    gh.fail({ operationId: 'pulls/list-files', status: 500, times: 1 });
    const e500 = await vpm(['contract', 'check', '11'], { cwd, env: env() });
    expect(String(e500.stderr)).toMatch(/GitHub answered 500 while listing the files of pull request #11/);

    const missing = await vpm(['contract', 'check', '99'], { cwd, env: env() });
    expect(String(missing.stderr)).toMatch(/not found on GitHub while reading pull request #99 \(acme\/app\)/);

    const usage = await vpm(['contract', 'check', 'abc'], { cwd, env: env() });
    expect(usage.exitCode).toBe(2);
    const noRepo = await vpm(['contract', 'check', '11'], { cwd, env: { ...env(), GITHUB_REPOSITORY: undefined } });
    expect(noRepo.exitCode).toBe(2);
    expect(String(noRepo.stderr)).toMatch(/no GitHub repository configured/);
  });
});
