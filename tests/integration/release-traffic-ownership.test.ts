/**
 * Issue 18, traffic ownership: a live KService's routing belongs to the release/canary. `vpm apply`
 * keeps it (a new template joins at 0%) unless --traffic; apply and clusters sync refuse while a
 * rollout is in progress unless --force --reason (recorded); a revision a gate rejected is recorded
 * on the KService and needs --force to come back.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { requireTestenv, useTestenv, kubeFor, freshNamespace, REPO_ROOT, type TestenvInfo } from '../support/testenv.ts';
import type { Kube } from '../support/kube.ts';
import { tempDir, vpmJson, VPM_BIN } from '../helpers/cli.ts';
import { ksvcPath, waitFor } from '../helpers/deploy.ts';
import { annotation, helloManifest, split } from '../helpers/release.ts';

const readyRevisionOtherThan = (kube: Kube, ns: string, not: string[]) =>
  waitFor(
    async () => {
      const o = await kube.get(ksvcPath(ns));
      const ready = o.status?.conditions?.find((c: any) => c.type === 'Ready');
      const rev = o.status?.latestReadyRevisionName;
      return ready?.status === 'True' && o.status.observedGeneration === o.metadata.generation && rev && !not.includes(rev)
        ? rev
        : undefined;
    },
    30_000,
    'a new ready revision',
  );

describe('the ApplicationSet leaves KService routing to vpm', () => {
  it('ignoreDifferences /spec/traffic of serving.knative.dev Services, respected on sync', () => {
    const set = parse(readFileSync(join(REPO_ROOT, 'infra/argocd/applicationset.yaml'), 'utf8'));
    expect(set.spec.template.spec.ignoreDifferences).toContainEqual({
      group: 'serving.knative.dev',
      kind: 'Service',
      jsonPointers: ['/spec/traffic'],
    });
    expect(set.spec.template.spec.syncPolicy.syncOptions).toContain('RespectIgnoreDifferences=true');
  });
});

describe.skipIf(!requireTestenv())('traffic ownership against the real API server', () => {
  let env: TestenvInfo;
  let kube: Kube;
  const run = (args: string[], cwd: string) => vpmJson(args, { cwd, env: { KUBECONFIG: env.kubeconfig }, timeoutMs: 120_000 });

  beforeAll(async () => {
    env = await useTestenv({ clusters: 1 });
    kube = await kubeFor(env, 'cluster-a');
  });

  /** First deploy of the project's manifest with vpm apply; returns the first revision. */
  async function firstDeploy(ns: string, cwd: string): Promise<string> {
    const first = await run(['apply', helloManifest(cwd, 'v1.yaml', ns, 'v1')], cwd);
    expect(first.result.exitCode, String(first.result.stderr)).toBe(0);
    expect(first.json.traffic[0]).toMatchObject({ ksvc: 'hello', kept: false, note: expect.stringMatching(/first deploy/) });
    return readyRevisionOtherThan(kube, ns, []);
  }

  it('vpm apply of a live KService keeps its routing (latestRevision pinned, the new revision at 0%); --traffic applies the manifest’s', async () => {
    const ns = await freshNamespace(kube, 'own');
    const cwd = tempDir();
    const r1 = await firstDeploy(ns, cwd);
    const second = await run(['apply', helloManifest(cwd, 'v2.yaml', ns, 'v2')], cwd);
    expect(second.result.exitCode, String(second.result.stderr)).toBe(0);
    expect(second.json.traffic[0]).toMatchObject({ kept: true, traffic: [{ revisionName: r1, percent: 100 }] });
    const r2 = await readyRevisionOtherThan(kube, ns, [r1]);
    const live = await kube.get(ksvcPath(ns));
    expect(split(live.spec.traffic)).toEqual({ [r1]: 100 });
    expect(split(live.status.traffic)).toEqual({ [r1]: 100 });
    const evidence = JSON.parse(readFileSync(join(cwd, second.json.reports_dir, 'evidence.json'), 'utf8'));
    expect(evidence.traffic[0].kept).toBe(true);
    // The dry-run shows no routing change either.
    const dry = await run(['apply', 'v2.yaml', '--dry-run'], cwd);
    expect(dry.json.objects[0].action).toBe('unchanged');

    const owned = await run(['apply', 'v2.yaml', '--traffic'], cwd);
    expect(owned.result.exitCode, String(owned.result.stderr)).toBe(0);
    const after = await waitFor(async () => {
      const o = await kube.get(ksvcPath(ns));
      return split(o.status.traffic)[r2] === 100 ? o : undefined;
    });
    expect(after.spec.traffic).toEqual([{ latestRevision: true, percent: 100 }]);
  });

  it('apply during a canary in progress: exit 3; --force needs --reason (2); --force --reason proceeds and is recorded; after the canary ends apply proceeds', async () => {
    const ns = await freshNamespace(kube, 'own-busy');
    const cwd = tempDir();
    const r1 = await firstDeploy(ns, cwd);
    expect((await run(['apply', helloManifest(cwd, 'v2.yaml', ns, 'v2')], cwd)).result.exitCode).toBe(0);
    await readyRevisionOtherThan(kube, ns, [r1]);
    const child = execa(process.execPath, [VPM_BIN, '--cwd', cwd, 'canary', 'start', 'hello', '-n', ns, '--interval', '30s'], {
      env: { KUBECONFIG: env.kubeconfig },
      reject: false,
    });
    await waitFor(async () => (await annotation(kube, ns, 'vpm.dev/canary'))?.phase === 'progressing', 60_000, 'canary progressing');
    child.kill('SIGKILL');
    await child;
    const v3 = helloManifest(cwd, 'v3.yaml', ns, 'v3');
    const refused = await run(['apply', v3], cwd);
    expect(refused.result.exitCode).toBe(3);
    expect(refused.json.error.message).toMatch(
      /canary canary_\S+ is in progress on .*hello \(annotation vpm\.dev\/canary, phase progressing\)/,
    );
    expect((await kube.get(ksvcPath(ns))).spec.template.spec.containers[0].env[0].value).toBe('v2');
    expect((await run(['apply', v3, '--force'], cwd)).result.exitCode).toBe(2);
    const forced = await run(['apply', v3, '--force', '--reason', 'hotfix during canary'], cwd);
    expect(forced.result.exitCode, String(forced.result.stderr)).toBe(0);
    expect(forced.json.overrides[0]).toMatchObject({ object: 'Service/hello', reason: 'hotfix during canary' });
    const evidence = JSON.parse(readFileSync(join(cwd, forced.json.reports_dir, 'evidence.json'), 'utf8'));
    expect(evidence.overrides[0].what).toMatch(/in progress/);
    expect(readFileSync(join(cwd, forced.json.reports_dir, 'run.log'), 'utf8')).toMatch(/OVERRIDE \(--force\).*hotfix during canary/);
    // Once the canary has ended (aborted by hand), apply proceeds without --force.
    expect((await run(['canary', 'abort', 'hello', '-n', ns], cwd)).result.exitCode).toBe(0);
    const after = await run(['apply', helloManifest(cwd, 'v4.yaml', ns, 'v4')], cwd);
    expect(after.result.exitCode, String(after.result.stderr)).toBe(0);
  });

  it('a candidate the canary rejects is recorded; applying the same template is refused (3) unless forced; a new template keeps stable at 100%', async () => {
    const ns = await freshNamespace(kube, 'own-rej');
    const cwd = tempDir();
    const r1 = await firstDeploy(ns, cwd);
    const bad = helloManifest(cwd, 'bad.yaml', ns, 'bad', { 'vpm-sim/error-rate': '0.5' });
    expect((await run(['apply', bad], cwd)).result.exitCode).toBe(0);
    const r2 = await readyRevisionOtherThan(kube, ns, [r1]);
    const canary = await run(['canary', 'start', 'hello', '-n', ns, '--interval', '1s'], cwd);
    expect(canary.result.exitCode, String(canary.result.stderr)).toBe(4);
    const rejected = await annotation(kube, ns, 'vpm.dev/rejected-revisions');
    expect(rejected).toHaveLength(1);
    expect(rejected[0]).toMatchObject({ revision: r2, by: 'canary', template_hash: expect.stringMatching(/^sha256:/) });
    expect(rejected[0].reason).toMatch(/SLO breach/);

    const again = await run(['apply', bad], cwd);
    expect(again.result.exitCode).toBe(3);
    expect(again.json.error.message).toContain(`would bring back ${r2}`);
    expect(JSON.parse(readFileSync(join(cwd, again.json.error.details.reports_dir, 'evidence.json'), 'utf8')).status).toBe('failed');

    const fixed = await run(['apply', helloManifest(cwd, 'fixed.yaml', ns, 'fixed')], cwd);
    expect(fixed.result.exitCode, String(fixed.result.stderr)).toBe(0);
    const r3 = await readyRevisionOtherThan(kube, ns, [r1, r2]);
    const live = await kube.get(ksvcPath(ns));
    expect(split(live.status.traffic)).toEqual({ [r1]: 100, [r2]: 0 });
    expect(split(live.spec.traffic)[r3]).toBeUndefined();

    const forced = await run(['apply', bad, '--force', '--reason', 'flaky gate'], cwd);
    expect(forced.result.exitCode, String(forced.result.stderr)).toBe(0);
    expect(forced.json.overrides[0].what).toContain(`would bring back ${r2}`);
  });

  it('vpm clusters sync of an Application holding a KService a rollout is changing: exit 3 until it ends', async () => {
    const ns = await freshNamespace(kube, 'own-sync');
    const cwd = tempDir();
    const r1 = await firstDeploy(ns, cwd);
    expect((await run(['apply', helloManifest(cwd, 'v2.yaml', ns, 'v2')], cwd)).result.exitCode).toBe(0);
    await readyRevisionOtherThan(kube, ns, [r1]);
    // An Application (the test env's Argo CD) whose manifests hold this KService.
    const repo = tempDir('vpm-repo-');
    mkdirSync(join(repo, 'app'));
    writeFileSync(join(repo, 'app', 'hello.yaml'), readFileSync(join(cwd, 'v2.yaml'), 'utf8'));
    const app = `app-${ns}`.slice(0, 60);
    await kube.create('/apis/argoproj.io/v1alpha1/namespaces/argocd/applications', {
      apiVersion: 'argoproj.io/v1alpha1',
      kind: 'Application',
      metadata: { name: app, namespace: 'argocd' },
      spec: {
        project: 'default',
        source: { repoURL: repo, path: 'app', targetRevision: 'HEAD' },
        destination: { name: 'cluster-a', namespace: ns },
      },
    });
    await waitFor(
      async () =>
        (await kube.get(`/apis/argoproj.io/v1alpha1/namespaces/argocd/applications/${app}`)).status?.resources?.some(
          (r: any) => r.kind === 'Service' && r.name === 'hello',
        ),
      30_000,
      'Application resources',
    );
    const child = execa(process.execPath, [VPM_BIN, '--cwd', cwd, 'canary', 'start', 'hello', '-n', ns, '--interval', '30s'], {
      env: { KUBECONFIG: env.kubeconfig },
      reject: false,
    });
    await waitFor(async () => (await annotation(kube, ns, 'vpm.dev/canary'))?.phase === 'progressing', 60_000, 'canary progressing');
    child.kill('SIGKILL');
    await child;
    const sync = ['clusters', 'sync', app, '--contexts', 'cluster-a', '--timeout', '60s'];
    const refused = await run(sync, cwd);
    expect(refused.result.exitCode, String(refused.result.stderr)).toBe(3);
    expect(refused.json.error.message).toMatch(
      new RegExp(`canary canary_\\S+ on ${ns}/hello \\(cluster-a, app ${app}, phase progressing\\)`),
    );
    expect((await kube.get(`/apis/argoproj.io/v1alpha1/namespaces/argocd/applications/${app}`)).operation).toBeUndefined();
    expect((await run(['canary', 'abort', 'hello', '-n', ns], cwd)).result.exitCode).toBe(0);
    const synced = await run(sync, cwd);
    expect(synced.result.exitCode, String(synced.result.stderr)).toBe(0);
  });
});
