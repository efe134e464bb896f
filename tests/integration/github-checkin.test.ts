/** `vpm checkin` against the GitHub API double, and offline (GitHub unreachable). */
import { createServer } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { vpm, vpmJson } from '../helpers/cli.js';
import { makeGitRepo, type TempRepo } from '../helpers/gitrepo.js';
import { startGithubDouble, type GithubDouble } from '../support/github-double.js';

let gh: GithubDouble;
let repo: TempRepo;

beforeAll(async () => {
  // vpm's own request log lives in logs/, ignored as in a real project.
  repo = makeGitRepo({ files: { 'README.md': '# app\n' }, gitignore: ['/logs/'] });
  repo.git('checkout', '-q', '-b', 'feat/canary');
  repo.git('remote', 'add', 'origin', 'https://github.com/acme/app.git');
  repo.write(
    'reports/canary/hello/canary_20260101T000000Z_1.json',
    JSON.stringify({
      schema: 'vpm.evidence.canary/v1',
      run_id: 'canary_20260101T000000Z_1',
      kind: 'canary',
      started_at: '2026-01-01T00:00:00.000Z',
      finished_at: '2026-01-01T00:05:00.000Z',
      status: 'promoted',
    }),
  );
  repo.write(
    'reports/old.json',
    JSON.stringify({
      schema: 'vpm.evidence.sli/v1',
      run_id: 'sli_1',
      kind: 'sli',
      started_at: '2025-12-01T00:00:00.000Z',
      finished_at: '2025-12-01T00:00:01.000Z',
      status: 'ok',
    }),
  );
  repo.commitAll('evidence');
  gh = await startGithubDouble({
    repo: 'acme/app',
    pulls: [
      { number: 21, head: 'feat/canary', title: 'Canary with SLO gates', files: ['src/canary.ts'] },
      { number: 22, head: 'other', title: 'Other work' },
    ],
    workflowRuns: [
      { branch: 'feat/canary', name: 'healthcheck', status: 'completed', conclusion: 'success', created_at: '2026-01-01T00:00:00Z' },
      { branch: 'feat/canary', name: 'healthcheck', status: 'completed', conclusion: 'failure', created_at: '2026-01-02T00:00:00Z' },
      { branch: 'other', name: 'healthcheck', status: 'in_progress', created_at: '2026-01-03T00:00:00Z' },
    ],
  });
});
afterEach(() => {
  try {
    gh.assertNoUnexpected();
  } finally {
    gh.resetRequests();
  }
});
afterAll(async () => {
  await gh?.close();
  repo?.cleanup();
});

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

describe('vpm checkin', () => {
  it('prints the six lines from git, the GitHub API and the newest evidence', async () => {
    const r = await vpm(['checkin'], { cwd: repo.dir, env: gh.env });
    expect(r.exitCode, String(r.stderr)).toBe(0);
    const lines = String(r.stdout).trimEnd().split('\n');
    expect(lines.map((l) => l.split(':')[0])).toEqual(['Repo', 'Branch', 'PR', 'Run', 'Evidence', 'Next']);
    expect(lines[0]).toBe('Repo:     acme/app (environment)');
    expect(lines[1]).toMatch(/^Branch: {3}feat\/canary @ [0-9a-f]{7}, clean, no upstream$/);
    expect(lines[2]).toBe('PR:       #21 Canary with SLO gates https://github.com/acme/app/pull/21');
    expect(lines[3]).toMatch(
      /^Run: {6}healthcheck #\d+ completed\/failure on [0-9a-f]{7} https:\/\/github\.com\/acme\/app\/actions\/runs\/\d+$/,
    );
    expect(lines[4]).toBe('Evidence: reports/canary/hello/canary_20260101T000000Z_1.json (canary, promoted, 2026-01-01T00:05:00.000Z)');
    expect(lines[5]).toMatch(/^Next: {5}inspect the failure run https:\/\/github\.com\/acme\/app\/actions\/runs\/\d+ and fix it$/);
    // The PR was looked up by owner:branch, the run by branch — requests the double validated.
    expect(gh.requestsFor('pulls/list')[0].query).toMatchObject({ head: 'acme:feat/canary', state: 'open' });
    expect(gh.requestsFor('actions/list-workflow-runs-for-repo')[0].query).toMatchObject({ branch: 'feat/canary', per_page: '1' });
  });

  it('--json holds the same facts', async () => {
    const { result, json } = await vpmJson(['checkin'], { cwd: repo.dir, env: gh.env });
    expect(result.exitCode).toBe(0);
    expect(json).toMatchObject({
      repo: { owner: 'acme', repo: 'app' },
      git: { branch: 'feat/canary', dirty: 0 },
      pr: { number: 21, draft: false },
      run: { conclusion: 'failure', status: 'completed' },
      evidence: { kind: 'canary', status: 'promoted' },
      unreachable: [],
    });
    expect(json.lines).toHaveLength(6);
  });

  it('finds the repo from the github.com remote when nothing is configured', async () => {
    const r = await vpm(['checkin'], { cwd: repo.dir, env: { ...gh.env, GITHUB_REPOSITORY: undefined } });
    expect(String(r.stdout)).toMatch(/^Repo: {5}acme\/app \(git remote\)$/m);
    expect(String(r.stdout)).toMatch(/^PR: {7}#21 /m);
  });

  it('offline: still prints what git knows and says what it could not reach (exit 0)', async () => {
    const url = `http://127.0.0.1:${await closedPort()}`;
    const r = await vpm(['checkin'], { cwd: repo.dir, env: { ...gh.env, GITHUB_API_URL: url } });
    expect(r.exitCode, String(r.stderr)).toBe(0);
    const lines = String(r.stdout).trimEnd().split('\n');
    expect(lines).toHaveLength(6);
    expect(lines[0]).toBe('Repo:     acme/app (environment)');
    expect(lines[1]).toMatch(/^Branch: {3}feat\/canary @ [0-9a-f]{7}, clean/);
    expect(lines[2]).toBe(
      `PR:       unknown — cannot reach GitHub API at ${url} while looking up the open pull request: connection refused (ECONNREFUSED) (check the network and GITHUB_API_URL; retry when GitHub is reachable)`,
    );
    expect(lines[3]).toMatch(/^Run: {6}unknown — cannot reach GitHub API at .*ECONNREFUSED/);
    expect(lines[4]).toMatch(/^Evidence: reports\/canary\/hello\//);
    expect(lines[5]).toBe('Next:     GitHub could not be reached: run vpm healthcheck locally and check in again when online');
    expect(String(r.stderr)).toMatch(/checkin: could not reach everything: cannot reach GitHub/);
    // The second lookup is not attempted once GitHub is known to be unreachable.
    const { json } = await vpmJson(['checkin'], { cwd: repo.dir, env: { ...gh.env, GITHUB_API_URL: url } });
    expect(json.unreachable.map((u: any) => u.what)).toEqual(['pr', 'run']);
  });

  it('a refused token degrades the same way and says which variable to set; the token is not shown', async () => {
    const bad = 'ghp_badbadbadbadbadbadbadbadbadbadbad0000';
    const r = await vpm(['checkin'], { cwd: repo.dir, env: { ...gh.env, GITHUB_TOKEN: bad } });
    expect(r.exitCode).toBe(0);
    expect(String(r.stdout)).toMatch(
      /^PR: {7}unknown — GitHub rejected the request while looking up the open pull request: 401 bad credentials \(.*GITHUB_TOKEN/m,
    );
    expect(String(r.stdout) + String(r.stderr)).not.toContain(bad);
  });

  it('outside a git repository it says so and still prints six lines', async () => {
    const { tempDir } = await import('../helpers/cli.js');
    const r = await vpm(['checkin', '--offline'], { cwd: tempDir('vpm-nogit-'), env: { GITHUB_REPOSITORY: undefined } });
    expect(r.exitCode).toBe(0);
    const lines = String(r.stdout).trimEnd().split('\n');
    expect(lines).toHaveLength(6);
    expect(lines[0]).toMatch(/^Repo: {5}not a git repository: /);
    expect(lines[5]).toBe('Next:     run vpm inside a git repository (or pass --cwd DIR)');
    expect(gh.requests).toHaveLength(0);
  });
});
