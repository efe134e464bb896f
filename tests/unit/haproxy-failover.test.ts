/**
 * The failover clock (t0 … tSteady) and the switch procedure, against a strict in-memory HAProxy
 * (it fails on any command it does not know) and scripted probes. The real HAProxy + clusters run is
 * tests/integration/failover.test.ts.
 */
import { describe, expect, it } from 'vitest';
import type { EdgeProbe, EdgeProbeTarget } from '../../src/adapters/edge-probe.js';
import type { AdminState, HaproxyRuntime, SentCommand, ServerState } from '../../src/adapters/haproxy.js';
import { exitCodeFor } from '../../src/cli/execute.js';
import { preflight, runFailover, VERDICT_OUTCOME, type FailoverOptions } from '../../src/fleet/failover.js';

const exitFor = (verdict: keyof typeof VERDICT_OUTCOME) => exitCodeFor({ result: { data: null, outcome: VERDICT_OUTCOME[verdict] } });
import { FailureDetector, InOrder, RecoveryTracker, recoveryFrom } from '../../src/fleet/timeline.js';

const probe = (sent_at: number, ok: boolean, dur = 5): EdgeProbe => ({
  sent_at,
  done_at: sent_at + dur,
  ok,
  status: ok ? 200 : 503,
  class: ok ? '2xx' : '5xx',
});

describe('timeline', () => {
  it('InOrder releases results in send order whatever order they complete in', () => {
    const o = new InOrder<{ seq: number }>(0);
    expect(o.push({ seq: 1 })).toEqual([]);
    expect(o.push({ seq: 2 })).toEqual([]);
    expect(o.push({ seq: 0 }).map((x) => x.seq)).toEqual([0, 1, 2]);
    expect(o.push({ seq: 3 }).map((x) => x.seq)).toEqual([3]);
  });

  it('t0 is the first failed probe of the streak that crossed the threshold; a success resets it', () => {
    const d = new FailureDetector(2);
    expect(d.observe(probe(100, false))).toBeNull();
    expect(d.observe(probe(200, true))).toBeNull();
    expect(d.observe(probe(300, false))).toBeNull();
    expect(d.observe(probe(400, false, 7))).toEqual({ t0: 300, tDetect: 407 });
  });

  it('tFirstSuccess / tSteady count only probes sent after the switch; a failure restarts the streak', () => {
    const probes = [
      probe(900, true),
      probe(1000, false),
      probe(1100, true),
      probe(1200, false),
      probe(1300, true),
      probe(1400, true),
      probe(1500, true),
    ];
    expect(recoveryFrom(probes, 1000, 3)).toEqual({ tFirstSuccess: 1105, tSteady: 1305 });
    expect(recoveryFrom(probes, 1000, 4)).toEqual({ tFirstSuccess: 1105, tSteady: null });
    const r = new RecoveryTracker(1, 50);
    expect(r.observe(probe(40, true))).toBe(false);
    expect(r.observe(probe(60, true))).toBe(true);
    expect(r.tSteady).toBe(65);
  });
});

/** An in-memory HAProxy backend `edge` with servers a (active) and b (standby in maint). Strict. */
class FakeHaproxy {
  readonly socketPath = '/fake/admin.sock';
  readonly sent: string[] = [];
  readonly commands: SentCommand[] = [];
  state: Record<string, { admin: AdminState; up: boolean; port: number }> = {
    a: { admin: 'ready', up: true, port: 18081 },
    b: { admin: 'maint', up: true, port: 18082 },
  };
  failOn = new Set<string>();
  /** When b leaves maintenance, does its health check say it is up? */
  bComesUp = true;

  private log(command: string, response = '') {
    this.sent.push(command);
    this.commands.push({ at: Date.now(), command, response, ok: !response });
  }
  checkPath() {}
  async cliLevel() {
    this.log('show cli level', 'admin');
    return 'admin';
  }
  async version() {
    return '2.6.12';
  }
  async serversState(backend: string): Promise<ServerState[]> {
    if (backend !== 'edge') throw new Error(`unexpected backend ${backend}`);
    this.log(`show servers state ${backend}`);
    return Object.entries(this.state).map(([server, s]) => ({
      backend,
      server,
      address: '127.0.0.1',
      port: s.port,
      op_state: s.admin === 'maint' ? 'STOPPED' : s.up ? 'RUNNING' : 'STOPPED',
      admin_state: s.admin,
      admin_bits: s.admin === 'maint' ? 1 : 0,
      serving: s.admin !== 'maint' && s.up,
      weight: 1,
      check_health: 4,
      raw: {},
    }));
  }
  async stat() {
    return [];
  }
  async setServerState(backend: string, server: string, state: AdminState) {
    const cmd = `set server ${backend}/${server} state ${state}`;
    if (this.failOn.has(cmd)) {
      this.log(cmd, 'Permission denied');
      throw new Error(`HAProxy refused '${cmd}': Permission denied`);
    }
    if (!this.state[server]) throw new Error(`unexpected server ${server}`);
    this.log(cmd);
    this.state[server].admin = state;
    if (server === 'b' && state === 'ready') this.state.b.up = this.bComesUp;
  }
}

/** Probes answer from the fake's state: the edge serves when a serving server is healthy. */
function probesFor(hp: FakeHaproxy, healthy: Record<string, () => boolean>) {
  const seen: string[] = [];
  const fn = async (t: EdgeProbeTarget): Promise<EdgeProbe> => {
    seen.push(t.url);
    const sent_at = Date.now();
    await new Promise((r) => setTimeout(r, 1));
    const port = Number(new URL(t.url).port);
    let ok: boolean;
    if (port === 18080) {
      const serving = Object.entries(hp.state)
        .filter(([, s]) => s.admin !== 'maint' && s.up)
        .map(([n]) => n);
      ok = serving.length > 0 && serving.every((n) => healthy[n]());
    } else {
      ok = healthy[port === 18081 ? 'a' : 'b']();
    }
    return { sent_at, done_at: Date.now(), ok, status: ok ? 200 : 503, class: ok ? '2xx' : '5xx' };
  };
  return { fn, seen };
}

function options(over: Partial<FailoverOptions> = {}): FailoverOptions {
  return {
    mode: 'manual',
    socket: '/fake/admin.sock',
    backend: 'edge',
    from: 'a',
    to: 'b',
    probeUrl: 'http://127.0.0.1:18080/',
    probePath: '/',
    intervalMs: 10,
    probeTimeoutMs: 200,
    failThreshold: 2,
    steadySuccesses: 5,
    targetRtoMs: 1_500,
    recoveryTimeoutMs: 2_000,
    standbyCheck: true,
    dryRun: false,
    ...over,
  };
}

function depsFor(hp: FakeHaproxy, probeFn: (t: EdgeProbeTarget) => Promise<EdgeProbe>) {
  return {
    runtime: hp as unknown as HaproxyRuntime,
    commands: hp.commands,
    probe: probeFn,
    frozenNow: () => false,
    status: () => undefined,
  };
}

const sets = (hp: FakeHaproxy) => hp.sent.filter((c) => c.startsWith('set '));

describe('runFailover', () => {
  it('manual: standby in first, then the active out; RTO from the start of the switch', async () => {
    const hp = new FakeHaproxy();
    const p = probesFor(hp, { a: () => true, b: () => true });
    const deps = depsFor(hp, p.fn);
    const o = options();
    const out = await runFailover(deps, o, await preflight(deps, o));
    expect(out.verdict).toBe('ok');
    expect(sets(hp)).toEqual(['set server edge/b state ready', 'set server edge/a state maint']);
    const ts = out.body.timestamps;
    expect(ts.t0! <= ts.tSwitch! && ts.tSwitch! <= ts.tFirstSuccess! && ts.tFirstSuccess! <= ts.tSteady!).toBe(true);
    expect(out.body.rto_ms).toBe(ts.tSteady! - ts.t0!);
    expect(out.body.haproxy.after.map((s) => [s.server, s.admin_state])).toEqual([
      ['a', 'maint'],
      ['b', 'ready'],
    ]);
    expect(out.body.probes.filter((x) => x.phase === 'recovery').length).toBeGreaterThanOrEqual(5);
    expect(out.body.standby_check).toMatchObject({ url: 'http://127.0.0.1:18082/', ok: true });
  });

  it('auto: waits for the failure threshold; t0 is the first failed probe', async () => {
    const hp = new FakeHaproxy();
    let aDownAt = Infinity;
    const p = probesFor(hp, { a: () => Date.now() < aDownAt, b: () => true });
    const deps = depsFor(hp, p.fn);
    const o = options({ mode: 'auto' });
    const pre = await preflight(deps, o);
    setTimeout(() => (aDownAt = Date.now()), 80);
    const out = await runFailover(deps, o, pre);
    expect(out.verdict).toBe('ok');
    const ts = out.body.timestamps;
    // t0 is the send time of the first probe that saw the outage: it may have been sent a moment
    // before the outage began (the fake answers at evaluation time), never before a healthy answer.
    const healthy = out.body.probes.filter((x) => x.phase === 'watch' && x.ok);
    expect(healthy.every((x) => x.sent_at! <= ts.t0!)).toBe(true);
    expect(ts.t0!).toBeGreaterThanOrEqual(aDownAt - 50);
    expect(ts.t0! - aDownAt).toBeLessThan(2_000); // liveness bound only; no timing claim on a busy machine
    expect(ts.tDetect).toBeGreaterThan(ts.t0!);
    const failed = out.body.probes.filter((x) => x.phase === 'watch' && !x.ok);
    expect(failed.length).toBeGreaterThanOrEqual(2);
    expect(failed[0].sent_at).toBe(ts.t0);
    // Some healthy probes from before the outage are kept for context, not the whole watch.
    expect(out.body.probes.filter((x) => x.phase === 'watch' && x.ok).length).toBeLessThanOrEqual(10);
    expect(exitFor(out.verdict)).toBe(0);
  });

  it('auto: nothing fails within --timeout → no-failure, nothing sent', async () => {
    const hp = new FakeHaproxy();
    const p = probesFor(hp, { a: () => true, b: () => true });
    const deps = depsFor(hp, p.fn);
    const o = options({ mode: 'auto', watchTimeoutMs: 100 });
    const out = await runFailover(deps, o, await preflight(deps, o));
    expect(out.verdict).toBe('no-failure');
    expect(sets(hp)).toEqual([]);
  });

  it('a refused second command puts the standby back: nothing is left half-switched', async () => {
    const hp = new FakeHaproxy();
    hp.failOn.add('set server edge/a state maint');
    const p = probesFor(hp, { a: () => true, b: () => true });
    const deps = depsFor(hp, p.fn);
    const o = options();
    const out = await runFailover(deps, o, await preflight(deps, o));
    expect(out.verdict).toBe('switch-failed');
    expect(out.message).toMatch(/Permission denied.*previous server state was restored/);
    expect(sets(hp)).toEqual(['set server edge/b state ready', 'set server edge/a state maint', 'set server edge/b state maint']);
    expect(hp.state.a.admin).toBe('ready');
    expect(hp.state.b.admin).toBe('maint');
    expect(exitFor(out.verdict)).toBe(1);
  });

  it('a standby that does not come up in HAProxy is put back and the active one never touched', async () => {
    const hp = new FakeHaproxy();
    hp.bComesUp = false;
    const p = probesFor(hp, { a: () => true, b: () => true });
    const deps = depsFor(hp, p.fn);
    const o = options();
    const out = await runFailover(deps, o, await preflight(deps, o));
    expect(out.verdict).toBe('switch-failed');
    expect(sets(hp)).toEqual(['set server edge/b state ready', 'set server edge/b state maint']);
    expect(hp.state.a.admin).toBe('ready');
  });

  it('an unhealthy standby is not switched to', async () => {
    const hp = new FakeHaproxy();
    const p = probesFor(hp, { a: () => true, b: () => false });
    const deps = depsFor(hp, p.fn);
    const o = options();
    const out = await runFailover(deps, o, await preflight(deps, o));
    expect(out.verdict).toBe('standby-unhealthy');
    expect(sets(hp)).toEqual([]);
    expect(exitFor(out.verdict)).toBe(3);
  });

  it('drill: switches, verifies, and fails back to exactly the state found before', async () => {
    const hp = new FakeHaproxy();
    const p = probesFor(hp, { a: () => true, b: () => true });
    const deps = depsFor(hp, p.fn);
    const o = options({ mode: 'drill' });
    const out = await runFailover(deps, o, await preflight(deps, o));
    expect(out.verdict).toBe('ok');
    expect(sets(hp)).toEqual([
      'set server edge/b state ready',
      'set server edge/a state maint',
      'set server edge/a state ready',
      'set server edge/b state maint',
    ]);
    expect(out.body.legs.map((l) => l.direction)).toEqual(['a→b', 'b→a']);
    expect(out.body.legs.every((l) => l.rto_ok)).toBe(true);
    expect(out.body.haproxy.after.map((s) => s.admin_state)).toEqual(out.body.haproxy.before.map((s) => s.admin_state));
  });

  it('already failed over: manual is a no-op, a drill refuses', async () => {
    const hp = new FakeHaproxy();
    hp.state.a.admin = 'maint';
    hp.state.b.admin = 'ready';
    const p = probesFor(hp, { a: () => true, b: () => true });
    const deps = depsFor(hp, p.fn);
    expect((await runFailover(deps, options(), await preflight(deps, options()))).verdict).toBe('noop');
    expect((await runFailover(deps, options({ mode: 'drill' }), await preflight(deps, options()))).verdict).toBe('aborted');
    expect(sets(hp)).toEqual([]);
  });

  it('preflight names the unknown server and the ones that exist', async () => {
    const hp = new FakeHaproxy();
    const deps = depsFor(hp, probesFor(hp, { a: () => true, b: () => true }).fn);
    await expect(preflight(deps, options({ to: 'c' }))).rejects.toMatchObject({
      exitCode: 2,
      message: "HAProxy backend 'edge' has no server 'c'",
      hint: expect.stringMatching(/servers in edge: a, b/),
    });
    await expect(preflight(deps, options({ to: 'a' }))).rejects.toMatchObject({ exitCode: 2 });
    expect(sets(hp)).toEqual([]);
  });
});
