/**
 * Edge failover through HAProxy's Runtime API.
 *
 *   manual  switch from → to now, then measure until traffic is steady
 *   auto    probe the active side every interval; after `failThreshold` consecutive failures,
 *           switch and measure (t0 = the first failed probe)
 *   drill   switch, verify steady, then fail back to the state found before, and verify again
 *
 * The switch brings the standby in before taking the active server out (`set server B/to state
 * ready`, check it is serving, then `set server B/from state maint`), so there is never a moment
 * with no server; if any step fails, the servers are put back to the state found before. Every
 * outcome after the preflight is returned as a verdict (and written as evidence by the caller);
 * only preflight problems — nothing changed yet — are thrown.
 */
import type { Outcome } from '../core/command.js';
import type { EdgeProbe, EdgeProbeTarget } from '../adapters/edge-probe.js';
import {
  assertHaproxyName,
  type AdminState,
  type HaproxyRuntime,
  type SentCommand,
  type ServerState,
  type StatRow,
} from '../adapters/haproxy.js';
import { OperationalError, UsageError } from '../core/errors.js';
import type { FailoverBody, FailoverVerdict, ServerSnapshot } from '../schemas/failover-evidence.js';
import { FailureDetector, InOrder, RecoveryTracker, offsets, rtoOf, type LoggedProbe, type Timestamps } from './timeline.js';

export type FailoverMode = 'manual' | 'auto' | 'drill';

export interface FailoverOptions {
  mode: FailoverMode;
  socket: string;
  backend: string;
  from: string;
  to: string;
  /** Probe through the edge (recommended); without it, probes go to each server's own address. */
  probeUrl?: string;
  probeHost?: string;
  probePath: string;
  intervalMs: number;
  probeTimeoutMs: number;
  failThreshold: number;
  steadySuccesses: number;
  targetRtoMs: number;
  /** auto: how long to watch for a failure (undefined: until one happens or the run is aborted). */
  watchTimeoutMs?: number;
  /** How long to wait for N consecutive successes after a switch. */
  recoveryTimeoutMs: number;
  standbyCheck: boolean;
  dryRun: boolean;
}

export interface FailoverDeps {
  runtime: HaproxyRuntime;
  /** Every Runtime API command sent (the runtime's onCommand fills it). */
  commands: SentCommand[];
  probe(target: EdgeProbeTarget): Promise<EdgeProbe>;
  /** Re-checked right before an automatic switch: a freeze declared meanwhile stops it. */
  frozenNow(): boolean;
  status(line: string): void;
  signal?: AbortSignal;
  sleep?(ms: number): Promise<void>;
}

export interface Preflight {
  cliLevel: string | null;
  version: string | null;
  servers: ServerSnapshot[];
  from: ServerSnapshot;
  to: ServerSnapshot;
}

export interface FailoverOutcome {
  verdict: FailoverVerdict;
  message: string;
  body: Omit<FailoverBody, 'freeze' | 'argo'>;
}

const MAX_LOGGED_PROBES = 5_000;
const PROBES_BEFORE_T0 = 10;

const sleepReal = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function snapshot(s: ServerState, stat: StatRow[]): ServerSnapshot {
  const row = stat.find((r) => r.svname === s.server);
  return {
    server: s.server,
    address: s.address,
    port: s.port,
    admin_state: s.admin_state,
    op_state: s.op_state,
    serving: s.serving,
    backup: row ? row.backup : null,
    status: row?.status ?? null,
    check_status: row?.check_status || null,
    raw: s.raw,
  };
}

async function readServers(rt: HaproxyRuntime, backend: string): Promise<ServerSnapshot[]> {
  const [servers, stat] = await Promise.all([rt.serversState(backend), rt.stat(backend).catch(() => [] as StatRow[])]);
  return servers.map((s) => snapshot(s, stat));
}

function pick(servers: ServerSnapshot[], name: string, backend: string): ServerSnapshot {
  const s = servers.find((x) => x.server === name);
  if (!s) {
    throw new UsageError(`HAProxy backend '${backend}' has no server '${name}'`, {
      hint: `servers in ${backend}: ${servers.map((x) => x.server).join(', ') || '(none)'}; nothing was changed`,
    });
  }
  return s;
}

/** Validates names, the socket, its access level, the backend and both servers. Changes nothing. */
export async function preflight(deps: FailoverDeps, o: FailoverOptions): Promise<Preflight> {
  assertHaproxyName(o.backend, 'backend');
  assertHaproxyName(o.from, 'server');
  assertHaproxyName(o.to, 'server');
  if (o.from === o.to)
    throw new UsageError(`--from and --to are both '${o.from}'`, { hint: 'name the active server with --from and the standby with --to' });
  const rt = deps.runtime;
  rt.checkPath();
  const levelAnswer = (await rt.cliLevel()).trim();
  const cliLevel = /^(admin|operator|user)$/.test(levelAnswer) ? levelAnswer : null;
  if (cliLevel && cliLevel !== 'admin' && !o.dryRun) {
    throw new OperationalError(
      `HAProxy admin socket ${rt.socketPath} grants level '${cliLevel}', but 'set server' needs level admin; nothing was changed`,
      {
        hint: 'declare the socket with `stats socket <path> mode 660 level admin`, or point failover.socket at one that is',
      },
    );
  }
  const version = await rt.version().catch(() => null);
  const servers = await readServers(rt, o.backend);
  const from = pick(servers, o.from, o.backend);
  const to = pick(servers, o.to, o.backend);
  return { cliLevel, version, servers, from, to };
}

function serverUrl(s: ServerSnapshot, path: string): string | null {
  if (!s.address || s.port === null || s.port === 0) return null;
  const host = s.address.includes(':') ? `[${s.address}]` : s.address;
  return `http://${host}:${s.port}${path.startsWith('/') ? path : `/${path}`}`;
}

/** Long `show` answers are parsed into haproxy.before/after; the transcript keeps their start. */
function clip(text: string): string {
  return text.length <= 300 ? text : `${text.slice(0, 300)}… (${text.length} chars)`;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

function legOf(direction: string, ts: Timestamps, targetRtoMs: number): FailoverBody['legs'][number] {
  const rto = rtoOf(ts);
  return {
    direction,
    timestamps: ts,
    timestamps_iso: {
      t0: iso(ts.t0),
      tDetect: iso(ts.tDetect),
      tSwitch: iso(ts.tSwitch),
      tFirstSuccess: iso(ts.tFirstSuccess),
      tSteady: iso(ts.tSteady),
    },
    offsets_ms: offsets(ts),
    rto_ms: rto,
    rto_ok: rto !== null && rto <= targetRtoMs,
  };
}

/** Fires one probe every interval (without waiting for the previous one) and feeds results in send order. */
class Prober {
  private seq = 0;
  readonly log: LoggedProbe[] = [];
  dropped = 0;
  private keepAll = false;
  private readonly ring: LoggedProbe[] = [];

  constructor(
    private readonly deps: FailoverDeps,
    private readonly o: FailoverOptions,
  ) {}

  /** From now on every probe is kept (the outage has begun); before, only the last few are. */
  startRecording(): void {
    if (this.keepAll) return;
    this.keepAll = true;
    this.log.push(...this.ring.splice(0));
  }

  private record(p: LoggedProbe): void {
    if (!this.keepAll) {
      this.ring.push(p);
      if (this.ring.length > PROBES_BEFORE_T0) this.ring.shift();
      return;
    }
    if (this.log.length >= MAX_LOGGED_PROBES) this.dropped++;
    else this.log.push(p);
  }

  /**
   * Probes `url` until `onResult` returns true ('done'), the deadline passes ('deadline') or the
   * run is aborted ('aborted').
   */
  async run(
    url: string,
    phase: LoggedProbe['phase'],
    onResult: (p: LoggedProbe) => boolean,
    deadline?: number,
  ): Promise<'done' | 'deadline' | 'aborted'> {
    const order = new InOrder<LoggedProbe>(this.seq);
    const sleep = this.deps.sleep ?? sleepReal;
    let outcome: 'done' | 'deadline' | 'aborted' | undefined;
    let wake: (() => void) | undefined;
    const started = Date.now();
    const onAbort = () => wake?.();
    this.deps.signal?.addEventListener('abort', onAbort);
    try {
      for (let k = 0; outcome === undefined; k++) {
        if (this.deps.signal?.aborted) {
          outcome = 'aborted';
          break;
        }
        if (deadline !== undefined && Date.now() >= deadline) {
          outcome = 'deadline';
          break;
        }
        const seq = this.seq++;
        void this.deps.probe({ url, host: this.o.probeHost, timeoutMs: this.o.probeTimeoutMs }).then((r) => {
          const p: LoggedProbe = { seq, target: url, phase, ...r };
          for (const inOrder of order.push(p)) {
            if (outcome !== undefined) return;
            this.record(inOrder);
            if (onResult(inOrder)) {
              outcome = 'done';
              wake?.();
            }
          }
        });
        const next = started + (k + 1) * this.o.intervalMs;
        await Promise.race([sleep(Math.max(0, next - Date.now())), new Promise<void>((r) => (wake = r))]);
      }
    } finally {
      this.deps.signal?.removeEventListener('abort', onAbort);
    }
    return outcome!;
  }
}

interface SwitchResult {
  tSwitch: number;
  after: ServerSnapshot[];
}

/** Puts both servers back to their admin state from `before` (best effort; reports what it could not). */
async function restore(rt: HaproxyRuntime, backend: string, before: ServerSnapshot[], names: string[]): Promise<string[]> {
  const problems: string[] = [];
  // Bring servers that were serving back first, so the restore itself never empties the backend.
  const order = [...names].sort(
    (x, y) =>
      Number(before.find((s) => s.server === y)?.admin_state === 'ready') -
      Number(before.find((s) => s.server === x)?.admin_state === 'ready'),
  );
  let current: ServerSnapshot[] = [];
  try {
    current = await readServers(rt, backend);
  } catch (err) {
    problems.push(`could not read the current state: ${(err as Error).message}`);
  }
  for (const name of order) {
    const want = before.find((s) => s.server === name)?.admin_state as AdminState | undefined;
    const now = current.find((s) => s.server === name)?.admin_state;
    if (!want || now === want) continue;
    try {
      await rt.setServerState(backend, name, want);
    } catch (err) {
      problems.push(`${backend}/${name} → ${want}: ${(err as Error).message}`);
    }
  }
  return problems;
}

/** Standby in, check it serves, active out, verify. Throws (after restoring) when a step fails. */
async function switchServers(
  rt: HaproxyRuntime,
  backend: string,
  from: string,
  to: string,
  before: ServerSnapshot[],
): Promise<SwitchResult> {
  try {
    const toBefore = before.find((s) => s.server === to)!;
    if (toBefore.admin_state !== 'ready') await rt.setServerState(backend, to, 'ready');
    const mid = pick(await readServers(rt, backend), to, backend);
    if (!mid.serving) {
      throw new OperationalError(
        `${backend}/${to} is not serving after 'state ready' (op state ${mid.op_state}, check ${mid.check_status ?? mid.status ?? 'n/a'}); ${from} was left in service`,
      );
    }
    const fromBefore = before.find((s) => s.server === from)!;
    if (fromBefore.admin_state !== 'maint') await rt.setServerState(backend, from, 'maint');
    const tSwitch = Date.now();
    const after = await readServers(rt, backend);
    const f = pick(after, from, backend);
    const t = pick(after, to, backend);
    if (f.admin_state !== 'maint' || !t.serving) {
      throw new OperationalError(
        `HAProxy did not take the switch: ${from} is ${f.admin_state}/${f.op_state}, ${to} is ${t.admin_state}/${t.op_state}`,
      );
    }
    return { tSwitch, after };
  } catch (err) {
    const problems = await restore(rt, backend, before, [from, to]);
    const suffix = problems.length
      ? `; restoring the previous state ALSO failed: ${problems.join('; ')}`
      : '; the previous server state was restored';
    throw new OperationalError(`${(err as Error).message}${suffix}`, { cause: err });
  }
}

function emptyTimestamps(): Timestamps {
  return { t0: null, tDetect: null, tSwitch: null, tFirstSuccess: null, tSteady: null };
}

/** Runs a failover after a successful preflight; never throws for outcomes (they are verdicts). */
export async function runFailover(deps: FailoverDeps, o: FailoverOptions, pre: Preflight): Promise<FailoverOutcome> {
  const rt = deps.runtime;
  const prober = new Prober(deps, o);
  const watchUrl = o.probeUrl ?? serverUrl(pre.from, o.probePath);
  const recoveryUrl = o.probeUrl ?? serverUrl(pre.to, o.probePath);
  const failbackUrl = o.probeUrl ?? serverUrl(pre.from, o.probePath);
  if (!recoveryUrl || !watchUrl || !failbackUrl) {
    throw new UsageError(`cannot derive a probe URL: server ${!watchUrl ? o.from : o.to} has no address/port in HAProxy`, {
      hint: 'pass --probe-url (the edge URL) or set failover.probe_url',
    });
  }
  const legs: FailoverBody['legs'] = [];
  let ts = emptyTimestamps();
  let after: ServerSnapshot[] = pre.servers;
  let standby: FailoverBody['standby_check'] = null;

  const finish = (verdict: FailoverVerdict, message: string): FailoverOutcome => {
    const first = legs[0] ?? legOf(`${o.from}→${o.to}`, ts, o.targetRtoMs);
    return {
      verdict,
      message,
      body: {
        mode: o.mode,
        verdict,
        message,
        haproxy: {
          socket: rt.socketPath,
          version: pre.version,
          cli_level: pre.cliLevel,
          backend: o.backend,
          from: o.from,
          to: o.to,
          before: pre.servers,
          after,
        },
        commands: deps.commands.map((c) => ({ ...c, response: clip(c.response), at_iso: new Date(c.at).toISOString() })),
        probe: {
          mode: o.probeUrl ? 'edge' : 'server',
          watch_url: o.mode === 'auto' ? watchUrl : null,
          recovery_url: recoveryUrl,
          host: o.probeHost ?? null,
          interval_ms: o.intervalMs,
          timeout_ms: o.probeTimeoutMs,
          fail_threshold: o.failThreshold,
          steady_successes: o.steadySuccesses,
          success: '2xx',
        },
        standby_check: standby,
        timestamps: first.timestamps,
        timestamps_iso: first.timestamps_iso,
        offsets_ms: first.offsets_ms,
        rto_ms: first.rto_ms,
        target_rto_ms: o.targetRtoMs,
        rto_ok: first.rto_ok,
        legs,
        probes: prober.log,
        probes_dropped: prober.dropped,
      },
    };
  };

  // Already switched: a manual failover is idempotent; auto and drill need an active `from`.
  if (pre.from.admin_state === 'maint' && pre.to.serving) {
    if (o.mode === 'manual') return finish('noop', `${o.to} is already serving and ${o.from} is in maintenance; nothing to do`);
    return finish(
      'aborted',
      `${o.from} is already in maintenance (failed over before?); nothing to ${o.mode === 'auto' ? 'watch' : 'drill'}. Bring it back with \`vpm failover --from ${o.to} --to ${o.from}\``,
    );
  }

  const checkStandby = async (): Promise<boolean> => {
    if (!o.standbyCheck) return true;
    const url = serverUrl(pre.to, o.probePath);
    if (!url) return true;
    const r = await deps.probe({ url, host: o.probeHost, timeoutMs: o.probeTimeoutMs });
    standby = { url, ok: r.ok, status: r.status, latency_ms: r.done_at - r.sent_at, error: r.ok ? null : (r.error ?? `HTTP ${r.status}`) };
    return r.ok;
  };

  if (o.mode === 'auto') {
    const detector = new FailureDetector(o.failThreshold);
    deps.status(
      `watching ${o.backend}/${o.from} via ${watchUrl} every ${o.intervalMs} ms; switching to ${o.to} after ${o.failThreshold} consecutive failed probes`,
    );
    let lastOk: boolean | undefined;
    const watch = await prober.run(
      watchUrl,
      'watch',
      (p) => {
        if (p.ok !== lastOk) deps.status(`${o.from}: ${p.ok ? 'healthy' : `probe failed (${p.error ?? `HTTP ${p.status}`})`}`);
        lastOk = p.ok;
        if (!p.ok) prober.startRecording();
        const d = detector.observe(p);
        if (!d) return false;
        ts = { ...ts, t0: d.t0, tDetect: d.tDetect };
        return true;
      },
      o.watchTimeoutMs === undefined ? undefined : Date.now() + o.watchTimeoutMs,
    );
    if (watch === 'deadline')
      return finish('no-failure', `${o.from} stayed healthy for the whole watch (${o.watchTimeoutMs} ms); nothing was changed`);
    if (watch === 'aborted') return finish('aborted', 'stopped before a failure was detected; nothing was changed');
    deps.status(`${o.from} failed ${o.failThreshold} probes in a row (first at +0 ms, detected at +${ts.tDetect! - ts.t0!} ms)`);
    if (deps.frozenNow())
      return finish(
        'refused-frozen',
        `deploys were frozen while watching; ${o.from} is failing but no switch was made (override with --force-freeze --reason)`,
      );
  } else {
    ts = { ...ts, t0: Date.now() };
    prober.startRecording();
  }

  if (!(await checkStandby())) {
    return finish('standby-unhealthy', `standby ${o.to} does not answer 2xx at ${standby!.url} (${standby!.error}); nothing was changed`);
  }

  deps.status(`switching ${o.backend}: ${o.to} → ready, ${o.from} → maint`);
  let sw: SwitchResult;
  try {
    sw = await switchServers(rt, o.backend, o.from, o.to, pre.servers);
  } catch (err) {
    after = await readServers(rt, o.backend).catch(() => after);
    return finish('switch-failed', (err as Error).message);
  }
  after = sw.after;
  ts = { ...ts, tSwitch: sw.tSwitch };
  const tracker = new RecoveryTracker(o.steadySuccesses, sw.tSwitch);
  const rec = await prober.run(recoveryUrl, 'recovery', (p) => tracker.observe(p), sw.tSwitch + o.recoveryTimeoutMs);
  ts = { ...ts, tFirstSuccess: tracker.tFirstSuccess, tSteady: tracker.tSteady };
  legs.push(legOf(`${o.from}→${o.to}`, ts, o.targetRtoMs));
  if (rec !== 'done') {
    return finish(
      rec === 'aborted' ? 'aborted' : 'not-recovered',
      `switched to ${o.to}, but ${o.steadySuccesses} consecutive successful probes were not seen within ${o.recoveryTimeoutMs} ms`,
    );
  }
  deps.status(`steady on ${o.to}: RTO ${legs[0].rto_ms} ms (target ${o.targetRtoMs} ms)`);

  if (o.mode === 'drill') {
    // Fail back to exactly the state found before the drill.
    let back = emptyTimestamps();
    back.t0 = Date.now();
    deps.status(`drill: failing back to ${o.from}`);
    const problems = await restore(rt, o.backend, pre.servers, [o.from, o.to]);
    back.tSwitch = Date.now();
    after = await readServers(rt, o.backend).catch(() => after);
    const mismatch = pre.servers
      .filter((b) => after.find((a) => a.server === b.server)?.admin_state !== b.admin_state)
      .map((b) => b.server);
    if (problems.length || mismatch.length) {
      legs.push(legOf(`${o.to}→${o.from}`, back, o.targetRtoMs));
      return finish(
        'switch-failed',
        `drill fail-back did not restore the previous state (${[...problems, ...mismatch.map((m) => `${m} differs`)].join('; ')})`,
      );
    }
    const backTracker = new RecoveryTracker(o.steadySuccesses, back.tSwitch);
    const rb = await prober.run(failbackUrl, 'failback', (p) => backTracker.observe(p), back.tSwitch + o.recoveryTimeoutMs);
    back = { ...back, tFirstSuccess: backTracker.tFirstSuccess, tSteady: backTracker.tSteady };
    legs.push(legOf(`${o.to}→${o.from}`, back, o.targetRtoMs));
    if (rb !== 'done')
      return finish(
        rb === 'aborted' ? 'aborted' : 'not-recovered',
        `failed back to ${o.from}, but it did not answer steadily within ${o.recoveryTimeoutMs} ms`,
      );
  }

  const missed = legs.filter((l) => !l.rto_ok);
  if (missed.length) {
    return finish('rto-exceeded', `${legs.map((l) => `${l.direction} RTO ${l.rto_ms} ms`).join(', ')}; target ${o.targetRtoMs} ms`);
  }
  return finish('ok', `${legs.map((l) => `${l.direction} RTO ${l.rto_ms} ms`).join(', ')} (target ${o.targetRtoMs} ms)`);
}

/** How each verdict ends the command (src/cli/execute.ts maps outcomes to exit codes). */
export const VERDICT_OUTCOME: Record<FailoverVerdict, Outcome> = {
  ok: 'ok',
  noop: 'ok',
  'no-failure': 'ok',
  'rto-exceeded': 'failed',
  'switch-failed': 'failed',
  aborted: 'failed',
  'not-recovered': 'timed_out',
  'standby-unhealthy': 'refused',
  'refused-frozen': 'refused',
};
