/**
 * Issues 7 and 19, against the REAL Argo CD (v3.6.2, tests/support/argocd-real.ts) on two real API
 * servers: the repo's own AppProject + ApplicationSet (infra/argocd/, repoURL pointed at a local git
 * repository holding infra/k8s) yield root-app-cluster-a/b; `vpm clusters sync` syncs them to fresh
 * clusters (namespace `fleet` created: CreateNamespace=true copied from spec.syncPolicy), `vpm clusters
 * status` reports both Synced/Healthy; a sync that cannot finish is terminated on vpm's timeout; then
 * cluster-b's API server is stopped (status reports it Unknown within its timeout while Argo CD still
 * says Healthy; a sync to it fails with Argo CD's message) and restarted (a sync succeeds again).
 * Both clusters are real Knative Serving stacks (tests/support/knative-real.ts, stacks 0 and 1): the real
 * controller makes the KService Ready once its pod (the test app standing in for the project's image,
 * which cannot be pulled here) really runs, and Argo CD's own health check reads that.
 *
 * This suite starts its own environment (not the shared one): stopping an API server must not
 * disturb suites running in parallel.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { Testenv, findAssets, REPO_ROOT, type TestenvInfo } from '../support/testenv.ts';
import { findArgoCd, projectArgoCdObjects, type RealArgoCd } from '../support/argocd-real.ts';
import { findKnative } from '../support/knative-real.ts';
import { Kube } from '../support/kube.ts';
import { execa } from 'execa';
import { VPM_BIN, vpm, vpmJson } from '../helpers/cli.js';

const APPS = '/apis/argoproj.io/v1alpha1/namespaces/argocd/applications';
const PROJECT = '/apis/argoproj.io/v1alpha1/namespaces/argocd/appprojects/vpm';
const KSVC = '/apis/serving.knative.dev/v1/namespaces/fleet/services/hello';
const NAMES = ['root-app-cluster-a', 'root-app-cluster-b'];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const assets = findAssets();
const argo = findArgoCd();
const knative = findKnative();
const missing = [assets, argo, knative].map((f) => ('missing' in f ? f.missing : undefined)).find(Boolean);
const available = !missing;
if (missing && process.env.VPM_REQUIRE_TESTENV === '1') throw new Error(`VPM_REQUIRE_TESTENV=1 but ${missing}`);

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

describe.skipIf(!available)('vpm clusters (two real Knative clusters, real Argo CD)', () => {
  let testenv: Testenv;
  let env: TestenvInfo;
  let argocd: RealArgoCd;
  let mgmt: Kube;
  let cwd: string;
  let runEnv: Record<string, string>;
  const user = 'fleet-tester';

  beforeAll(async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vpm-fleet-env-'));
    const logFile = path.join(dir, 'testenv.log');
    testenv = new Testenv({ dir, repoDir: REPO_ROOT, log: (m) => fs.appendFileSync(logFile, `${m}\n`) });
    env = await testenv.ensure({ clusters: 2, argocd: 'real', knative: 'real' });
    argocd = testenv.realArgoCd!;
    mgmt = await Kube.fromKubeconfig(env.kubeconfig, 'cluster-a');
    cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'vpm-fleet-repo-'));
    execFileSync('git', ['init', '-q', cwd]);
    runEnv = { KUBECONFIG: env.kubeconfig, VPM_ACTOR: user };
    for (const o of projectArgoCdObjects(REPO_ROOT, argocd.repoURL)) await mgmt.apply(o, 'fleet-test');
    for (const n of NAMES) await until(() => mgmt.getOrNull(`${APPS}/${n}`), `Application ${n}`);
  }, 240_000);

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
        source: { path: `infra/k8s/overlays/${c}`, targetRevision: 'HEAD', repoURL: argocd.repoURL },
        syncPolicy: { syncOptions: ['CreateNamespace=true', 'RespectIgnoreDifferences=true'] },
        ignoreDifferences: [{ group: 'serving.knative.dev', kind: 'Service', jsonPointers: ['/spec/traffic'] }],
      });
      expect(app.spec.syncPolicy?.automated).toBeUndefined();
      expect(app.metadata.ownerReferences[0]).toMatchObject({ kind: 'ApplicationSet', name: 'root-apps' });
    }
  });

  it('before any sync: status exits 1 and says why', async () => {
    for (const n of NAMES)
      await until(async () => (await mgmt.get(`${APPS}/${n}`)).status?.sync?.status === 'OutOfSync', `first comparison of ${n}`, 90_000);
    // Fresh clusters: nothing of the fleet there yet.
    for (const c of ['cluster-a', 'cluster-b']) {
      const kube = await Kube.fromKubeconfig(env.kubeconfig, c);
      expect(await kube.getOrNull('/api/v1/namespaces/fleet')).toBeNull();
      kube.close();
    }
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

  it('vpm clusters sync to fresh clusters: the operation as Argo CD’s API builds it (syncOptions from spec.syncPolicy), namespace created, Succeeded and Healthy', async () => {
    const sha = argocd.git('rev-parse', 'HEAD');
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
        initiatedBy: { username: `vpm/${user}` },
        info: [{ name: 'vpm-request', value: json.request_id }],
        sync: { revision: 'HEAD', syncOptions: ['CreateNamespace=true', 'RespectIgnoreDifferences=true'] },
      });
    }
    for (const n of NAMES) {
      const app = await mgmt.get(`${APPS}/${n}`);
      // What the real controller recorded: our user, not automated; the requested revision stays HEAD.
      expect(app.status.operationState.operation.initiatedBy).toEqual({ username: `vpm/${user}` });
      expect(app.status.operationState.operation.sync).toMatchObject({
        revision: 'HEAD',
        syncOptions: ['CreateNamespace=true', 'RespectIgnoreDifferences=true'],
      });
      expect(app.status.operationState.syncResult.revision).toBe(sha);
      expect(app.status.history.at(-1)).toMatchObject({ revision: sha, initiatedBy: { username: `vpm/${user}` } });
    }
    // The workloads landed on each cluster, in the namespace Argo CD created, tracked by annotation.
    for (const c of ['cluster-a', 'cluster-b']) {
      const kube = await Kube.fromKubeconfig(env.kubeconfig, c);
      expect(await kube.getOrNull('/api/v1/namespaces/fleet')).not.toBeNull();
      const ksvc = await kube.get(KSVC);
      expect(ksvc.metadata.annotations['argocd.argoproj.io/tracking-id']).toBe(`root-app-${c}:serving.knative.dev/Service:fleet/hello`);
      expect(ksvc.metadata.annotations['vpm.dev/cluster']).toBe(c);
      expect(ksvc.status.conditions.find((x: any) => x.type === 'Ready')?.status).toBe('True');
      // Ready because its pod really runs: the app beside Knative's queue-proxy, on this cluster's kubelet
      const pods = (await kube.get('/api/v1/namespaces/fleet/pods')).items as any[];
      expect(pods.some((p) => p.status.phase === 'Running' && p.spec.containers.some((x: any) => x.name === 'queue-proxy'))).toBe(true);
      expect(pods[0].spec.nodeName).toBe(`vpmkn${c === 'cluster-a' ? 0 : 1}-node-0`);
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
      // The real fields: Argo CD's conditions (none for a healthy app) and the operation's retry count.
      expect(a).toMatchObject({ conditions: [], retry_count: 0 });
    }
    const human = await vpm(['clusters', 'status'], { cwd, env: runEnv });
    expect(human.exitCode).toBe(0);
    expect(String(human.stdout)).toMatch(/root-app-cluster-b\s+cluster-b\s+Synced\s+Healthy/);
    // --watch returns at once when everything is healthy.
    expect((await vpm(['clusters', 'status', '--watch', '--timeout', '10s'], { cwd, env: runEnv })).exitCode).toBe(0);
  });

  it('vpm freeze on holds Argo CD (raw operation patch: "blocked by sync window"), vpm clusters sync (exit 3), writes to the KService (admission policy) and canary start from another clone; freeze off releases all', async () => {
    const cfg = 'fleet:\n  contexts: [cluster-a, cluster-b]\n';
    fs.writeFileSync(path.join(cwd, 'vpm.config.yaml'), cfg);
    // Another clone of the same repository: same config, no .ops/deploy_freeze.json of its own.
    const clone = fs.mkdtempSync(path.join(os.tmpdir(), 'vpm-fleet-clone-'));
    execFileSync('git', ['init', '-q', clone]);
    fs.writeFileSync(path.join(clone, 'vpm.config.yaml'), cfg);
    const kubeB = await Kube.fromKubeconfig(env.kubeconfig, 'cluster-b');
    try {
      const on = await vpmJson(['freeze', 'on', '--reason', 'release freeze 19'], { cwd, env: runEnv });
      expect(on.result.exitCode, String(on.result.stderr)).toBe(0);
      expect(on.json.places.filter((p: any) => !p.ok)).toEqual([]);
      expect(on.json.places.map((p: any) => `${p.kind}:${p.context}:${p.name}`).sort()).toEqual([
        'appproject:cluster-a:argocd/vpm',
        'namespace:cluster-a:fleet',
        'namespace:cluster-b:fleet',
        'policy:cluster-a:vpm-freeze',
        'policy:cluster-b:vpm-freeze',
      ]);
      const windows = (await mgmt.get(PROJECT)).spec.syncWindows;
      expect(windows).toEqual([
        expect.objectContaining({ kind: 'deny', applications: ['*'], description: expect.stringMatching(/^vpm:freeze release freeze 19/) }),
      ]);

      // (1) A sync requested by another client (a raw patch of `operation`, as kubectl would) is held by Argo CD.
      await mgmt.mergePatch(`${APPS}/${NAMES[0]}`, {
        operation: { initiatedBy: { username: 'kubectl-user' }, sync: { revision: 'HEAD', syncOptions: ['CreateNamespace=true'] } },
      });
      const held = await until(
        async () => {
          const a = await mgmt.get(`${APPS}/${NAMES[0]}`);
          return /blocked by sync window/i.test(a.status?.operationState?.message ?? '') && a;
        },
        'Argo CD to hold the raw sync',
        60_000,
      );
      expect(held.status.operationState.phase).toBe('Running');

      // (2) vpm clusters sync from the other clone: refused by the window (exit 3), window named.
      const sync = await vpm(['clusters', 'sync', NAMES[1]], { cwd: clone, env: runEnv });
      expect(sync.exitCode, String(sync.stderr)).toBe(3);
      expect(String(sync.stderr)).toMatch(/blocked by a sync window of AppProject vpm: deny window "\* \* \* \* \*".*release freeze 19/);

      // (3) Any client changing the KService: rejected by the API server with the freeze's reason.
      const change = { spec: { template: { metadata: { annotations: { 'vpm.dev/test': 'changed' } } } } };
      const rejected = await kubeB.mergePatch(KSVC, change).then(
        () => null,
        (e: any) => e,
      );
      expect(rejected?.status).toBe(403);
      expect(JSON.stringify(rejected.body)).toMatch(/deploys are frozen in namespace fleet by vpm freeze: .*release freeze 19/);
      // …unless the object carries the override annotation with a reason.
      await kubeB.mergePatch(KSVC, { metadata: { annotations: { 'vpm.dev/freeze-override': 'hotfix 7' } }, ...change });
      await kubeB.mergePatch(KSVC, { metadata: { annotations: { 'vpm.dev/freeze-override': null } } });
      // …and only with the change that brings it: an override left on the object lets nothing else through.
      await kubeB.mergePatch(KSVC, {
        metadata: { annotations: { 'vpm.dev/freeze-override': 'hotfix 8' } },
        spec: { template: { metadata: { annotations: { 'vpm.dev/test': 'again' } } } },
      });
      const stale = await kubeB
        .mergePatch(KSVC, { spec: { template: { metadata: { annotations: { 'vpm.dev/test': 'once more' } } } } })
        .then(
          () => null,
          (e: any) => e,
        );
      expect(stale?.status).toBe(403);
      await kubeB.mergePatch(KSVC, { metadata: { annotations: { 'vpm.dev/freeze-override': null } } });

      // (3b) vpm canary abort lowers risk and is allowed while frozen: it brings its own override.
      // (A namespace of its own, frozen the way vpm freezes one, so Argo CD's app is left alone.)
      await kubeB.apply(
        { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'fleet-abort', labels: { 'vpm.dev/frozen': 'true' } } },
        'vpm-test',
      );
      await kubeB.apply(
        {
          apiVersion: 'serving.knative.dev/v1',
          kind: 'Service',
          metadata: {
            name: 'hello',
            namespace: 'fleet-abort',
            annotations: {
              'vpm.dev/freeze-override': 'test set-up',
              'vpm.dev/canary': JSON.stringify({
                run_id: 'canary_test',
                stable: 'hello-00001',
                candidate: 'hello-00002',
                steps: [10, 50, 100],
                step_index: 0,
                phase: 'progressing',
                updated_at: '2026-01-01T00:00:00.000Z',
              }),
            },
          },
          spec: {
            template: { spec: { containers: [{ image: 'example.test/hello:1' }] } },
            traffic: [
              { revisionName: 'hello-00001', percent: 90, tag: 'stable' },
              { revisionName: 'hello-00002', percent: 10, tag: 'candidate' },
            ],
          },
        },
        'vpm-test',
      );
      const abort = await vpm(['canary', 'abort', 'hello', '--context', 'cluster-b', '--namespace', 'fleet-abort'], {
        cwd: clone,
        env: runEnv,
      });
      expect(abort.exitCode, String(abort.stderr)).toBe(0);
      const aborted = await kubeB.get('/apis/serving.knative.dev/v1/namespaces/fleet-abort/services/hello');
      expect(aborted.spec.traffic.find((t: any) => t.revisionName === 'hello-00001')?.percent).toBe(100);
      expect(aborted.metadata.annotations['vpm.dev/freeze-override']).toMatch(/^vpm: traffic back to hello-00001/);
      await kubeB.delete('/api/v1/namespaces/fleet-abort');

      // (4) canary start from the other clone (no freeze file there): exit 3, from the namespace annotation.
      const canary = await vpm(['canary', 'start', 'hello', '--context', 'cluster-b', '--namespace', 'fleet'], { cwd: clone, env: runEnv });
      expect(canary.exitCode, String(canary.stderr)).toBe(3);
      expect(String(canary.stderr)).toMatch(/deploys are frozen on the cluster \(namespace fleet, context cluster-b\).*release freeze 19/);

      // freeze status in the other clone finds the cluster freeze and says the places disagree.
      const st = await vpmJson(['freeze', 'status'], { cwd: clone, env: runEnv });
      expect(st.json.active).toBe(true);
      expect(st.json.disagree).toBe(true);
      expect(st.json.places).toEqual(
        expect.arrayContaining([
          expect.stringMatching(/AppProject vpm deny window/),
          expect.stringMatching(/namespace fleet annotation \(context cluster-b\)/),
        ]),
      );
      expect(String((await vpm(['freeze', 'status'], { cwd: clone, env: runEnv })).stdout)).toMatch(/DISAGREE/);

      // freeze off removes exactly what vpm added, and all three proceed.
      const off = await vpmJson(['freeze', 'off'], { cwd, env: runEnv });
      expect(off.result.exitCode, String(off.result.stderr)).toBe(0);
      expect((await mgmt.get(PROJECT)).spec.syncWindows ?? []).toEqual([]);
      const ns = await kubeB.get('/api/v1/namespaces/fleet');
      expect(ns.metadata.annotations?.['vpm.dev/freeze']).toBeUndefined();
      expect(ns.metadata.labels?.['vpm.dev/frozen']).toBeUndefined();
      expect(await kubeB.getOrNull('/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicies/vpm-freeze')).toBeNull();
      const released = await until(
        async () => {
          const a = await mgmt.get(`${APPS}/${NAMES[0]}`);
          return (
            a.status?.operationState?.operation?.initiatedBy?.username === 'kubectl-user' &&
            a.status.operationState.phase === 'Succeeded' &&
            a
          );
        },
        'the held sync to run after freeze off',
        120_000,
      );
      expect(released.operation).toBeUndefined();
      await until(
        async () => {
          try {
            await kubeB.mergePatch(KSVC, { spec: { template: { metadata: { annotations: { 'vpm.dev/test': null } } } } });
            return true;
          } catch {
            return false;
          }
        },
        'the KService to accept changes again',
        10_000,
      );
      const again = await vpm(['clusters', 'sync', NAMES[1], '--timeout', '90s'], { cwd: clone, env: runEnv, timeoutMs: 120_000 });
      expect(again.exitCode, String(again.stderr)).toBe(0);
      // The audit says who, why and where, for on and off.
      const audit = fs
        .readFileSync(path.join(cwd, '.ops/deploy_freeze_audit.jsonl'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      expect(audit.at(-2)).toMatchObject({ event: 'on', by: user, reason: 'release freeze 19' });
      expect(audit.at(-2).where).toEqual(
        expect.arrayContaining(['.ops/deploy_freeze.json', expect.objectContaining({ kind: 'appproject', ok: true })]),
      );
      expect(audit.at(-1)).toMatchObject({ event: 'off', by: user });
    } finally {
      kubeB.close();
      await vpm(['freeze', 'off'], { cwd, env: runEnv });
      fs.rmSync(path.join(cwd, 'vpm.config.yaml'), { force: true });
    }
  }, 300_000);

  it('a sync held by a deny window: vpm times out (exit 5) and terminates its operation; no sync happens later', async () => {
    const before = (await mgmt.get(`${APPS}/${NAMES[0]}`)).status.history.length;
    const proj = await mgmt.get(PROJECT);
    const window = {
      kind: 'deny',
      schedule: '* * * * *',
      duration: '1h',
      applications: [NAMES[0]],
      manualSync: false,
      description: 'test: maintenance',
    };
    await mgmt.mergePatch(PROJECT, { spec: { syncWindows: [...(proj.spec.syncWindows ?? []), window] } });
    try {
      // Without an override vpm refuses, naming the window (exit 3).
      const refused = await vpm(['clusters', 'sync', NAMES[0]], { cwd, env: runEnv });
      expect(refused.exitCode).toBe(3);
      expect(String(refused.stderr)).toMatch(/deny window .*test: maintenance/);
      // With one, Argo CD itself still holds the operation: vpm times out and terminates it.
      const t0 = Date.now();
      const { result, json } = await vpmJson(
        ['clusters', 'sync', NAMES[0], '--timeout', '5s', '--force-freeze', '--reason', 'test the terminate path'],
        { cwd, env: runEnv, timeoutMs: 60_000 },
      );
      expect(result.exitCode, String(result.stderr)).toBe(5);
      expect(json.apps[0]).toMatchObject({ phase: 'Timeout', timed_out: true, terminated: 'terminated' });
      expect(json.apps[0].message).toMatch(/blocked by sync window/i);
      expect(Date.now() - t0).toBeLessThan(30_000);
      const after = await mgmt.get(`${APPS}/${NAMES[0]}`);
      expect(after.operation).toBeUndefined();
      expect(after.status.operationState.phase).not.toBe('Running');
    } finally {
      const p = await mgmt.get(PROJECT);
      await mgmt.mergePatch(PROJECT, {
        spec: { syncWindows: (p.spec.syncWindows ?? []).filter((w: any) => w.description !== 'test: maintenance') },
      });
    }
    // The window is gone: had the operation survived, it would run now.
    await sleep(5_000);
    const app = await mgmt.get(`${APPS}/${NAMES[0]}`);
    expect(app.operation).toBeUndefined();
    expect(app.status.history.length).toBe(before);
  }, 120_000);

  it('vpm freeze schedule add: stored in config and mirrored into the AppProject as a deny window in its time zone; remove takes it out', async () => {
    fs.writeFileSync(path.join(cwd, 'vpm.config.yaml'), '# fleet of the test\nfleet:\n  contexts: [cluster-a, cluster-b]\n');
    try {
      const add = await vpmJson(
        [
          'freeze',
          'schedule',
          'add',
          '--cron',
          '0 18 * * 5',
          '--duration',
          '64h',
          '--tz',
          'Asia/Tokyo',
          '--reason',
          'weekend',
          '--id',
          'weekend',
        ],
        { cwd, env: runEnv },
      );
      expect(add.result.exitCode, String(add.result.stderr)).toBe(0);
      expect(add.json.appproject).toMatchObject({ ok: true });
      // Next start: a Friday 18:00 in Tokyo = 09:00 UTC.
      expect(add.json.next[0]).toMatch(/T09:00:00\.000Z$/);
      expect(new Date(add.json.next[0]).getUTCDay()).toBe(5);
      const text = fs.readFileSync(path.join(cwd, 'vpm.config.yaml'), 'utf8');
      expect(text).toMatch(/^# fleet of the test/);
      expect(text).toMatch(/cron: 0 18 \* \* 5/);
      expect((await mgmt.get(PROJECT)).spec.syncWindows).toEqual([
        expect.objectContaining({
          kind: 'deny',
          schedule: '0 18 * * 5',
          duration: '64h',
          timeZone: 'Asia/Tokyo',
          manualSync: false,
          applications: ['*'],
        }),
      ]);
      expect(
        (await vpm(['freeze', 'schedule', 'add', '--cron', '0 18 * *', '--duration', '1h', '--reason', 'x'], { cwd, env: runEnv }))
          .exitCode,
      ).toBe(2);
      const rm = await vpm(['freeze', 'schedule', 'remove', 'weekend'], { cwd, env: runEnv });
      expect(rm.exitCode, String(rm.stderr)).toBe(0);
      expect((await mgmt.get(PROJECT)).spec.syncWindows ?? []).toEqual([]);
    } finally {
      fs.rmSync(path.join(cwd, 'vpm.config.yaml'), { force: true });
    }
  });

  it('a sync that Argo CD reports Failed exits 1 with its message; a too-short --timeout exits 5', async () => {
    await mgmt.apply(
      {
        apiVersion: 'argoproj.io/v1alpha1',
        kind: 'Application',
        metadata: { name: 'fleet-broken', namespace: 'argocd' },
        spec: {
          project: 'vpm',
          source: { repoURL: argocd.repoURL, path: 'infra/k8s/overlays/cluster-a' },
          destination: { name: 'cluster-z', namespace: 'fleet' },
        },
      },
      'fleet-test',
    );
    try {
      const failed = await vpmJson(['clusters', 'sync', 'fleet-broken', '--timeout', '30s'], { cwd, env: runEnv });
      expect(failed.result.exitCode).toBe(1);
      // The real controller ends an operation whose destination cluster does not exist in phase Error
      // (the simulator said Failed); either exits 1.
      expect(failed.json.apps[0]).toMatchObject({ name: 'fleet-broken', phase: 'Error', ok: false });
      expect(failed.json.apps[0].message).toMatch(/cluster-z/);
      // Status over a selector ignores the broken app; over everything it reports it.
      expect((await vpm(['clusters', 'status', '-l', 'vpm.dev/fleet=root'], { cwd, env: runEnv })).exitCode).toBe(0);
      const all = await vpmJson(['clusters', 'status'], { cwd, env: runEnv });
      expect(all.result.exitCode).toBe(1);
      // status reports Argo CD's own condition for it (the real controller's InvalidSpecError names the cluster).
      const broken = all.json.apps.find((a: any) => a.name === 'fleet-broken');
      expect(broken.conditions.map((c: any) => `${c.type}: ${c.message}`).join('\n')).toMatch(/cluster-z/);

      const before = (await mgmt.get(`${APPS}/${NAMES[0]}`)).status.history.length;
      const slow = await vpmJson(['clusters', 'sync', NAMES[0], '--timeout', '1ms'], { cwd, env: runEnv });
      expect(slow.result.exitCode).toBe(5);
      expect(slow.json.apps[0]).toMatchObject({ phase: 'Timeout', timed_out: true });
      // vpm ended the operation it started: withdrawn before the controller took it, or terminated.
      expect(['withdrawn', 'terminated', 'already-finished']).toContain(slow.json.apps[0].terminated);
      await until(async () => {
        const a = await mgmt.get(`${APPS}/${NAMES[0]}`);
        return !a.operation && a.status?.operationState?.phase !== 'Running' && a;
      }, 'no operation left behind');
      if (slow.json.apps[0].terminated !== 'already-finished') {
        await sleep(2_000);
        expect((await mgmt.get(`${APPS}/${NAMES[0]}`)).status.history.length).toBe(before);
      }
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
    await testenv.stopApiServer('cluster-b');
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
    // Argo CD itself still says Synced/Healthy (warm cache): vpm's own check is what caught it.
    const app = await mgmt.get(`${APPS}/${NAMES[1]}`);
    expect([app.status.sync.status, app.status.health.status]).toEqual(['Synced', 'Healthy']);

    // A sync to it fails with Argo CD's own message (exit 1), quickly.
    const sync = await vpmJson(['clusters', 'sync', NAMES[1], '--timeout', '60s'], { cwd, env: runEnv, timeoutMs: 90_000 });
    expect(sync.result.exitCode, String(sync.result.stderr)).toBe(1);
    expect(sync.json.apps[0]).toMatchObject({ name: NAMES[1], ok: false });
    expect(['Failed', 'Error']).toContain(sync.json.apps[0].phase);
    expect(sync.json.apps[0].message).toMatch(/127\.0\.0\.1|connection refused|discover|unreachable/i);
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

  it('cluster-b restarted: status reachable again and a sync succeeds', async () => {
    await testenv.startApiServer('cluster-b');
    const { result, json } = await vpmJson(['clusters', 'sync', NAMES[1], '--timeout', '120s'], { cwd, env: runEnv, timeoutMs: 150_000 });
    expect(result.exitCode, String(result.stderr) + JSON.stringify(json.apps?.[0])).toBe(0);
    expect(json.apps[0]).toMatchObject({ name: NAMES[1], phase: 'Succeeded', health: 'Healthy', ok: true });
    const st = await vpmJson(['clusters', 'status', '--request-timeout', '3s'], { cwd, env: runEnv });
    expect(st.json.clusters.find((c: any) => c.context === 'cluster-b')).toMatchObject({ reachable: true });
  });

  it('clusters diff --exit-code names the resource and field of a changed overlay; history and rollback against the real history', async () => {
    const repo = argocd.gitDir;
    // The fleet repository's checkout, with kustomize (the one Argo CD's repo-server uses) on PATH.
    const diffEnv = { ...runEnv, PATH: `${path.dirname(argocd.kustomizePath)}:${process.env.PATH}` };
    const clean = await vpmJson(['clusters', 'diff', NAMES[1], '--exit-code'], { cwd: repo, env: diffEnv });
    expect(clean.result.exitCode, JSON.stringify(clean.json)).toBe(0);
    expect(clean.json.apps[0]).toMatchObject({ name: NAMES[1], rendered_with: 'kustomize', differs: false, error: null });

    const overlay = path.join(repo, 'infra/k8s/overlays/cluster-b/kustomization.yaml');
    const original = fs.readFileSync(overlay, 'utf8');
    fs.writeFileSync(overlay, original.replace('vpm.dev/cluster: cluster-b', 'vpm.dev/cluster: cluster-b-v2'));
    const changed = await vpmJson(['clusters', 'diff', NAMES[1], '--exit-code'], { cwd: repo, env: diffEnv });
    expect(changed.result.exitCode).toBe(1);
    expect(changed.json.apps[0].resources).toEqual([
      {
        resource: 'serving.knative.dev/Service/fleet/hello',
        change: 'update',
        fields: expect.arrayContaining([{ path: 'metadata.annotations."vpm.dev/cluster"', live: 'cluster-b', desired: 'cluster-b-v2' }]),
      },
    ]);
    expect(String((await vpm(['clusters', 'diff', NAMES[1]], { cwd: repo, env: diffEnv })).stdout)).toMatch(
      /~ serving\.knative\.dev\/Service\/fleet\/hello\n\s+metadata\.annotations\."vpm\.dev\/cluster": "cluster-b" → "cluster-b-v2"/,
    );

    // Commit and sync it: a new history entry; then roll back to the entry before.
    const oldSha = argocd.git('rev-parse', 'HEAD');
    argocd.git('commit', '-qam', 'cluster-b v2');
    const newSha = argocd.git('rev-parse', 'HEAD');
    const synced = await vpmJson(['clusters', 'sync', NAMES[1], '--timeout', '90s'], { cwd, env: runEnv, timeoutMs: 120_000 });
    expect(synced.result.exitCode, String(synced.result.stderr)).toBe(0);
    expect(synced.json.apps[0].revision).toBe(newSha);
    const hist = await vpmJson(['clusters', 'history', NAMES[1]], { cwd, env: runEnv });
    expect(hist.result.exitCode).toBe(0);
    const ids = hist.json.history.map((h: any) => h.id);
    expect(ids).toEqual([...ids].sort((a: number, b: number) => a - b));
    expect(hist.json.history.at(-1)).toMatchObject({ revision: newSha, initiated_by: `vpm/${user}` });
    const previous = hist.json.history.filter((h: any) => h.revision === oldSha).at(-1);
    expect(previous).toBeDefined();

    // Refused while frozen (exit 3), nothing changed.
    expect((await vpm(['freeze', 'on', '--local', '--reason', 'no rollbacks now'], { cwd, env: runEnv })).exitCode).toBe(0);
    expect((await vpm(['clusters', 'rollback', NAMES[1], String(previous.id)], { cwd, env: runEnv })).exitCode).toBe(3);
    expect((await vpm(['freeze', 'off', '--local'], { cwd, env: runEnv })).exitCode).toBe(0);

    const rb = await vpmJson(['clusters', 'rollback', NAMES[1], String(previous.id), '--timeout', '90s'], {
      cwd,
      env: runEnv,
      timeoutMs: 120_000,
    });
    expect(rb.result.exitCode, String(rb.result.stderr)).toBe(0);
    expect(rb.json.app).toMatchObject({ phase: 'Succeeded', revision: oldSha });
    const kubeB = await Kube.fromKubeconfig(env.kubeconfig, 'cluster-b');
    expect((await kubeB.get(KSVC)).metadata.annotations['vpm.dev/cluster']).toBe('cluster-b');
    kubeB.close();
    const app = await mgmt.get(`${APPS}/${NAMES[1]}`);
    expect(app.status.history.at(-1)).toMatchObject({ revision: oldSha, initiatedBy: { username: `vpm/${user}` } });
    expect(app.status.operationState.operation.sync).toMatchObject({
      revision: oldSha,
      syncOptions: ['CreateNamespace=true', 'RespectIgnoreDifferences=true'],
    });

    // With auto-sync on, a rollback is refused as `argocd app rollback` refuses it.
    await mgmt.apply(
      {
        apiVersion: 'argoproj.io/v1alpha1',
        kind: 'Application',
        metadata: { name: 'fleet-auto', namespace: 'argocd' },
        spec: {
          project: 'default',
          source: { repoURL: argocd.repoURL, path: 'infra/k8s/overlays/cluster-a', targetRevision: 'HEAD' },
          destination: { name: 'cluster-a', namespace: 'fleet-auto' },
          syncPolicy: { automated: {}, syncOptions: ['CreateNamespace=true'] },
        },
      },
      'fleet-test',
    );
    try {
      const auto = await vpm(['clusters', 'rollback', 'fleet-auto', '1'], { cwd, env: runEnv });
      expect(auto.exitCode).toBe(3);
      expect(String(auto.stderr)).toMatch(/auto-sync is enabled/);
    } finally {
      await mgmt.delete(`${APPS}/fleet-auto`);
    }
  }, 300_000);

  it('a release held at 50% on cluster-a refuses `vpm clusters sync` of its Application (exit 3); once it ends the sync proceeds and leaves its routing alone', async () => {
    const kubeA = await Kube.fromKubeconfig(env.kubeconfig, 'cluster-a');
    try {
      const live = await kubeA.get(KSVC);
      const stable = live.status.latestReadyRevisionName as string;
      // The synced template with one change, routed as the project's manifests route (latestRevision)
      const template = structuredClone(live.spec.template);
      template.spec.containers[0].env = [{ name: 'MESSAGE', value: 'fleet-v2' }];
      const file = path.join(cwd, 'fleet-hello-v2.yaml');
      fs.writeFileSync(
        file,
        JSON.stringify({
          apiVersion: 'serving.knative.dev/v1',
          kind: 'Service',
          metadata: { name: 'hello', namespace: 'fleet', annotations: { 'vpm.dev/cluster': 'cluster-a' } },
          spec: { template, traffic: [{ latestRevision: true, percent: 100 }] },
        }),
      );
      const releaseEnv = { ...runEnv, VPM_INGRESS_URL: env.clusters['cluster-a'].knative!.ingressUrl };
      const args = ['release', 'hello', '-f', file, '-n', 'fleet', '--context', 'cluster-a', '--pause-at', '50', '--interval', '2s'];
      const release = execa(
        process.execPath,
        [VPM_BIN, '--cwd', cwd, '--json', ...args, '--guard-window', '0', '--ready-timeout', '180s'],
        {
          env: releaseEnv,
          reject: false,
        },
      );
      const held = await until(
        async () => {
          const c = JSON.parse((await kubeA.get(KSVC)).metadata.annotations?.['vpm.dev/canary'] ?? 'null');
          return c?.phase === 'paused' ? c : undefined;
        },
        'the release held at 50%',
        180_000,
      );
      const candidate = held.candidate as string;

      const refused = await vpmJson(['clusters', 'sync', NAMES[0], '--timeout', '60s'], { cwd, env: runEnv });
      expect(refused.result.exitCode, String(refused.result.stderr)).toBe(3);
      expect(refused.json.error.message).toMatch(
        /^a rollout is in progress: release release_\S+ on fleet\/hello \(cluster-a, app root-app-cluster-a, phase canary\)/,
      );
      expect((await mgmt.get(`${APPS}/${NAMES[0]}`)).operation).toBeUndefined();

      const resume = await vpmJson(['canary', 'resume', 'hello', '-n', 'fleet', '--context', 'cluster-a'], { cwd, env: runEnv });
      expect(resume.result.exitCode, String(resume.result.stderr)).toBe(0);
      const released = await release;
      expect(released.exitCode, String(released.stderr)).toBe(0);
      expect(JSON.parse(String(released.stdout))).toMatchObject({ result: 'released', stable, candidate });
      const routed = (await kubeA.get(KSVC)).spec.traffic;
      expect(routed.find((t: any) => t.revisionName === candidate)).toMatchObject({ percent: 100 });

      // Argo CD applies git's template again (a new revision) but, with ignoreDifferences on
      // /spec/traffic and RespectIgnoreDifferences, keeps the routing the release left.
      const synced = await vpmJson(['clusters', 'sync', NAMES[0], '--timeout', '120s'], { cwd, env: runEnv, timeoutMs: 150_000 });
      expect(synced.result.exitCode, String(synced.result.stderr)).toBe(0);
      const after = await kubeA.get(KSVC);
      expect(after.spec.traffic).toEqual(routed);
      expect(after.spec.template.spec.containers[0].env).not.toEqual(template.spec.containers[0].env);
    } finally {
      kubeA.close();
    }
  }, 420_000);
});
