/** The GitHub API double itself: validated against GitHub's description, strict, fault injection. */
import { Octokit } from '@octokit/rest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGithubDouble, type GithubDouble } from '../support/github-double.js';

let gh: GithubDouble;
let octokit: Octokit;

beforeAll(async () => {
  gh = await startGithubDouble({
    repo: 'acme/app',
    pulls: [{ number: 7, head: 'feat/x', files: ['reports/a.json', 'src/x.ts'], title: 'Add x' }],
    checks: {
      'feat/x': {
        statuses: [{ context: 'ci', state: 'success' }],
        checkRuns: [{ name: 'healthcheck', status: 'completed', conclusion: 'success' }],
      },
    },
    workflowRuns: [{ branch: 'feat/x', status: 'completed', conclusion: 'failure' }],
  });
  octokit = new Octokit({ baseUrl: gh.url, auth: gh.token, request: { retries: 0 } });
});
afterAll(async () => gh?.close());

describe('GitHub double', () => {
  it('serves pulls, files, statuses, check runs and workflow runs shaped like GitHub', async () => {
    const pull = await octokit.rest.pulls.get({ owner: 'acme', repo: 'app', pull_number: 7 });
    expect(pull.data.head.ref).toBe('feat/x');
    expect(pull.data.title).toBe('Add x');
    expect(pull.headers['x-ratelimit-remaining']).toMatch(/^\d+$/);
    const list = await octokit.rest.pulls.list({ owner: 'acme', repo: 'app', head: 'acme:feat/x', state: 'open' });
    expect(list.data.map((p) => p.number)).toEqual([7]);
    const files = await octokit.rest.pulls.listFiles({ owner: 'acme', repo: 'app', pull_number: 7, per_page: 100 });
    expect(files.data.map((f) => f.filename)).toEqual(['reports/a.json', 'src/x.ts']);
    const status = await octokit.rest.repos.getCombinedStatusForRef({ owner: 'acme', repo: 'app', ref: pull.data.head.sha });
    expect(status.data.state).toBe('success');
    const checks = await octokit.rest.checks.listForRef({ owner: 'acme', repo: 'app', ref: pull.data.head.sha });
    expect(checks.data.check_runs.map((c) => [c.name, c.conclusion])).toEqual([['healthcheck', 'success']]);
    const runs = await octokit.rest.actions.listWorkflowRunsForRepo({ owner: 'acme', repo: 'app', branch: 'feat/x', per_page: 1 });
    expect(runs.data.workflow_runs[0]).toMatchObject({ head_branch: 'feat/x', conclusion: 'failure' });
    gh.assertNoUnexpected();
  });

  it('creates issues, adds labels and enables auto-merge through GraphQL', async () => {
    const issue = await octokit.rest.issues.create({
      owner: 'acme',
      repo: 'app',
      title: 'guard NG',
      body: 'evidence',
      labels: ['incident'],
    });
    expect(issue.status).toBe(201);
    expect(gh.state.issues.find((i) => i.number === issue.data.number)?.labels).toEqual(['incident']);
    await octokit.rest.issues.addLabels({ owner: 'acme', repo: 'app', issue_number: 7, labels: ['persist-report'] });
    expect(gh.state.pulls[0].labels).toEqual(['persist-report']);
    const res: any = await octokit.graphql(
      'mutation($id: ID!) { enablePullRequestAutoMerge(input: {pullRequestId: $id, mergeMethod: SQUASH}) { pullRequest { number autoMergeRequest { mergeMethod } } } }',
      { id: gh.state.pulls[0].node_id },
    );
    expect(res.enablePullRequestAutoMerge.pullRequest).toEqual({ number: 7, autoMergeRequest: { mergeMethod: 'SQUASH' } });
    expect(gh.requestsFor('issues/create')[0].body).toMatchObject({ title: 'guard NG' });
    gh.assertNoUnexpected();
  });

  it('rejects requests that do not match the description and reports them', async () => {
    gh.resetRequests();
    await expect(
      octokit.request('POST /repos/{owner}/{repo}/issues', { owner: 'acme', repo: 'app', labels: 'not-an-array' } as any),
    ).rejects.toMatchObject({ status: 422 });
    await expect(octokit.request('GET /repos/{owner}/{repo}/no-such-thing', { owner: 'acme', repo: 'app' })).rejects.toMatchObject({
      status: 404,
    });
    await expect(octokit.graphql('{ repository(owner: "acme", name: "app") { noSuchField } }')).rejects.toThrow(/noSuchField/);
    expect(() => gh.assertNoUnexpected()).toThrow(
      /request does not match the description[\s\S]*not an endpoint[\s\S]*GraphQL request invalid/,
    );
    gh.resetRequests();
  });

  it('answers 401 to a wrong token, and injects 500s and rate limits', async () => {
    const anon = new Octokit({ baseUrl: gh.url, auth: 'ghp_wrongwrongwrongwrongwrongwrongwrong0', request: { retries: 0 } });
    await expect(anon.rest.repos.get({ owner: 'acme', repo: 'app' })).rejects.toMatchObject({ status: 401 });
    const f = gh.fail({ operationId: 'pulls/get', status: 500, times: 1 });
    await expect(octokit.rest.pulls.get({ owner: 'acme', repo: 'app', pull_number: 7 })).rejects.toMatchObject({ status: 500 });
    expect(f.fired).toBe(1);
    expect((await octokit.rest.pulls.get({ owner: 'acme', repo: 'app', pull_number: 7 })).status).toBe(200);
    gh.rateLimit({ operationId: 'repos/get', times: 1 });
    const err: any = await octokit.rest.repos.get({ owner: 'acme', repo: 'app' }).catch((e) => e);
    expect(err.status).toBe(403);
    expect(err.response.headers['x-ratelimit-remaining']).toBe('0');
    gh.assertNoUnexpected();
  });

  it('reports an armed fault that never fired', async () => {
    const other = await startGithubDouble();
    other.fail({ operationId: 'pulls/merge', status: 500 });
    expect(() => other.assertNoUnexpected()).toThrow(/never fired/);
    await other.close();
  });
});
