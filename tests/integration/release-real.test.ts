/**
 * Issue 18 against REAL Knative Serving (tests/support/knative-real.ts, stack 4 — no other suite uses
 * it): `vpm release` with the project's own manifest (latestRevision routing) and the test app, the
 * probe provider sending its requests through Traefik to the candidate's tag.
 *
 * - a failing candidate (the app answers 5xx at ERROR_RATE) ends with exit 4, 100% on stable and the
 *   revision recorded as rejected; `vpm apply` of that manifest (and a re-release) is refused with
 *   exit 3; `vpm apply` of a new template leaves stable at 100%;
 * - SIGKILL of `vpm release` in the canary phase and in the guard phase: `vpm apply` is refused
 *   meanwhile, a re-run resumes from the phase recorded on the KService and finishes, and apply
 *   proceeds once the release ended;
 * - a failing `pre_rollout` hook, and one the execution policy denies, stop the release before the
 *   candidate gets any traffic (every observed status.traffic).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import fs from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import { type RealKnative, requireKnative, startScrapedStack } from '../support/knative-real.ts';
import type { Kube } from '../support/kube.ts';
import { tempDir, VPM_BIN, vpmJson } from '../helpers/cli.ts';
import { ksvcPath, waitFor } from '../helpers/deploy.ts';
import { annotation, askVia, observed, realHelloManifest, split } from '../helpers/release.ts';

/** A first deploy, a release through its windows and a guard, on a loaded 2-core machine. */
const TEST_TIMEOUT = 300_000;

describe.skipIf(!requireKnative())('vpm release against real Knative Serving (probe provider)', () => {
  let stack: Awaited<ReturnType<typeof startScrapedStack>> | undefined;
  let kn: RealKnative;
  let kube: Kube;
  const vpmEnv = () => ({ KUBECONFIG: kn.kubeconfig, VPM_INGRESS_URL: kn.ingressUrl });
  const run = (args: string[], cwd: string) => vpmJson(args, { cwd, env: vpmEnv(), timeoutMs: 300_000 });
  const spawn = (args: string[], cwd: string) =>
    execa(process.execPath, [VPM_BIN, '--cwd', cwd, ...args], { env: vpmEnv(), reject: false });
  const readJson = (cwd: string, rel: string) => JSON.parse(fs.readFileSync(path.join(cwd, rel), 'utf8'));

  beforeAll(async () => {
    // stack 4: 0 and 1 are the fleet's clusters, 2 the real-Knative suite's, 3 the named-metrics suite's
    stack = await startScrapedStack({ index: 4, prefix: 'vpm-release-real-', scrapeIntervalS: 2 });
    ({ kn } = stack);
    kube = kn.kube;
  }, 300_000);

  afterAll(async () => {
    await stack?.stop();
  }, 120_000);

  /** hello's first release in a fresh namespace (nothing live: the manifest's own traffic); its revision. */
  async function deployed(prefix: string): Promise<{ ns: string; cwd: string; stable: string }> {
    const ns = await stack!.namespace(prefix);
    const cwd = tempDir();
    const first = await run(['release', 'hello', '-f', realHelloManifest(cwd, ns, 'v1'), '--ready-timeout', '180s'], cwd);
    expect(first.result.exitCode, String(first.result.stderr)).toBe(0);
    expect(first.json).toMatchObject({ result: 'first_deploy', first_deploy: true });
    return { ns, cwd, stable: first.json.candidate };
  }

  /** `check` until it holds; fails at once, with what vpm said, if the `vpm release` child ended first. */
  async function untilWhileRunning<T>(child: ReturnType<typeof spawn>, check: () => Promise<T | undefined>, what: string): Promise<T> {
    let settled = false;
    const exited = child.then((r) => {
      if (!settled) throw new Error(`vpm release exited (${r.exitCode}) before ${what}: ${String(r.stderr)}`);
    }) as Promise<never>;
    try {
      return await Promise.race([waitFor(check, 120_000, what), exited]);
    } finally {
      settled = true;
    }
  }

  /** The next revision of hello that is Ready and none of `known` (after an apply). */
  const readyRevisionOtherThan = (ns: string, known: string[]) =>
    waitFor(
      async () => {
        const o = await kube.get(ksvcPath(ns));
        const rev = o.status?.latestReadyRevisionName;
        return rev && !known.includes(rev) && o.status.observedGeneration === o.metadata.generation ? rev : undefined;
      },
      120_000,
      `a Ready revision other than ${known.join(', ')}`,
    );

  it(
    'a failing candidate: exit 4, 100% on stable, revision rejected; apply of that manifest refused (3); a new template keeps stable at 100%',
    async () => {
      const { ns, cwd, stable } = await deployed('rel-bad');
      const bad = realHelloManifest(cwd, ns, 'bad', { ERROR_RATE: '0.5' });
      const failed = await run(['release', 'hello', '-f', bad, '--interval', '2s', '--guard-window', '2s', '--ready-timeout', '180s'], cwd);
      expect(failed.result.exitCode, String(failed.result.stderr)).toBe(4);
      const candidate = failed.json.error.details.candidate as string;
      expect(failed.json.error.details.result).toBe('aborted');
      expect(failed.json.error.message).toMatch(/aborted at 10%: success_rate 0\.\d+ violates >= 0\.99/);
      const live = await kube.get(ksvcPath(ns));
      expect(split(live.spec.traffic)).toEqual({ [stable]: 100, [candidate]: 0 });
      expect(split(live.status.traffic)).toMatchObject({ [stable]: 100 });
      expect((await annotation(kube, ns, 'vpm.dev/rejected-revisions')).map((r: any) => r.revision)).toEqual([candidate]);
      const record = readJson(cwd, failed.json.error.details.evidence);
      expect(record.phases.map((p: any) => `${p.phase}:${p.verdict}`)).toEqual(['apply:applied', 'ready:ready', 'canary:aborted']);
      const canary = readJson(cwd, record.phases[2].evidence);
      expect(canary.checks[0]).toMatchObject({ percent: 10, decision: 'fail', revision: candidate });
      expect(canary.checks[0].raw.classes['5xx']).toBeGreaterThan(0);

      const again = await run(['apply', bad], cwd);
      expect(again.result.exitCode).toBe(3);
      expect(again.json.error.message).toContain(`would bring back ${candidate}`);
      expect((await run(['release', 'hello', '-f', bad], cwd)).result.exitCode).toBe(3);

      const fixed = await run(['apply', realHelloManifest(cwd, ns, 'fixed')], cwd);
      expect(fixed.result.exitCode, String(fixed.result.stderr)).toBe(0);
      const next = await readyRevisionOtherThan(ns, [stable, candidate]);
      const after = await kube.get(ksvcPath(ns));
      expect(split(after.status.traffic)).toEqual({ [stable]: 100, [candidate]: 0 });
      expect(split(after.spec.traffic)[next]).toBeUndefined();
      // what users get through the ingress is still stable's answer
      const answer = await askVia(kn.ingressUrl, `hello.${ns}.example.com`);
      expect(answer).toMatchObject({ status: 200, body: `hello v1 rev=${stable}\n` });
    },
    TEST_TIMEOUT,
  );

  it(
    'SIGKILL in the canary phase and in the guard phase: apply refused meanwhile; a re-run resumes and finishes; apply proceeds after',
    async () => {
      const { ns, cwd, stable } = await deployed('rel-kill');
      const args2 = [
        'release',
        'hello',
        '-f',
        realHelloManifest(cwd, ns, 'v2'),
        '--interval',
        '4s',
        '--guard-window',
        '4s',
        '--ready-timeout',
        '180s',
      ];
      const child = spawn(args2, cwd);
      await untilWhileRunning(
        child,
        async () => {
          const c = await annotation(kube, ns, 'vpm.dev/canary');
          return c?.step_index === 1 && c.phase === 'progressing';
        },
        'the canary at its second step',
      );
      child.kill('SIGKILL');
      await child;
      expect(await annotation(kube, ns, 'vpm.dev/release')).toMatchObject({ phase: 'canary' });
      const killedAt = await kube.get(ksvcPath(ns));
      const refused = await run(['apply', realHelloManifest(cwd, ns, 'v3')], cwd);
      expect(refused.result.exitCode).toBe(3);
      expect(refused.json.error.message).toMatch(/release release_\S+ is in progress .*phase canary/);
      // the refused apply changed nothing: template and routing are where the killed release left them
      const afterRefusal = await kube.get(ksvcPath(ns));
      expect(afterRefusal.metadata.generation).toBe(killedAt.metadata.generation);
      expect(afterRefusal.spec.traffic).toEqual(killedAt.spec.traffic);

      const resumed = await run(args2, cwd);
      expect(resumed.result.exitCode, String(resumed.result.stderr)).toBe(0);
      expect(resumed.json).toMatchObject({ result: 'released', stable });
      const record = readJson(cwd, resumed.json.evidence);
      expect(record.resumed_from).toMatchObject({ phase: 'canary' });
      expect(record.phases.map((p: any) => `${p.phase}:${p.verdict}`)).toEqual(['canary:promoted', 'guard:ok']);
      expect(readJson(cwd, record.phases[0].evidence).resumed_from).toMatchObject({ step_index: 1 });
      const v2 = resumed.json.candidate as string;
      expect(split((await kube.get(ksvcPath(ns))).status.traffic)).toMatchObject({ [v2]: 100 });

      const args3 = ['release', 'hello', '-f', 'v3.yaml', '--interval', '2s', '--guard-window', '60s', '--ready-timeout', '180s'];
      const child3 = spawn(args3, cwd);
      await untilWhileRunning(child3, async () => (await annotation(kube, ns, 'vpm.dev/release'))?.phase === 'guard', 'the guard phase');
      child3.kill('SIGKILL');
      await child3;
      const refusedInGuard = await run(['apply', realHelloManifest(cwd, ns, 'v4')], cwd);
      expect(refusedInGuard.result.exitCode).toBe(3);
      expect(refusedInGuard.json.error.message).toMatch(/phase guard/);
      const resumed3 = await run([...args3.slice(0, -3), '3s', '--ready-timeout', '180s'], cwd);
      expect(resumed3.result.exitCode, String(resumed3.result.stderr)).toBe(0);
      expect(resumed3.json).toMatchObject({ result: 'released', stable: v2 });
      const record3 = readJson(cwd, resumed3.json.evidence);
      expect(record3.resumed_from).toMatchObject({ phase: 'guard' });
      expect(record3.phases.map((p: any) => `${p.phase}:${p.verdict}`)).toEqual(['guard:ok']);
      expect(split((await kube.get(ksvcPath(ns))).status.traffic)).toMatchObject({ [resumed3.json.candidate]: 100 });
      // the release ended: apply proceeds
      expect((await run(['apply', 'v4.yaml'], cwd)).result.exitCode).toBe(0);
    },
    TEST_TIMEOUT,
  );

  it(
    'a failing pre_rollout hook, and one the execution policy denies, stop the release before the candidate gets any traffic',
    async () => {
      const { ns, cwd, stable } = await deployed('rel-hook');
      const withHooks = (hooks: Record<string, unknown>) =>
        fs.writeFileSync(path.join(cwd, 'vpm.config.yaml'), stringify({ canary: { hooks } }));

      withHooks({ pre_rollout: [{ name: 'smoke', argv: ['ls', '/no/such/{{candidate}}'] }] });
      const { value: failing, seen } = await observed(kube, ns, () =>
        run(['release', 'hello', '-f', realHelloManifest(cwd, ns, 'v2'), '--interval', '2s', '--ready-timeout', '180s'], cwd),
      );
      expect(failing.result.exitCode, String(failing.result.stderr)).toBe(4);
      expect(failing.json.error.message).toMatch(/pre_rollout hook failed: fatal_error: step 1 \(smoke\)/);
      const v2 = failing.json.error.details.candidate as string;
      for (const { traffic } of seen) expect(split(traffic)[v2] ?? 0, JSON.stringify(traffic)).toBe(0);
      expect(split((await kube.get(ksvcPath(ns))).status.traffic)).toMatchObject({ [stable]: 100 });

      fs.writeFileSync(path.join(cwd, 'victim'), 'keep me');
      withHooks({ pre_rollout: [{ name: 'cleanup', command: 'rm -f victim' }] });
      const { value: denied, seen: seenDenied } = await observed(kube, ns, () =>
        run(['release', 'hello', '-f', realHelloManifest(cwd, ns, 'v3'), '--interval', '2s', '--ready-timeout', '180s'], cwd),
      );
      expect(denied.result.exitCode, String(denied.result.stderr)).toBe(3);
      expect(denied.json.error.message).toMatch(/pre_rollout hook denied by the execution policy/);
      const v3 = denied.json.error.details.candidate as string;
      for (const { traffic } of seenDenied) expect(split(traffic)[v3] ?? 0, JSON.stringify(traffic)).toBe(0);
      expect(split((await kube.get(ksvcPath(ns))).status.traffic)).toMatchObject({ [stable]: 100 });
      expect(fs.readFileSync(path.join(cwd, 'victim'), 'utf8')).toBe('keep me');
    },
    TEST_TIMEOUT,
  );
});
