/**
 * Issue 7 acceptance, edge half: real HAProxy in front of the hello KService that Argo CD (the
 * simulator) deployed to cluster-a and cluster-b via `vpm clusters sync`. Cluster a's endpoint is
 * made to fail; `vpm failover --auto` switches to b; the evidence has every timestamp and an RTO
 * ≤ 1.5 s; every request after tSteady succeeds. Side by side, against the same fault, a second
 * HAProxy with b as `backup` and HAProxy's default health checks (inter 2s fall 3 rise 2) and no vpm:
 * its RTO is measured by the same kind of probes, not computed.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { execa } from 'execa';
import { requireTestenv, useTestenv, kubeFor, applyFile, REPO_ROOT, type TestenvInfo } from '../support/testenv.ts';
import { startHaproxy, haproxyCommand, type HaproxyHandle } from '../support/haproxy.ts';
import type { Kube } from '../support/kube.ts';
import { vpm, vpmJson, VPM_BIN } from '../helpers/cli.js';

const APPS = '/apis/argoproj.io/v1alpha1/namespaces/argocd/applications';
const KSVC = '/apis/serving.knative.dev/v1/namespaces/fleet/services/hello';
const REVISIONS = '/apis/serving.knative.dev/v1/namespaces/fleet/revisions';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

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

type Probe = { sent_at: number; done_at: number; ok: boolean; status: number | null; cluster: string | null };

/** The test's own user-view prober (independent of vpm's): a fresh connection every `intervalMs`. */
function userProbe(url: string, intervalMs = 100) {
  const log: Probe[] = [];
  let stopped = false;
  const once = () =>
    new Promise<void>((resolve) => {
      const sent_at = Date.now();
      const req = http.get(url, { agent: false, timeout: 1_000 }, (res) => {
        res.resume();
        res.on('end', () => {
          log.push({
            sent_at,
            done_at: Date.now(),
            ok: (res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) < 300,
            status: res.statusCode ?? null,
            cluster: (res.headers['x-vpm-cluster'] as string) ?? null,
          });
          resolve();
        });
      });
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', () => {
        log.push({ sent_at, done_at: Date.now(), ok: false, status: null, cluster: null });
        resolve();
      });
    });
  const loop = (async () => {
    const start = Date.now();
    for (let k = 1; !stopped; k++) {
      void once();
      await sleep(Math.max(0, start + k * intervalMs - Date.now()));
    }
  })();
  return {
    log,
    async stop() {
      stopped = true;
      await loop;
      await sleep(1_100); // let in-flight probes finish
    },
  };
}

/** t0 = first failed probe sent after `since`; tSteady = first of `n` consecutive successes after it. */
function measuredRto(log: Probe[], since: number, n = 10): { t0: number; tSteady: number; rto: number } | null {
  const probes = [...log].filter((p) => p.sent_at >= since).sort((a, b) => a.sent_at - b.sent_at);
  const first = probes.findIndex((p) => !p.ok);
  if (first < 0) return null;
  let streak: Probe[] = [];
  for (const p of probes.slice(first)) {
    if (!p.ok) streak = [];
    else if ((streak = [...streak, p]).length >= n)
      return { t0: probes[first].sent_at, tSteady: streak[0].done_at, rto: streak[0].done_at - probes[first].sent_at };
  }
  return null;
}

function serversState(hp: HaproxyHandle): Promise<string> {
  // The state without the per-second "time since last change" column, for before/after comparisons.
  return haproxyCommand(hp.socket, 'show servers state edge').then((t) =>
    t
      .split('\n')
      .filter((l) => /^\d/.test(l) && l.includes(' edge '))
      .map((l) => l.split(/\s+/).slice(0, 7).join(' '))
      .join('\n'),
  );
}

describe.skipIf(!requireTestenv({ haproxy: true }))('vpm failover (real HAProxy in front of cluster-a and cluster-b)', () => {
  let env: TestenvInfo;
  let kubes: Record<string, Kube>;
  let hpVpm: HaproxyHandle;
  let hpAlone: HaproxyHandle;
  let cwd: string;
  let runEnv: Record<string, string>;
  let operatorSocket: string;
  const endpoints: Record<string, string> = {};

  const setErrorRate = async (cluster: string, rate: string) => {
    const list = await kubes[cluster].get(REVISIONS);
    for (const rev of list.items)
      await kubes[cluster].mergePatch(`${REVISIONS}/${rev.metadata.name}`, { metadata: { annotations: { 'vpm-sim/error-rate': rate } } });
  };
  const evidenceFiles = () => (fs.existsSync(path.join(cwd, 'reports/failover')) ? fs.readdirSync(path.join(cwd, 'reports/failover')) : []);

  beforeAll(async () => {
    env = await useTestenv({ clusters: 2 });
    kubes = { 'cluster-a': await kubeFor(env, 'cluster-a'), 'cluster-b': await kubeFor(env, 'cluster-b') };
    cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'vpm-failover-repo-'));
    execFileSync('git', ['init', '-q', cwd]);
    fs.writeFileSync(
      path.join(cwd, 'vpm.config.yaml'),
      'failover:\n  backend: edge\n  servers: { a: cluster-a, b: cluster-b }\n  target_rto_ms: 1500\n',
    );
    runEnv = { KUBECONFIG: env.kubeconfig, VPM_ACTOR: 'failover-tester' };

    // GitOps first: the edge fronts what `vpm clusters sync` deployed to each cluster.
    await applyFile(kubes['cluster-a'], path.join(REPO_ROOT, 'infra/argocd/applicationset.yaml'), { fieldManager: 'failover-test' });
    for (const n of ['root-app-cluster-a', 'root-app-cluster-b'])
      await until(() => kubes['cluster-a'].getOrNull(`${APPS}/${n}`), `Application ${n}`);
    const sync = await vpm(['clusters', 'sync', 'root-app-cluster-a', 'root-app-cluster-b', '--timeout', '90s'], {
      cwd,
      env: runEnv,
      timeoutMs: 120_000,
    });
    expect(sync.exitCode, String(sync.stderr)).toBe(0);
    for (const c of ['cluster-a', 'cluster-b']) {
      await setErrorRate(c, '0'); // a reused environment may still carry the fault of an earlier run
      const ksvc = await until(async () => {
        const s = await kubes[c].get(KSVC);
        return s.status?.conditions?.some((x: any) => x.type === 'Ready' && x.status === 'True') ? s : undefined;
      }, `hello Ready on ${c}`);
      endpoints[c] = new URL(ksvc.status.url).host;
    }

    const dir1 = fs.mkdtempSync(path.join(os.tmpdir(), 'vpm-hp-vpm-'));
    operatorSocket = path.join(dir1, 'operator.sock');
    // HAProxy managed by vpm: a active, b standby in maintenance; HAProxy's own checks at defaults.
    hpVpm = await startHaproxy({
      dir: dir1,
      servers: { a: endpoints['cluster-a'], b: endpoints['cluster-b'] },
      extraSockets: [{ path: operatorSocket, level: 'operator' }],
    });
    expect(await haproxyCommand(hpVpm.socket, 'set server edge/b state maint')).toBe('\n');
    // HAProxy alone: b as backup, default health checks (inter 2s fall 3 rise 2), nobody drives it.
    hpAlone = await startHaproxy({
      dir: fs.mkdtempSync(path.join(os.tmpdir(), 'vpm-hp-alone-')),
      servers: { a: endpoints['cluster-a'], b: endpoints['cluster-b'] },
      backupB: true,
    });
    const aloneCfg = fs.readFileSync(hpAlone.configFile, 'utf8');
    expect(aloneCfg).toContain('default-server inter 2s fall 3 rise 2');
    expect(aloneCfg).toMatch(/server b \S+ check backup/);
    for (const hp of [hpVpm, hpAlone]) {
      await until(async () => (await fetch(hp.frontendUrl)).status === 200, 'frontend 200');
    }
  });

  afterAll(async () => {
    await setErrorRate('cluster-a', '0').catch(() => undefined);
    await hpVpm?.stop();
    await hpAlone?.stop();
    for (const k of Object.values(kubes ?? {})) k.close();
  });

  it('a missing socket, a read-only socket, an unknown backend or server, a freeze, no --yes: a clear error and nothing changed', async () => {
    const before = await serversState(hpVpm);
    const base = ['failover', '--from', 'a', '--to', 'b', '--probe-url', `${hpVpm.frontendUrl}/`, '--yes'];
    const cases: Array<[string[], number, RegExp]> = [
      [[...base, '--socket', path.join(cwd, 'no-such.sock')], 2, /HAProxy admin socket .*no-such\.sock does not exist/],
      [[...base, '--socket', operatorSocket], 1, /grants level 'operator', but 'set server' needs level admin; nothing was changed/],
      [[...base, '--socket', hpVpm.socket, '--backend', 'nope'], 2, /HAProxy has no backend 'nope'\nhint: known backends: edge/],
      [
        ['failover', '--from', 'a', '--to', 'c', '--socket', hpVpm.socket, '--yes'],
        2,
        /HAProxy backend 'edge' has no server 'c'\nhint: servers in edge: a, b; nothing was changed/,
      ],
      [['failover', '--from', 'a', '--to', 'b;shutdown', '--socket', hpVpm.socket, '--yes'], 2, /not a valid HAProxy server name/],
      [
        ['failover', '--from', 'a', '--to', 'b', '--socket', hpVpm.socket],
        2,
        /without confirmation: stdin is not a terminal\nhint: pass --yes/,
      ],
      [['failover', '--from', 'a', '--to', 'b', '--auto', '--drill', '--socket', hpVpm.socket, '--yes'], 2, /cannot be combined/],
    ];
    for (const [args, code, message] of cases) {
      const r = await vpm(args, { cwd, env: runEnv });
      expect({ args: args.join(' '), code: r.exitCode }).toEqual({ args: args.join(' '), code });
      expect(String(r.stderr)).toMatch(message);
    }
    expect((await vpm(['freeze', 'on', '--reason', 'failover test'], { cwd, env: runEnv })).exitCode).toBe(0);
    const frozen = await vpm([...base, '--socket', hpVpm.socket, '--auto', '--timeout', '1s'], { cwd, env: runEnv });
    expect(frozen.exitCode).toBe(3);
    expect(String(frozen.stderr)).toMatch(/deploys are frozen/);
    expect((await vpm(['freeze', 'off'], { cwd, env: runEnv })).exitCode).toBe(0);

    const dry = await vpmJson(['failover', '--from', 'a', '--to', 'b', '--socket', hpVpm.socket, '--dry-run'], { cwd, env: runEnv });
    expect(dry.result.exitCode).toBe(0);
    expect(dry.json.servers.map((s: any) => [s.server, s.admin_state])).toEqual([
      ['a', 'ready'],
      ['b', 'maint'],
    ]);

    expect(await serversState(hpVpm)).toBe(before);
    expect(evidenceFiles()).toEqual([]);
  });

  it("cluster a's endpoint fails: --auto switches to b with RTO ≤ 1.5 s; HAProxy's own health checks alone, same fault, measured side by side", async () => {
    const stderr: string[] = [];
    const run = execa(
      process.execPath,
      [
        VPM_BIN,
        '--cwd',
        cwd,
        '--json',
        'failover',
        '--auto',
        '--from',
        'a',
        '--to',
        'b',
        '--socket',
        hpVpm.socket,
        '--probe-url',
        `${hpVpm.frontendUrl}/`,
        '--interval',
        '100ms',
        '--target-rto',
        '1500ms',
        '--timeout',
        '90s',
        '--yes',
      ],
      { cwd, env: { ...runEnv, GITHUB_TOKEN: undefined }, reject: false, timeout: 120_000 },
    );
    run.stderr!.on('data', (d) => stderr.push(String(d)));
    await until(async () => /watching edge\/a/.test(stderr.join('')), 'vpm to start watching', 30_000);

    const viaVpm = userProbe(hpVpm.frontendUrl);
    const viaAlone = userProbe(hpAlone.frontendUrl);
    await sleep(600);
    const tFault = Date.now();
    await setErrorRate('cluster-a', '1');

    const r = await run;
    expect(r.exitCode, stderr.join('')).toBe(0);
    const out = JSON.parse(String(r.stdout));
    expect(out).toMatchObject({ verdict: 'ok', mode: 'auto', from: 'a', to: 'b', target_rto_ms: 1500 });

    // HAProxy alone: keep watching until its users see 10 successes in a row again.
    await until(async () => measuredRto(viaAlone.log, tFault) ?? undefined, 'HAProxy alone to recover', 60_000);
    await sleep(1_500); // and some more traffic after vpm's tSteady
    await Promise.all([viaVpm.stop(), viaAlone.stop()]);

    // --- the evidence file
    const ev = JSON.parse(fs.readFileSync(path.join(cwd, out.evidence), 'utf8'));
    expect(ev).toMatchObject({
      schema: 'vpm.evidence.failover/v1',
      kind: 'failover',
      status: 'ok',
      mode: 'auto',
      verdict: 'ok',
      target_rto_ms: 1500,
      rto_ok: true,
    });
    const ts = ev.timestamps;
    for (const k of ['t0', 'tDetect', 'tSwitch', 'tFirstSuccess', 'tSteady']) expect(typeof ts[k], k).toBe('number');
    expect(ts.t0).toBeLessThanOrEqual(ts.tDetect);
    expect(ts.tDetect).toBeLessThanOrEqual(ts.tSwitch);
    expect(ts.tSwitch).toBeLessThanOrEqual(ts.tFirstSuccess);
    expect(ts.tFirstSuccess).toBeLessThanOrEqual(ts.tSteady);
    expect(ts.t0).toBeGreaterThan(tFault - 200); // the first failed probe belongs to this fault
    expect(ev.rto_ms).toBe(ts.tSteady - ts.t0);
    expect(ev.rto_ms).toBeLessThanOrEqual(1500);
    expect(ev.timestamps_iso.t0).toBe(new Date(ts.t0).toISOString());
    expect(ev.haproxy.before.map((s: any) => [s.server, s.admin_state, s.serving])).toEqual([
      ['a', 'ready', true],
      ['b', 'maint', false],
    ]);
    expect(ev.haproxy.after.map((s: any) => [s.server, s.admin_state, s.serving])).toEqual([
      ['a', 'maint', false],
      ['b', 'ready', true],
    ]);
    const sets = ev.commands.filter((c: any) => c.command.startsWith('set ')).map((c: any) => [c.command, c.response, c.ok]);
    expect(sets).toEqual([
      ['set server edge/b state ready', '', true],
      ['set server edge/a state maint', '', true],
    ]);
    const watchFails = ev.probes.filter((p: any) => p.phase === 'watch' && !p.ok);
    expect(watchFails.length).toBeGreaterThanOrEqual(2);
    expect(watchFails[0]).toMatchObject({ sent_at: ts.t0, status: 500 });
    expect(ev.probes.filter((p: any) => p.phase === 'recovery' && p.ok).length).toBeGreaterThanOrEqual(10);
    expect(ev.standby_check).toMatchObject({ ok: true, status: 200 });
    expect(ev.freeze).toMatchObject({ active: false, overridden: false });
    expect(ev.argo.apps.map((a: any) => [a.name, a.sync, a.health])).toEqual(
      expect.arrayContaining([
        ['root-app-cluster-a', 'Synced', 'Healthy'],
        ['root-app-cluster-b', 'Synced', 'Healthy'],
      ]),
    );

    // --- users behind vpm's HAProxy: every request sent after tSteady succeeded, all served by b
    const afterSteady = viaVpm.log.filter((p) => p.sent_at >= ts.tSteady);
    expect(afterSteady.length).toBeGreaterThan(10);
    expect(afterSteady.filter((p) => !p.ok)).toEqual([]);
    expect(new Set(afterSteady.map((p) => p.cluster))).toEqual(new Set(['cluster-b']));
    const userRto = measuredRto(viaVpm.log, tFault)!;
    expect(userRto.rto).toBeLessThanOrEqual(1500);

    // --- then 200 requests through the edge: all 2xx
    const statuses: number[] = [];
    for (let i = 0; i < 200; i += 20) {
      await Promise.all(
        Array.from({ length: 20 }, async () => {
          const res = await fetch(hpVpm.frontendUrl, { headers: { connection: 'close' } });
          await res.arrayBuffer();
          statuses.push(res.status);
        }),
      );
    }
    expect(statuses).toHaveLength(200);
    expect(statuses.filter((s) => s < 200 || s >= 300)).toEqual([]);

    // --- HAProxy's health checks alone, same fault, same probes
    const alone = measuredRto(viaAlone.log, tFault)!;
    const summary = {
      vpm_rto_ms: ev.rto_ms,
      vpm_user_view_rto_ms: userRto.rto,
      haproxy_alone_rto_ms: alone.rto,
      haproxy_checks: 'inter 2s fall 3 rise 2',
    };
    console.info(`[failover] measured RTO: ${JSON.stringify(summary)}`);
    expect(alone.rto).toBeGreaterThan(ev.rto_ms);
    // fall 3 × inter 2s: HAProxy cannot notice before the third failed check
    expect(alone.rto).toBeGreaterThanOrEqual(2_000);
  });

  it('--drill switches a→b, verifies, and fails back to exactly the state before', async () => {
    await setErrorRate('cluster-a', '0');
    await haproxyCommand(hpVpm.socket, 'set server edge/a state ready');
    await haproxyCommand(hpVpm.socket, 'set server edge/b state maint');
    await until(async () => (await fetch(hpVpm.frontendUrl)).status === 200, 'a healthy again');
    const before = await serversState(hpVpm);
    const { result, json } = await vpmJson(
      ['failover', '--drill', '--from', 'a', '--to', 'b', '--socket', hpVpm.socket, '--probe-url', `${hpVpm.frontendUrl}/`, '--yes'],
      { cwd, env: runEnv, timeoutMs: 60_000 },
    );
    expect(result.exitCode, String(result.stderr)).toBe(0);
    expect(json).toMatchObject({ verdict: 'ok', mode: 'drill' });
    expect(json.legs.map((l: any) => [l.direction, l.rto_ok])).toEqual([
      ['a→b', true],
      ['b→a', true],
    ]);
    const ev = JSON.parse(fs.readFileSync(path.join(cwd, json.evidence), 'utf8'));
    expect(ev.commands.filter((c: any) => c.command.startsWith('set ')).map((c: any) => c.command)).toEqual([
      'set server edge/b state ready',
      'set server edge/a state maint',
      'set server edge/a state ready',
      'set server edge/b state maint',
    ]);
    expect(ev.haproxy.after.map((s: any) => s.admin_state)).toEqual(ev.haproxy.before.map((s: any) => s.admin_state));
    expect(await serversState(hpVpm)).toBe(before);
    expect(evidenceFiles()).toHaveLength(2); // never overwritten: one file per run
  });
});
