/**
 * Issue 18's manual gate, watch, notifications, history and undo against REAL Knative Serving
 * (tests/support/knative-real.ts, stack 5: stacks 0–4 are the other real-stack suites'). The
 * simulator suites release-manual-gate, release-history-watch and release-notify hold the same
 * contracts; here the traffic is routed by Knative's controller and Traefik, and vpm's default probe
 * provider judges the candidate through the real ingress.
 *
 * The tests are one KService's story, in order — each starts where the previous one left hello:
 *  1. `--pause-at 50` holds at 50/50 (status.traffic and the data plane) until `vpm canary resume` from
 *     another process and checkout; `canary status --watch` (piped) follows it line by line; the
 *     notification targets get paused/promoted/released without a secret; a dead target fails nothing.
 *  2. `--steps 10,pause,50,100 --pause-timeout`: nobody answers → aborted, 100% on stable, exit 5.
 *  3. `vpm history --json` lists all of it in order; `vpm canary undo --to-revision` restores the first.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { RealKnative, requireKnative } from '../support/knative-real.ts';
import { freePort } from '../support/net.ts';
import type { Kube } from '../support/kube.ts';
import { tempDir, vpm, vpmJson } from '../helpers/cli.ts';
import { ksvcPath, waitFor } from '../helpers/deploy.ts';
import {
  annotation,
  askVia,
  notificationSink,
  observe,
  observed,
  realHelloManifest,
  split,
  writeNotifyConfig,
} from '../helpers/release.ts';

const SECRET = 'ghp_0123456789abcdefABCDEF0123456789abcd';
const HOOK_TOKEN = 'hooktoken-5f1d2a9c7e';
const BASIC_PASSWORD = 'basicpw-93ab1c';
const INTERVAL = '2s';
/** A first deploy or a release with a hold, on a 2-core machine other stacks share: minutes. */
const TEST_TIMEOUT = 420_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.skipIf(!requireKnative())('manual gate, watch, notifications, history and undo against real Knative Serving', () => {
  let kn: RealKnative | undefined;
  let kube: Kube;
  let sink: Awaited<ReturnType<typeof notificationSink>>;
  const received = () => sink.received;
  let ns: string;
  /** The checkout the releases run from (its reports/ are the history). */
  let cwd: string;
  let r1: string;
  let r2: string;
  let r3: string;

  const env = () => ({ KUBECONFIG: kn!.kubeconfig, VPM_INGRESS_URL: kn!.ingressUrl, GITHUB_TOKEN: SECRET });
  const run = (args: string[], dir = cwd) => vpmJson(args, { cwd: dir, env: env(), timeoutMs: 300_000 });
  /** A vpm child process left running (piped stdout: no TTY) while the test acts on the cluster. */
  const start = (args: string[]) => {
    let settled = false;
    const child = vpm(args, { cwd, env: env(), timeoutMs: 300_000 });
    void child.finally(() => (settled = true));
    return { child, running: () => !settled };
  };
  const ksvc = () => kube.get(ksvcPath(ns));
  const hookEvents = () =>
    received()
      .filter((r) => r.path.startsWith('/hook'))
      .map((r) => r.body.event);

  /** Which revision answered each of `n` requests to hello through Traefik. */
  async function answeredBy(n: number): Promise<Record<string, number>> {
    const counts: Record<string, number> = {};
    for (let i = 0; i < n; i++) {
      const a = await askVia(kn!.ingressUrl, `hello.${ns}.example.com`).catch((e: Error) => ({
        status: 0,
        revision: `error ${e.message}`,
      }));
      const rev = a.revision ?? `status ${a.status}`;
      counts[rev] = (counts[rev] ?? 0) + 1;
    }
    return counts;
  }

  beforeAll(async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vpm-release-gate-real-'));
    kn = new RealKnative({ dir, index: 5, log: (m) => fs.appendFileSync(path.join(dir, 'stack.log'), `${m}\n`) });
    await kn.start();
    kube = kn.kube;
    sink = await notificationSink();
    const { port } = sink;
    const dead = await freePort(); // nothing listens there: connection refused

    ns = `gate-real-${process.pid}`;
    await kube.ensureNamespace(ns);
    cwd = tempDir('vpm-gate-real-');
    writeNotifyConfig(cwd, { port, dead, token: HOOK_TOKEN, password: BASIC_PASSWORD });
    const first = await run(['release', 'hello', '-f', realHelloManifest(cwd, ns, 'v1'), '--ready-timeout', '180s']);
    if (first.result.exitCode !== 0 || first.json.result !== 'first_deploy')
      throw new Error(`first release failed (${first.result.exitCode}): ${String(first.result.stderr)}`);
    r1 = first.json.candidate;
  }, TEST_TIMEOUT);

  afterAll(async () => {
    sink?.close();
    await kn?.stop();
  }, 120_000);

  it(
    '--pause-at 50 holds at 50/50 until vpm canary resume from another process and checkout; --watch prints a line per change; notifications arrive without secrets, a dead URL fails nothing',
    async () => {
      const watchTraffic = observe(kube, ns);
      const release = start([
        '--json',
        'release',
        'hello',
        '-f',
        realHelloManifest(cwd, ns, 'v2'),
        '--steps',
        '10,50,100',
        '--pause-at',
        '50',
        '--interval',
        INTERVAL,
        '--guard-window',
        '4s',
        '--ready-timeout',
        '180s',
      ]);
      await waitFor(
        async () => ['applying', 'ready', 'canary'].includes((await annotation(kube, ns, 'vpm.dev/release'))?.phase),
        120_000,
        'release running',
      );
      const watch = start(['canary', 'status', 'hello', '-n', ns, '--watch', '--timeout', '280s']);

      const held = await waitFor(
        async () => {
          const c = await annotation(kube, ns, 'vpm.dev/canary');
          return c?.phase === 'paused' ? c : undefined;
        },
        240_000,
        'hold at 50%',
      );
      r2 = held.candidate;
      expect(held).toMatchObject({ stable: r1, hold: { percent: 50, timeout_at: null } });
      // Held: several gate intervals later it still is, the routed traffic is Knative's 50/50, and users' requests reach both revisions.
      await sleep(6_000);
      const during = await ksvc();
      expect(JSON.parse(during.metadata.annotations['vpm.dev/canary']).phase).toBe('paused');
      expect(split(during.status.traffic)).toEqual({ [r1]: 50, [r2]: 50 });
      const answers = await answeredBy(40);
      expect(Object.keys(answers).sort(), JSON.stringify(answers)).toEqual([r1, r2].sort());
      expect(release.running()).toBe(true);
      // The paused notification is sent when the hold begins, not when the release ends.
      await waitFor(async () => hookEvents().length > 0, 30_000, 'paused notification');
      expect(hookEvents()).toEqual(['paused']);

      const other = tempDir('vpm-gate-real-other-');
      const resumed = await run(['canary', 'resume', 'hello', '-n', ns], other);
      expect(resumed.result.exitCode, String(resumed.result.stderr)).toBe(0);
      expect(resumed.json).toMatchObject({ action: 'resumed', percent: 50 });

      const done = await release.child;
      const seen = await watchTraffic.stop();
      expect(done.exitCode, String(done.stderr)).toBe(0);
      const out = JSON.parse(String(done.stdout));
      expect(out).toMatchObject({ result: 'released', stable: r1, candidate: r2 });
      expect(split((await ksvc()).status.traffic)).toMatchObject({ [r2]: 100 });
      // Every status.traffic observed while the hold stood was 50/50.
      const whileHeld = seen.filter((s) => s.canary?.phase === 'paused');
      expect(whileHeld.length).toBeGreaterThan(0);
      for (const s of whileHeld) expect(split(s.traffic), JSON.stringify(s)).toEqual({ [r1]: 50, [r2]: 50 });
      const record = JSON.parse(fs.readFileSync(path.join(cwd, out.evidence), 'utf8'));
      const canary = JSON.parse(fs.readFileSync(path.join(cwd, record.phases.find((p: any) => p.phase === 'canary').evidence), 'utf8'));
      const events = canary.timeline.map((e: any) => e.event);
      expect(events.indexOf('paused')).toBeLessThan(events.indexOf('resumed_by_hand'));
      expect(canary.checks.filter((c: any) => c.decision === 'pass').map((c: any) => c.percent)).toEqual([10, 50, 100]);

      // The watch (stdout a pipe, not a TTY): one timestamped line per change, ending with the release.
      const watched = await watch.child;
      expect(watched.exitCode, String(watched.stderr)).toBe(0);
      const lines = String(watched.stdout).trim().split('\n');
      const changes = lines.slice(0, -1);
      expect(lines.at(-1)).toMatch(/^ended: release release_\S+ done/);
      for (const [i, l] of changes.entries()) {
        expect(l).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z release release_\S+ \w+/);
        if (i > 0) expect(l.slice(25)).not.toBe(changes[i - 1].slice(25));
      }
      expect(changes.some((l) => l.includes('step 2/3 (50%) HELD') && l.includes(`traffic ${r1}=50%`) && l.includes(`${r2}=50%`))).toBe(
        true,
      );
      expect(changes.some((l) => l.includes(`${r2}=100%`))).toBe(true);

      // Notifications: the JSON and Slack targets got the events; the dead one was retried and recorded.
      expect(hookEvents()).toEqual(['paused', 'promoted', 'released']);
      expect(received().find((r) => r.body.event === 'released')?.body).toMatchObject({
        schema: 'vpm.notification/v1',
        ksvc: 'hello',
        namespace: ns,
        revision: r2,
        previous: r1,
        evidence: out.evidence,
      });
      const slack = received().filter((r) => r.path === '/slack');
      expect(slack.map((r) => r.body.text.split(' — ')[0])).toEqual(['vpm: paused', 'vpm: promoted', 'vpm: released']);
      expect(slack[0].raw).toMatch(/^Basic /);
      expect(String(done.stderr)).toMatch(/warning: notification released to http:\/\/127\.0\.0\.1:\d+\/gone failed after 3 attempts/);
      expect(record.notifications.filter((n: any) => !n.ok)).toEqual([
        expect.objectContaining({ event: 'released', attempts: 3, ok: false }),
      ]);
      for (const text of [...received().map((r) => r.raw), JSON.stringify(record), String(done.stdout), String(done.stderr)]) {
        expect(text).not.toContain(SECRET);
        expect(text).not.toContain(HOOK_TOKEN);
        expect(text).not.toContain(BASIC_PASSWORD);
      }
    },
    TEST_TIMEOUT,
  );

  it(
    '--steps 10,pause,50,100 with --pause-timeout: nobody answers → aborted, 100% back on stable, exit 5',
    async () => {
      const {
        value: { result, json },
        seen,
      } = await observed(kube, ns, () =>
        run([
          'release',
          'hello',
          '-f',
          realHelloManifest(cwd, ns, 'v3'),
          '--steps',
          '10,pause,50,100',
          '--pause-timeout',
          '3s',
          '--interval',
          INTERVAL,
          '--ready-timeout',
          '180s',
        ]),
      );
      expect(result.exitCode, String(result.stderr)).toBe(5);
      expect(json.error.message).toMatch(/nobody answered the hold at 10% within 3000 ms; aborted, 100% back on/);
      expect(json.error.details).toMatchObject({ result: 'aborted', stable: r2 });
      r3 = json.error.details.candidate;
      // The hold nobody answered stood at the first step: Knative routed 10% to the candidate all along.
      const whileHeld = seen.filter((x) => x.canary?.phase === 'paused');
      expect(whileHeld.length).toBeGreaterThan(0);
      for (const x of whileHeld) expect(split(x.traffic), JSON.stringify(x)).toEqual({ [r2]: 90, [r3]: 10 });
      expect(split((await ksvc()).spec.traffic)).toMatchObject({ [r2]: 100 });
      await waitFor(async () => split((await ksvc()).status.traffic)[r2] === 100, 60_000, `status.traffic 100% on ${r2}`);
      expect(split((await ksvc()).status.traffic)[r3] ?? 0).toBe(0);
      expect(hookEvents().slice(3)).toEqual(['paused', 'aborted']);
      for (const r of received()) expect(r.raw).not.toContain(HOOK_TOKEN);
    },
    TEST_TIMEOUT,
  );

  it(
    'vpm history --json lists the releases, canaries and guard in order; vpm canary undo --to-revision puts 100% back on the first revision',
    async () => {
      const hist = await run(['history', 'hello', '-n', ns]);
      expect(hist.result.exitCode, String(hist.result.stderr)).toBe(0);
      expect(hist.json.entries.map((e: any) => `${e.kind}:${e.revision}:${e.result}`)).toEqual([
        `release:${r1}:first_deploy`,
        `release:${r2}:released`,
        `canary:${r2}:promoted`,
        `guard:${r2}:ok`,
        `release:${r3}:aborted`,
        `canary:${r3}:aborted`,
      ]);
      expect(hist.json.entries.map((e: any) => e.previous)).toEqual([null, r1, r1, r1, r2, r2]);
      for (const e of hist.json.entries) expect(e.by).toBeTruthy();

      const undo = await run(['canary', 'undo', 'hello', '-n', ns, '--to-revision', r1]);
      expect(undo.result.exitCode, String(undo.result.stderr)).toBe(0);
      expect(undo.json).toMatchObject({ from: r2, to: r1 });
      await waitFor(async () => split((await ksvc()).status.traffic)[r1] === 100, 60_000, `status.traffic 100% on ${r1}`);
      // Traefik follows the KIngress a moment after Knative reports the route: then every request reaches r1.
      await waitFor(async () => (await answeredBy(10))[r1] === 10, 30_000, `requests answered by ${r1}`);
      const after = await run(['history', 'hello', '-n', ns]);
      expect(after.json.entries.at(-1)).toMatchObject({ kind: 'undo', revision: r1, previous: r2, result: 'restored' });
    },
    TEST_TIMEOUT,
  );
});
