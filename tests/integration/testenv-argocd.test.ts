/**
 * Argo CD simulator against real API servers: an ApplicationSet (list generator over cluster-a and
 * cluster-b) yields one Application per cluster; patching `operation.sync` syncs the manifests of a
 * local git repository into the destination cluster and reports status like Argo CD.
 */
import { describe, it, expect, beforeAll } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { requireTestenv, useTestenv, kubeFor, type TestenvInfo } from '../support/testenv.ts';
import type { Kube } from '../support/kube.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const APPS = '/apis/argoproj.io/v1alpha1/namespaces/argocd/applications';

async function until<T>(f: () => Promise<T | undefined | false>, what: string, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await f();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    await sleep(100);
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
}

describe.skipIf(!requireTestenv())('Argo CD simulator', () => {
  let env: TestenvInfo;
  let mgmt: Kube;
  let repo: string;
  let sha: string;
  const id = `t${Date.now().toString(36)}`;

  beforeAll(async () => {
    env = await useTestenv({ clusters: 2 });
    mgmt = await kubeFor(env, 'cluster-a');
    repo = fs.mkdtempSync(path.join(os.tmpdir(), 'vpm-argo-repo-'));
    fs.mkdirSync(path.join(repo, 'apps/hello'), { recursive: true });
    fs.copyFileSync(path.join(env.repoDir, 'infra/k8s/overlays/dev/hello-ksvc.yaml'), path.join(repo, 'apps/hello/hello-ksvc.yaml'));
    // namespace comes from the Application's destination, not from the file
    const y = fs.readFileSync(path.join(repo, 'apps/hello/hello-ksvc.yaml'), 'utf8').replace(/\n {2}namespace: default\n/, '\n');
    fs.writeFileSync(path.join(repo, 'apps/hello/hello-ksvc.yaml'), y);
    const git = (...a: string[]) => execFileSync('git', ['-C', repo, ...a], { encoding: 'utf8' }).trim();
    git('init', '-q');
    git('-c', 'user.email=t@example.com', '-c', 'user.name=t', 'add', '.');
    git('-c', 'user.email=t@example.com', '-c', 'user.name=t', 'commit', '-qm', 'hello');
    sha = git('rev-parse', 'HEAD');
  });

  it('ApplicationSet list generator creates one Application per cluster; sync applies to that cluster', async () => {
    await mgmt.apply(
      {
        apiVersion: 'argoproj.io/v1alpha1',
        kind: 'ApplicationSet',
        metadata: { name: `${id}-root`, namespace: 'argocd' },
        spec: {
          goTemplate: true,
          generators: [{ list: { elements: [{ name: 'cluster-a' }, { name: 'cluster-b' }] } }],
          template: {
            metadata: { name: `${id}-root-app-{{.name}}` },
            spec: {
              project: 'default',
              source: { repoURL: `file://${repo}`, targetRevision: 'HEAD', path: 'apps/hello' },
              destination: { name: '{{.name}}', namespace: id },
              syncPolicy: { syncOptions: ['CreateNamespace=true'] },
            },
          },
        },
      },
      'vpm-test',
    );
    const names = [`${id}-root-app-cluster-a`, `${id}-root-app-cluster-b`];
    for (const n of names) {
      const app = await until<any>(() => mgmt.getOrNull(`${APPS}/${n}`), `Application ${n}`);
      expect(app.spec.destination.name).toBe(n.endsWith('-a') ? 'cluster-a' : 'cluster-b');
      expect(app.metadata.ownerReferences[0]).toMatchObject({ kind: 'ApplicationSet', name: `${id}-root` });
    }
    // Before any sync the app is OutOfSync and its KService Missing.
    await until(async () => (await mgmt.get(`${APPS}/${names[1]}`)).status?.sync?.status === 'OutOfSync', 'OutOfSync');

    // Sync cluster-b the way `vpm clusters sync` does: merge-patch `operation`, syncOptions copied from
    // spec.syncPolicy (the controller — real or simulated — reads only the operation's).
    await mgmt.mergePatch(`${APPS}/${names[1]}`, {
      operation: { initiatedBy: { username: 'vpm' }, sync: { revision: 'HEAD', syncOptions: ['CreateNamespace=true'] } },
    });
    const done = await until(async () => {
      const a = await mgmt.get(`${APPS}/${names[1]}`);
      return !a.operation && a.status?.operationState?.phase === 'Succeeded' && a.status.health?.status === 'Healthy' ? a : undefined;
    }, 'sync to finish and the app to be Healthy');
    expect(done.status.operationState).toMatchObject({
      phase: 'Succeeded',
      operation: { initiatedBy: { username: 'vpm' } },
      syncResult: { revision: sha },
    });
    expect(Date.parse(done.status.operationState.finishedAt)).toBeGreaterThanOrEqual(Date.parse(done.status.operationState.startedAt));
    expect(done.status.sync).toMatchObject({ status: 'Synced', revision: sha });
    expect(done.status.reconciledAt).toBeTruthy();

    const b = await kubeFor(env, 'cluster-b');
    const ksvc = await b.get(`/apis/serving.knative.dev/v1/namespaces/${id}/services/hello`);
    // Tracked by annotation, as Argo CD v3 does.
    expect(ksvc.metadata.annotations['argocd.argoproj.io/tracking-id']).toBe(`${names[1]}:serving.knative.dev/Service:${id}/hello`);
    const a = await kubeFor(env, 'cluster-a');
    expect(await a.getOrNull(`/apis/serving.knative.dev/v1/namespaces/${id}/services/hello`)).toBeNull();
  });

  it('a sync to an unknown cluster fails with a message', async () => {
    const name = `${id}-nowhere`;
    await mgmt.apply(
      {
        apiVersion: 'argoproj.io/v1alpha1',
        kind: 'Application',
        metadata: { name, namespace: 'argocd' },
        spec: {
          project: 'default',
          source: { repoURL: `file://${repo}`, path: 'apps/hello' },
          destination: { name: 'cluster-z', namespace: id },
        },
        operation: { initiatedBy: { username: 'vpm' }, sync: {} },
      },
      'vpm-test',
    );
    const app = await until(async () => {
      const x = await mgmt.get(`${APPS}/${name}`);
      // The real controller ends it in phase Error (tests/integration/fleet.test.ts shows it).
      return !x.operation && x.status?.operationState?.phase === 'Error' ? x : undefined;
    }, 'failed sync');
    expect(app.status.operationState.message).toMatch(/cluster-z/);
  });
});

describe('Argo CD simulator templating (pure)', () => {
  it('renders fasttemplate and goTemplate placeholders, dotted paths included', async () => {
    const { render, isSubset } = await import('../support/argocd-sim.ts');
    const t = { metadata: { name: 'root-app-{{name}}' }, spec: { destination: { name: '{{ name }}' }, info: [{ value: '{{values.x}}' }] } };
    expect(render(t, { name: 'cluster-a', values: { x: 1 } }, false)).toEqual({
      metadata: { name: 'root-app-cluster-a' },
      spec: { destination: { name: 'cluster-a' }, info: [{ value: '1' }] },
    });
    expect(render('root-app-{{.name}}/{{ .values.x }}', { name: 'cluster-b', values: { x: 'y' } }, true)).toBe('root-app-cluster-b/y');
    expect(() => render('{{.missing}}', {}, true)).toThrow(/missing/);
    expect(render('{{missing}}', {}, false)).toBe('{{missing}}');
    expect(isSubset({ a: [1, { b: 2 }] }, { a: [1, { b: 2, c: 3 }], d: 4 })).toBe(true);
    expect(isSubset({ a: [1] }, { a: [1, 2] })).toBe(false);
  });
});
