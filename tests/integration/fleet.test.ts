/**
 * Issue 7 acceptance, GitOps half: two real API servers (cluster-a runs the Argo CD simulator),
 * the repo's own ApplicationSet (infra/argocd/applicationset.yaml) yields root-app-cluster-a/b,
 * `vpm clusters sync` syncs them, `vpm clusters status` reports both Synced/Healthy; then cluster-b's
 * API server is stopped and status reports it Unknown (exit 1) within its timeout, still reporting a.
 *
 * This suite starts its own environment (not the shared one): stopping an API server must not
 * disturb suites running in parallel.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { Testenv, findAssets, applyFile, REPO_ROOT, type TestenvInfo } from '../support/testenv.ts';
import { Kube } from '../support/kube.ts';
import { vpm, vpmJson } from '../helpers/cli.js';

const APPS = '/apis/argoproj.io/v1alpha1/namespaces/argocd/applications';
const APPSET = path.join(REPO_ROOT, 'infra/argocd/applicationset.yaml');
const NAMES = ['root-app-cluster-a', 'root-app-cluster-b'];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const assets = findAssets();
const available = !('missing' in assets);
if (!available && process.env.VPM_REQUIRE_TESTENV === '1')
  throw new Error(`VPM_REQUIRE_TESTENV=1 but ${(assets as { missing: string }).missing}`);

async function until<T>(f: () => Promise<T | undefined | null | false>, what: string, timeoutMs = 30_000): Promise<T> {
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

describe.skipIf(!available)('vpm clusters (two API servers, Argo CD simulator)', () => {
  let testenv: Testenv;
  let env: TestenvInfo;
  let mgmt: Kube;
  let cwd: string;
  let runEnv: Record<string, string>;
  const user = 'fleet-tester';

  beforeAll(async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vpm-fleet-env-'));
    const logFile = path.join(dir, 'testenv.log');
    testenv = new Testenv({ dir, repoDir: REPO_ROOT, log: (m) => fs.appendFileSync(logFile, `${m}\n`) });
    env = await testenv.ensure({ clusters: 2 });
    mgmt = await Kube.fromKubeconfig(env.kubeconfig, 'cluster-a');
    cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'vpm-fleet-repo-'));
    execFileSync('git', ['init', '-q', cwd]);
    runEnv = { KUBECONFIG: env.kubeconfig, VPM_ACTOR: user };
    await applyFile(mgmt, APPSET, { fieldManager: 'fleet-test' });
    for (const n of NAMES) await until(() => mgmt.getOrNull(`${APPS}/${n}`), `Application ${n}`);
  });

  afterAll(async () => {
    mgmt?.close();
    await testenv?.stop();
  });

  it('the ApplicationSet yields one Application per cluster, each pointing at its own overlay', async () => {
    for (const [n, c] of [
      [NAMES[0], 'cluster-a'],
      [NAMES[1], 'cluster-b'],
    ]) {
      const app = await mgmt.get(`${APPS}/${n}`);
      expect(app.spec).toMatchObject({
        project: 'vpm',
        destination: { name: c, namespace: 'fleet' },
        source: { path: `infra/k8s/overlays/${c}`, targetRevision: 'HEAD' },
      });
      expect(app.spec.syncPolicy?.automated).toBeUndefined();
      expect(app.metadata.ownerReferences[0]).toMatchObject({ kind: 'ApplicationSet', name: 'root-apps' });
    }
  });

  it('before any sync: status exits 1 and says why', async () => {
    await until(async () => (await mgmt.get(`${APPS}/${NAMES[1]}`)).status?.sync?.status === 'OutOfSync', 'first comparison');
    const { result, json } = await vpmJson(['clusters', 'status'], { cwd, env: runEnv });
    expect(result.exitCode).toBe(1);
    expect(json.ok).toBe(false);
    expect(json.apps.map((a: any) => a.name)).toEqual(NAMES);
    for (const a of json.apps) {
      expect(a).toMatchObject({ sync: 'OutOfSync', ok: false });
      expect(a.reason).toMatch(/sync OutOfSync/);
    }
    expect(json.clusters.map((c: any) => [c.context, c.reachable])).toEqual([
      ['cluster-a', true],
      ['cluster-b', true],
    ]);
  });

  it('refuses to sync while deploys are frozen (exit 3) and changes nothing', async () => {
    expect((await vpm(['freeze', 'on', '--reason', 'fleet test'], { cwd, env: runEnv })).exitCode).toBe(0);
    const r = await vpm(['clusters', 'sync'], { cwd, env: runEnv });
    expect(r.exitCode).toBe(3);
    expect(String(r.stderr)).toMatch(/frozen/);
    for (const n of NAMES) expect((await mgmt.get(`${APPS}/${n}`)).operation).toBeUndefined();
    expect((await vpm(['freeze', 'off'], { cwd, env: runEnv })).exitCode).toBe(0);
  });

  it('rejects an unknown app before changing anything', async () => {
    const r = await vpm(['clusters', 'sync', NAMES[0], 'root-app-nowhere'], { cwd, env: runEnv });
    expect(r.exitCode).toBe(1);
    expect(String(r.stderr)).toMatch(
      /root-app-nowhere not found.*\n.*known Applications: root-app-cluster-a, root-app-cluster-b; nothing was changed/,
    );
    expect((await mgmt.get(`${APPS}/${NAMES[0]}`)).operation).toBeUndefined();
  });

  it('vpm clusters sync: merge-patches operation with an honest initiatedBy, waits for Succeeded and Healthy', async () => {
    const sha = execFileSync('git', ['-C', REPO_ROOT, 'rev-parse', 'HEAD'], { encoding: 'utf8' }).trim();
    const { result, json } = await vpmJson(['clusters', 'sync', '--timeout', '90s'], { cwd, env: runEnv, timeoutMs: 120_000 });
    expect(result.exitCode, String(result.stderr)).toBe(0);
    expect(json.ok).toBe(true);
    expect(json.apps.map((a: any) => [a.name, a.phase, a.health])).toEqual([
      [NAMES[0], 'Succeeded', 'Healthy'],
      [NAMES[1], 'Succeeded', 'Healthy'],
    ]);
    for (const a of json.apps) {
      expect(a.revision).toBe(sha);
      expect(a.operation).toEqual({
        initiatedBy: { username: `vpm/${user}`, automated: false },
        info: [{ name: 'vpm-request', value: json.request_id }],
        sync: { revision: 'HEAD' },
      });
    }
    for (const n of NAMES) {
      const app = await mgmt.get(`${APPS}/${n}`);
      expect(app.status.operationState.operation.initiatedBy).toEqual({ username: `vpm/${user}`, automated: false });
      expect(app.status.history.at(-1)).toMatchObject({ revision: sha, initiatedBy: { username: `vpm/${user}` } });
    }
    // The workloads landed on each cluster, labelled by the app that owns them.
    for (const c of ['cluster-a', 'cluster-b']) {
      const kube = await Kube.fromKubeconfig(env.kubeconfig, c);
      const ksvc = await kube.get('/apis/serving.knative.dev/v1/namespaces/fleet/services/hello');
      expect(ksvc.metadata.labels['app.kubernetes.io/instance']).toBe(`root-app-${c}`);
      expect(ksvc.metadata.annotations['vpm.dev/cluster']).toBe(c);
      kube.close();
    }
  });

  it('vpm clusters status --json: both Synced and Healthy with revision, operation phase and reconciledAt (exit 0)', async () => {
    const { result, json } = await vpmJson(['clusters', 'status'], { cwd, env: runEnv });
    expect(result.exitCode, String(result.stderr)).toBe(0);
    expect(json.ok).toBe(true);
    expect(json.argocd).toEqual({ context: 'cluster-a', namespace: 'argocd', reachable: true, error: null });
    for (const [i, c] of ['cluster-a', 'cluster-b'].entries()) {
      const a = json.apps[i];
      expect(a).toMatchObject({
        name: `root-app-${c}`,
        cluster: c,
        sync: 'Synced',
        health: 'Healthy',
        operation_phase: 'Succeeded',
        ok: true,
        reason: null,
      });
      expect(a.revision).toMatch(/^[0-9a-f]{40}$/);
      expect(Date.parse(a.reconciled_at)).not.toBeNaN();
    }
    const human = await vpm(['clusters', 'status'], { cwd, env: runEnv });
    expect(human.exitCode).toBe(0);
    expect(String(human.stdout)).toMatch(/root-app-cluster-b\s+cluster-b\s+Synced\s+Healthy/);
    // --watch returns at once when everything is healthy.
    expect((await vpm(['clusters', 'status', '--watch', '--timeout', '10s'], { cwd, env: runEnv })).exitCode).toBe(0);
  });

  it('a sync that Argo CD reports Failed exits 1 with its message; a too-short --timeout exits 5', async () => {
    await mgmt.apply(
      {
        apiVersion: 'argoproj.io/v1alpha1',
        kind: 'Application',
        metadata: { name: 'fleet-broken', namespace: 'argocd' },
        spec: {
          project: 'vpm',
          source: { repoURL: 'https://github.com/your-org/vpm.git', path: 'infra/k8s/overlays/cluster-a' },
          destination: { name: 'cluster-z', namespace: 'fleet' },
        },
      },
      'fleet-test',
    );
    try {
      const failed = await vpmJson(['clusters', 'sync', 'fleet-broken', '--timeout', '30s'], { cwd, env: runEnv });
      expect(failed.result.exitCode).toBe(1);
      expect(failed.json.apps[0]).toMatchObject({ name: 'fleet-broken', phase: 'Failed', ok: false });
      expect(failed.json.apps[0].message).toMatch(/cluster-z/);
      // Status over a selector ignores the broken app; over everything it reports it.
      expect((await vpm(['clusters', 'status', '-l', 'vpm.dev/fleet=root'], { cwd, env: runEnv })).exitCode).toBe(0);
      expect((await vpm(['clusters', 'status'], { cwd, env: runEnv })).exitCode).toBe(1);

      const slow = await vpmJson(['clusters', 'sync', NAMES[0], '--timeout', '1ms'], { cwd, env: runEnv });
      expect(slow.result.exitCode).toBe(5);
      expect(slow.json.apps[0]).toMatchObject({ phase: 'Timeout', timed_out: true });
      // The requested sync still completes in Argo CD; wait for it so later tests start clean.
      await until(async () => {
        const a = await mgmt.get(`${APPS}/${NAMES[0]}`);
        return !a.operation && a.status?.operationState?.phase === 'Succeeded';
      }, 'the timed-out sync to finish');
    } finally {
      await mgmt.delete(`${APPS}/fleet-broken`);
    }
  });

  it('bad flags are usage errors before anything is read', async () => {
    expect((await vpm(['clusters', 'sync', '--timeout', 'soon'], { cwd, env: runEnv })).exitCode).toBe(2);
    expect((await vpm(['clusters', 'status', '--contexts', 'cluster-a,nope'], { cwd, env: runEnv })).exitCode).toBe(2);
    expect((await vpm(['clusters', 'status', '--timeout', '5s'], { cwd, env: runEnv })).exitCode).toBe(2);
  });

  it("cluster-b's API server stopped: status reports it Unknown with the reason, within its timeout, still reporting cluster-a (exit 1)", async () => {
    const pid = env.clusters['cluster-b'].apiserverPid;
    const gone = () => {
      try {
        // A zombie (exited, not yet reaped) counts as gone.
        return fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.startsWith('Z') ?? true;
      } catch {
        return true;
      }
    };
    process.kill(pid, 'SIGTERM');
    // kube-apiserver drains its watches on SIGTERM; like the testenv's restart, give it 10 s, then kill.
    await until(async () => gone(), 'kube-apiserver of cluster-b to exit', 10_000).catch(() => process.kill(pid, 'SIGKILL'));
    await until(async () => gone(), 'kube-apiserver of cluster-b to die', 10_000);

    const t0 = Date.now();
    const { result, json } = await vpmJson(['clusters', 'status', '--request-timeout', '3s'], { cwd, env: runEnv, timeoutMs: 30_000 });
    const elapsed = Date.now() - t0;
    expect(result.exitCode).toBe(1);
    expect(elapsed).toBeLessThan(3_000 + 5_000); // the timeout plus process start-up, with margin
    expect(json.ok).toBe(false);
    const [a, b] = json.apps;
    expect(a).toMatchObject({ name: NAMES[0], cluster: 'cluster-a', sync: 'Synced', health: 'Healthy', ok: true });
    expect(b).toMatchObject({ name: NAMES[1], cluster: 'cluster-b', sync: 'Unknown', health: 'Unknown', ok: false });
    expect(b.reason).toMatch(/cluster cluster-b is unreachable: .*(ECONNREFUSED|no answer)/);
    expect(b.last_reported).toMatchObject({ sync: 'Synced', health: 'Healthy' });
    expect(json.clusters.find((c: any) => c.context === 'cluster-b')).toMatchObject({ reachable: false });
    expect(json.clusters.find((c: any) => c.context === 'cluster-a')).toMatchObject({ reachable: true });

    const human = await vpm(['clusters', 'status', '--request-timeout', '3s'], { cwd, env: runEnv });
    expect(human.exitCode).toBe(1);
    expect(String(human.stdout)).toMatch(/root-app-cluster-b\s+cluster-b\s+Unknown\s+Unknown/);
    expect(String(human.stdout)).toMatch(/cluster-b: UNREACHABLE/);
  });

  it('a black-holed API server (accepts, never answers) is also bounded by --request-timeout', async () => {
    const net = await import('node:net');
    const conns: import('node:net').Socket[] = [];
    const hole = net.createServer((c) => void conns.push(c));
    await new Promise<void>((r) => hole.listen(0, '127.0.0.1', () => r()));
    const port = (hole.address() as import('node:net').AddressInfo).port;
    const kc = fs.readFileSync(env.kubeconfig, 'utf8').replace(env.clusters['cluster-b'].server, `https://127.0.0.1:${port}`);
    const kcFile = path.join(cwd, 'blackhole.kubeconfig');
    fs.writeFileSync(kcFile, kc, { mode: 0o600 });
    try {
      const t0 = Date.now();
      const { result, json } = await vpmJson(['clusters', 'status', '--request-timeout', '1500ms', '--kubeconfig', kcFile], {
        cwd,
        env: runEnv,
        timeoutMs: 30_000,
      });
      expect(result.exitCode).toBe(1);
      expect(Date.now() - t0).toBeLessThan(1_500 + 5_000);
      expect(json.apps[1]).toMatchObject({ sync: 'Unknown' });
      expect(json.apps[1].reason).toMatch(/cannot reach the API server at https:\/\/127\.0\.0\.1:\d+: no answer within 1500 ms/);
    } finally {
      for (const c of conns) c.destroy();
      hole.close();
    }
  });
});
