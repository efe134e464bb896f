import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { requireTestenv, useTestenv, kubeFor, freshNamespace, type TestenvInfo } from '../support/testenv.ts';
import type { Kube } from '../support/kube.ts';
import { startGithubDouble, type GithubDouble } from '../support/github-double.ts';
import { tempDir, vpmJson } from '../helpers/cli.ts';
import { helloWithCandidate, ksvcPath, revisionPath } from '../helpers/deploy.ts';

describe.skipIf(!requireTestenv())('vpm guard after promotion', () => {
  let env: TestenvInfo;
  let kube: Kube;
  let github: GithubDouble;

  beforeAll(async () => {
    env = await useTestenv({ clusters: 1 });
    kube = await kubeFor(env, 'cluster-a');
    github = await startGithubDouble({ repo: 'acme/app' });
  });
  afterAll(async () => {
    await github?.close();
  });

  const run = (args: string[], cwd: string) =>
    vpmJson(args, { cwd, env: { KUBECONFIG: env.kubeconfig, ...github.env }, timeoutMs: 180_000 });

  it('NG: rolls back to the previous revision, freezes deploys (source guard), opens one issue; the next canary refuses with exit 3', async () => {
    const ns = await freshNamespace(kube, 'guard');
    const cwd = tempDir();
    const { stable, candidate } = await helloWithCandidate(kube, ns);
    const promoted = await run(['canary', 'start', 'hello', '-n', ns, '--interval', '1s'], cwd);
    expect(promoted.result.exitCode, String(promoted.result.stderr)).toBe(0);

    // The promoted revision goes bad after promotion.
    await kube.mergePatch(revisionPath(ns, candidate), { metadata: { annotations: { 'vpm-sim/error-rate': '0.5' } } });
    const guard = await run(['guard', 'hello', '-n', ns, '--window', '30s', '--interval', '2s'], cwd);
    expect(guard.result.exitCode, String(guard.result.stderr)).toBe(4);

    const ksvc = await kube.get(ksvcPath(ns));
    const byRev = Object.fromEntries(ksvc.spec.traffic.map((t: any) => [t.revisionName, t.percent]));
    expect(byRev).toEqual({ [stable]: 100, [candidate]: 0 });

    const freeze = JSON.parse(readFileSync(join(cwd, '.ops', 'deploy_freeze.json'), 'utf8'));
    expect(freeze).toMatchObject({ frozen: true, source: 'guard', by: 'vpm guard' });
    expect(freeze.run_id).toBe(guard.json.error.details.run_id);

    const created = github.requestsFor('issues/create');
    expect(created).toHaveLength(1);
    expect((created[0].body as any).title).toContain('hello');
    expect((created[0].body as any).body).toContain('success rate');
    expect(github.state.issues).toHaveLength(1);
    github.assertNoUnexpected();

    const evidence = JSON.parse(readFileSync(join(cwd, guard.json.error.details.evidence), 'utf8'));
    expect(evidence).toMatchObject({ schema: 'vpm.evidence.guard/v1', result: 'ng', previous_revision: stable, revision: candidate });
    expect(evidence.issue.number).toBe(github.state.issues[0].number);
    expect(evidence.checks.at(-1).decision).toBe('fail');

    const next = await run(['canary', 'start', 'hello', '-n', ns, '--interval', '1s'], cwd);
    expect(next.result.exitCode).toBe(3);
    expect(next.json.error.message).toMatch(/frozen/);
  });

  it('OK: a healthy promoted revision passes the window, exit 0, nothing rolled back or frozen', async () => {
    const ns = await freshNamespace(kube, 'guard-ok');
    const cwd = tempDir();
    const { candidate } = await helloWithCandidate(kube, ns);
    expect((await run(['canary', 'start', 'hello', '-n', ns, '--interval', '1s'], cwd)).result.exitCode).toBe(0);
    github.resetRequests();
    const guard = await run(['guard', 'hello', '-n', ns, '--window', '3s', '--interval', '1s'], cwd);
    expect(guard.result.exitCode, String(guard.result.stderr)).toBe(0);
    expect(guard.json).toMatchObject({ result: 'ok', revision: candidate });
    expect(github.requestsFor('issues/create')).toHaveLength(0);
    const ksvc = await kube.get(ksvcPath(ns));
    expect(ksvc.spec.traffic.find((t: any) => t.revisionName === candidate).percent).toBe(100);
  });
});
