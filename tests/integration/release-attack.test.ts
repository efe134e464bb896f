/**
 * Issue 18, what an outside attack on `vpm release` found (Knative simulator in the shared test
 * environment: these are vpm's own rules, not Knative behaviour):
 * - `-n` naming another namespace than the manifest moved the manifest namespace's traffic (S1);
 * - a manifest with two KServices gave the second the first's routing (S2);
 * - a second run "resumed" a release its first run was still driving (S3), and `canary start` took
 *   over a release's canary (C2);
 * - a release stopped before its canary could be ended by nothing but re-running it (C4), and a hold
 *   whose release process was gone could be "resumed" into a canary nobody drove (C3);
 * - `--interval 0` was accepted, and `--guard-window 5s` alone was refused (U1, U5);
 * - a refused release replaced the last release's record on the KService with its own (U8).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { requireTestenv, useTestenv, kubeFor, freshNamespace, type TestenvInfo } from '../support/testenv.ts';
import type { Kube } from '../support/kube.ts';
import { tempDir, vpmJson, VPM_BIN } from '../helpers/cli.ts';
import { ksvcPath, waitFor } from '../helpers/deploy.ts';
import { annotation, firstRelease, helloManifest, split } from '../helpers/release.ts';

describe.skipIf(!requireTestenv())('vpm release against what an outside attack tried', () => {
  let env: TestenvInfo;
  let kube: Kube;
  const run = (args: string[], cwd: string) => vpmJson(args, { cwd, env: { KUBECONFIG: env.kubeconfig }, timeoutMs: 120_000 });

  beforeAll(async () => {
    env = await useTestenv({ clusters: 1 });
    kube = await kubeFor(env, 'cluster-a');
  });

  it('-n naming another namespace than the manifest: exit 2 before anything is read or changed, in either namespace', async () => {
    const [a, b] = [await freshNamespace(kube, 'ns-a'), await freshNamespace(kube, 'ns-b')];
    const cwd = tempDir();
    await firstRelease(run, cwd, a);
    await firstRelease(run, cwd, b);
    const [beforeA, beforeB] = [await kube.get(ksvcPath(a)), await kube.get(ksvcPath(b))];
    const r = await run(['release', 'hello', '-f', helloManifest(cwd, 'a-v2.yaml', a, 'v2'), '-n', b, '--interval', '1s'], cwd);
    expect(r.result.exitCode).toBe(2);
    expect(r.json.error.message).toBe(`Service/hello in the manifest is in namespace ${a}, not ${b} (-n)`);
    for (const [ns, before] of [
      [a, beforeA],
      [b, beforeB],
    ] as const) {
      const now = await kube.get(ksvcPath(ns));
      expect(now.metadata.generation).toBe(before.metadata.generation);
      expect(now.metadata.annotations?.['vpm.dev/release']).toBe(before.metadata.annotations?.['vpm.dev/release']);
    }
    // vpm apply refuses it the same way
    expect((await run(['apply', 'a-v2.yaml', '-n', b], cwd)).result.exitCode).toBe(2);
  });

  it('a manifest holding two KServices: only the one released gets the release’s routing; the other keeps its own', async () => {
    const ns = await freshNamespace(kube, 'two');
    const cwd = tempDir();
    const world = (version: string) => {
      const doc = parse(readFileSync(join(cwd, helloManifest(cwd, `w-${version}.yaml`, ns, `world-${version}`)), 'utf8'));
      doc.metadata.name = 'world';
      return doc;
    };
    const both = (version: string) => {
      const hello = parse(readFileSync(join(cwd, helloManifest(cwd, `h-${version}.yaml`, ns, version)), 'utf8'));
      writeFileSync(join(cwd, `both-${version}.yaml`), `${stringify(hello)}---\n${stringify(world(version))}`);
      return `both-${version}.yaml`;
    };
    const first = await run(['release', 'hello', '-f', both('v1'), '--interval', '1s'], cwd);
    expect(first.result.exitCode, String(first.result.stderr)).toBe(0);
    const worldPath = ksvcPath(ns).replace(/hello$/, 'world');
    const worldRev = await waitFor(async () => (await kube.get(worldPath)).status?.latestReadyRevisionName, 30_000, 'world ready');
    const second = await run(['release', 'hello', '-f', both('v2'), '--steps', '50,100', '--interval', '1s', '--guard-window', '0'], cwd);
    expect(second.result.exitCode, String(second.result.stderr)).toBe(0);
    const worldTraffic = (await kube.get(worldPath)).spec.traffic;
    // world's live routing, pinned: its own revision, never hello's
    expect(split(worldTraffic)).toEqual({ [worldRev]: 100 });
    expect(JSON.stringify(worldTraffic)).not.toContain('hello-');
  });

  it('a second run of a release still being driven is refused (exit 3); canary start cannot take over its canary; --force takes over', async () => {
    const ns = await freshNamespace(kube, 'lease');
    const cwd = tempDir();
    const other = tempDir();
    const stable = await firstRelease(run, cwd, ns);
    const manifest = helloManifest(cwd, 'v2.yaml', ns, 'v2');
    writeFileSync(join(other, 'v2.yaml'), readFileSync(join(cwd, manifest)));
    const args = ['release', 'hello', '-f', 'v2.yaml', '--steps', '10,pause,100', '--interval', '1s', '--guard-window', '0'];
    const first = execa(process.execPath, [VPM_BIN, '--cwd', cwd, ...args], { env: { KUBECONFIG: env.kubeconfig }, reject: false });
    try {
      await waitFor(async () => (await annotation(kube, ns, 'vpm.dev/canary'))?.phase === 'paused', 60_000, 'the hold at 10%');
      const beat = await annotation(kube, ns, 'vpm.dev/release-heartbeat');
      expect(beat).toMatchObject({ pid: first.pid });

      const second = await run(args, other);
      expect(second.result.exitCode).toBe(3);
      expect(second.json.error.message).toMatch(
        new RegExp(`^release release_\\S+ of hello is being run right now \\(pid ${first.pid} on `),
      );
      expect(second.json.error.hint).toContain(`vpm canary status hello -n ${ns} --watch`);

      const held = (await kube.get(ksvcPath(ns))).spec.traffic;
      const canary = await run(['canary', 'start', 'hello', '-n', ns, '--interval', '1s'], other);
      expect(canary.result.exitCode).toBe(3);
      expect(canary.json.error.message).toMatch(/^release release_\S+ is in progress on hello \(phase canary\)/);
      expect((await kube.get(ksvcPath(ns))).spec.traffic).toEqual(held);
      expect((await annotation(kube, ns, 'vpm.dev/canary')).phase).toBe('paused');

      // taken over: the second run drives the hold now (and, nobody answering it, ends it at its timeout)
      const forced = await run([...args, '--pause-timeout', '2s', '--force', '--reason', 'the first one hangs'], other);
      expect(forced.result.exitCode, String(forced.result.stderr)).toBe(5);
      expect(forced.json.error.message).toMatch(/nobody answered the hold at 10%/);
      expect(split((await kube.get(ksvcPath(ns))).spec.traffic)).toMatchObject({ [stable]: 100 });
    } finally {
      first.kill('SIGKILL');
      await first;
    }
  });

  it('a hold whose release process is gone: canary resume is refused (exit 3) and says to re-run the release, which comes back to the hold', async () => {
    const ns = await freshNamespace(kube, 'orphan');
    const cwd = tempDir();
    await firstRelease(run, cwd, ns);
    helloManifest(cwd, 'v2.yaml', ns, 'v2');
    const args = ['release', 'hello', '-f', 'v2.yaml', '--steps', '10,pause,100', '--interval', '1s', '--guard-window', '0'];
    const start = () =>
      execa(process.execPath, [VPM_BIN, '--cwd', cwd, '--json', ...args], { env: { KUBECONFIG: env.kubeconfig }, reject: false });
    const paused = () => waitFor(async () => (await annotation(kube, ns, 'vpm.dev/canary'))?.phase === 'paused', 60_000, 'the hold at 10%');
    const first = start();
    await paused();
    first.kill('SIGKILL');
    await first;
    const orphan = await run(['canary', 'resume', 'hello', '-n', ns], cwd);
    expect(orphan.result.exitCode).toBe(3);
    expect(orphan.json.error.message).toMatch(/^no process is running release release_\S+ any more/);
    expect(orphan.json.error.hint).toContain(`vpm release hello -f v2.yaml -n ${ns}`);
    expect((await annotation(kube, ns, 'vpm.dev/canary')).phase).toBe('paused');

    const orphaned = (await annotation(kube, ns, 'vpm.dev/canary')).run_id;
    const again = start();
    // the re-run's own canary, back at the hold
    await waitFor(
      async () => {
        const c = await annotation(kube, ns, 'vpm.dev/canary');
        return c?.run_id !== orphaned && c?.phase === 'paused';
      },
      60_000,
      'the re-run at the hold',
    );
    const resumed = await run(['canary', 'resume', 'hello', '-n', ns], cwd);
    expect(resumed.result.exitCode, String(resumed.result.stderr)).toBe(0);
    const done = await again;
    expect(done.exitCode, String(done.stderr)).toBe(0);
    expect(JSON.parse(String(done.stdout))).toMatchObject({ result: 'released' });
  });

  it('Ctrl-C (SIGINT) in the canary phase says where the release stands and how to go on; a re-run resumes it at once', async () => {
    const ns = await freshNamespace(kube, 'sigint');
    const cwd = tempDir();
    const stable = await firstRelease(run, cwd, ns);
    helloManifest(cwd, 'v2.yaml', ns, 'v2');
    const args = ['release', 'hello', '-f', 'v2.yaml', '--steps', '10,50,100', '--interval', '3s', '--guard-window', '0'];
    const child = execa(process.execPath, [VPM_BIN, '--cwd', cwd, ...args], { env: { KUBECONFIG: env.kubeconfig }, reject: false });
    await waitFor(async () => (await annotation(kube, ns, 'vpm.dev/canary'))?.step_index === 1, 60_000, 'the canary at 50%');
    child.kill('SIGINT');
    const ended = await child;
    expect(ended.signal).toBe('SIGINT');
    expect(String(ended.stderr)).toContain(`interrupted in phase canary; hello routes ${stable}=50%(stable) `);
    expect(String(ended.stderr)).toContain(`resume: vpm release hello -f v2.yaml -n ${ns}; or end it: vpm canary abort hello -n ${ns}`);
    expect(await annotation(kube, ns, 'vpm.dev/release-heartbeat')).toBeUndefined();
    const resumed = await run(args, cwd);
    expect(resumed.result.exitCode, String(resumed.result.stderr)).toBe(0);
    expect(resumed.json).toMatchObject({ result: 'released', stable });
  });

  it('a release stopped before its canary (phase ready): canary abort ends it without touching routing; the next release proceeds', async () => {
    const ns = await freshNamespace(kube, 'stuck');
    const cwd = tempDir();
    const stable = await firstRelease(run, cwd, ns);
    const live = await kube.get(ksvcPath(ns));
    const stuck = {
      run_id: 'release_stuck',
      phase: 'ready',
      manifest: 'broken.yaml',
      stable,
      candidate: null,
      template_hash: 'sha256:x',
      updated_at: new Date().toISOString(),
    };
    await kube.mergePatch(ksvcPath(ns), { metadata: { annotations: { 'vpm.dev/release': JSON.stringify(stuck) } } });
    const refused = await run(['release', 'hello', '-f', helloManifest(cwd, 'v2.yaml', ns, 'v2'), '--interval', '1s'], cwd);
    expect(refused.result.exitCode).toBe(3);
    expect(refused.json.error.hint).toContain(`vpm canary abort hello -n ${ns}`);

    const abort = await run(['canary', 'abort', 'hello', '-n', ns], cwd);
    expect(abort.result.exitCode, String(abort.result.stderr)).toBe(0);
    expect(abort.json).toMatchObject({ action: 'aborted', run_id: 'release_stuck', release_phase: 'ready' });
    const after = await kube.get(ksvcPath(ns));
    expect(after.spec.traffic).toEqual(live.spec.traffic);
    expect(await annotation(kube, ns, 'vpm.dev/release')).toMatchObject({ run_id: 'release_stuck', phase: 'failed' });

    const next = await run(['release', 'hello', '-f', 'v2.yaml', '--steps', '100', '--interval', '1s', '--guard-window', '5s'], cwd);
    // --guard-window 5s alone is not a usage error: the guard judges it as one window
    expect(next.result.exitCode, String(next.result.stderr)).toBe(0);
  });

  it('a release refused before it applies anything (a rejected template) leaves the last release’s record as it was', async () => {
    const ns = await freshNamespace(kube, 'refused');
    const cwd = tempDir();
    await firstRelease(run, cwd, ns);
    const bad = helloManifest(cwd, 'bad.yaml', ns, 'bad', { 'vpm-sim/error-rate': '0.5' });
    const failed = await run(['release', 'hello', '-f', bad, '--interval', '1s', '--guard-window', '0'], cwd);
    expect(failed.result.exitCode, String(failed.result.stderr)).toBe(4);
    const record = await annotation(kube, ns, 'vpm.dev/release');
    expect(record).toMatchObject({ run_id: failed.json.error.details.run_id, phase: 'failed' });
    const refused = await run(['release', 'hello', '-f', bad, '--interval', '1s', '--guard-window', '0'], cwd);
    expect(refused.result.exitCode).toBe(3);
    expect(await annotation(kube, ns, 'vpm.dev/release')).toEqual(record);
  });

  it('two releases started at the same moment: one drives, the other is refused (exit 3)', async () => {
    const ns = await freshNamespace(kube, 'race');
    const [a, b] = [tempDir(), tempDir()];
    await firstRelease(run, a, ns);
    for (const cwd of [a, b]) helloManifest(cwd, 'v2.yaml', ns, 'v2');
    const args = ['--json', 'release', 'hello', '-f', 'v2.yaml', '--steps', '50,100', '--interval', '2s', '--guard-window', '0'];
    const both = await Promise.all(
      [a, b].map((cwd) =>
        execa(process.execPath, [VPM_BIN, '--cwd', cwd, ...args], { env: { KUBECONFIG: env.kubeconfig }, reject: false }),
      ),
    );
    expect(both.map((r) => r.exitCode).sort()).toEqual([0, 3]);
    const refused = both.find((r) => r.exitCode === 3)!;
    expect(JSON.parse(String(refused.stdout)).error.message).toMatch(/^release release_\S+ of hello is being run right now/);
  });

  it('canary abort of a release’s canary while it steps: the release stops at its next write (exit 4), traffic stays on stable', async () => {
    const ns = await freshNamespace(kube, 'abort-run');
    const cwd = tempDir();
    const stable = await firstRelease(run, cwd, ns);
    helloManifest(cwd, 'v2.yaml', ns, 'v2');
    const release = execa(
      process.execPath,
      [
        VPM_BIN,
        '--cwd',
        cwd,
        '--json',
        'release',
        'hello',
        '-f',
        'v2.yaml',
        '--steps',
        '20,50,100',
        '--interval',
        '3s',
        '--guard-window',
        '0',
      ],
      { env: { KUBECONFIG: env.kubeconfig }, reject: false },
    );
    await waitFor(async () => (await annotation(kube, ns, 'vpm.dev/canary'))?.phase === 'progressing', 60_000, 'the canary stepping');
    expect((await run(['canary', 'abort', 'hello', '-n', ns], cwd)).result.exitCode).toBe(0);
    const ended = await release;
    expect(ended.exitCode, String(ended.stderr)).toBe(4);
    expect(JSON.parse(String(ended.stdout)).error.message).toMatch(/was aborted from elsewhere .*; this run stops/);
    expect(split((await kube.get(ksvcPath(ns))).spec.traffic)[stable]).toBe(100);
    expect(await annotation(kube, ns, 'vpm.dev/release')).toMatchObject({ phase: 'failed' });
  });

  it('a run taken over (--force) stops at its next write instead of stepping the traffic again', async () => {
    const ns = await freshNamespace(kube, 'takeover');
    const cwd = tempDir();
    await firstRelease(run, cwd, ns);
    helloManifest(cwd, 'v2.yaml', ns, 'v2');
    const args = ['release', 'hello', '-f', 'v2.yaml', '--steps', '10,50,100', '--interval', '3s', '--guard-window', '0'];
    const first = execa(process.execPath, [VPM_BIN, '--cwd', cwd, '--json', ...args], {
      env: { KUBECONFIG: env.kubeconfig },
      reject: false,
    });
    await waitFor(async () => (await annotation(kube, ns, 'vpm.dev/canary'))?.step_index === 0, 60_000, 'the first at 10%');
    first.kill('SIGSTOP');
    const second = await run([...args, '--force', '--reason', 'the first one is stuck'], cwd);
    expect(second.result.exitCode, String(second.result.stderr)).toBe(0);
    const candidate = second.json.candidate as string;
    first.kill('SIGCONT');
    const ended = await first;
    expect(ended.exitCode).toBe(3);
    expect(JSON.parse(String(ended.stdout)).error.message).toMatch(/was taken over by run canary_\S+ \(promoted\); this run stops/);
    expect(split((await kube.get(ksvcPath(ns))).spec.traffic)).toMatchObject({ [candidate]: 100 });
  });

  it('routing that gives a rejected revision traffic (apply --traffic) is refused; an ended canary cannot be promoted', async () => {
    const ns = await freshNamespace(kube, 'rejected-route');
    const cwd = tempDir();
    await firstRelease(run, cwd, ns);
    const failed = await run(
      ['release', 'hello', '-f', helloManifest(cwd, 'bad.yaml', ns, 'bad', { 'vpm-sim/error-rate': '0.5' }), '--interval', '1s'],
      cwd,
    );
    expect(failed.result.exitCode).toBe(4);
    const rejected = failed.json.error.details.candidate as string;
    const doc = parse(readFileSync(join(cwd, helloManifest(cwd, 'to-bad.yaml', ns, 'v3')), 'utf8'));
    doc.spec.traffic = [{ revisionName: rejected, percent: 100 }];
    writeFileSync(join(cwd, 'to-bad.yaml'), stringify(doc));
    const routed = await run(['apply', 'to-bad.yaml', '--traffic'], cwd);
    expect(routed.result.exitCode).toBe(3);
    expect(routed.json.error.message).toContain(`this routing gives traffic to ${rejected}, rejected by canary`);
    expect(split((await kube.get(ksvcPath(ns))).spec.traffic)[rejected] ?? 0).toBe(0);
    const promote = await run(['canary', 'promote', 'hello', '-n', ns], cwd);
    expect(promote.result.exitCode).toBe(3);
    expect(promote.json.error.message).toMatch(/is aborted: there is nothing in progress to promote/);
  });

  it('a manifest holding hello of two namespaces: only the released namespace’s gets the release’s routing', async () => {
    const [a, b] = [await freshNamespace(kube, 'same-a'), await freshNamespace(kube, 'same-b')];
    const cwd = tempDir();
    await firstRelease(run, cwd, a);
    await firstRelease(run, cwd, b);
    const bRouting = (await kube.get(ksvcPath(b))).spec.traffic;
    const hello = (ns: string, target: string) => parse(readFileSync(join(cwd, helloManifest(cwd, `${ns}.yaml`, ns, target)), 'utf8'));
    writeFileSync(join(cwd, 'both.yaml'), `${stringify(hello(a, 'v2'))}---\n${stringify(hello(b, 'v1'))}`);
    const r = await run(['release', 'hello', '-f', 'both.yaml', '-n', a, '--steps', '100', '--interval', '1s', '--guard-window', '0'], cwd);
    expect(r.result.exitCode, String(r.result.stderr)).toBe(2); // -n a, and an object in b: refused as a whole
    const r2 = await run(['release', 'hello', '-f', 'both.yaml', '--steps', '100', '--interval', '1s', '--guard-window', '0'], cwd);
    expect(r2.result.exitCode, String(r2.result.stderr)).toBe(0);
    // b's hello (same template) keeps its own routing; before, it got a's stable and candidate tags
    expect((await kube.get(ksvcPath(b))).spec.traffic).toEqual(bRouting);
  });

  it('canary undo after the KService was deleted and created again ignores the evidence of the old one (its revision names are reused)', async () => {
    const ns = await freshNamespace(kube, 'recreated');
    const cwd = tempDir();
    await firstRelease(run, cwd, ns);
    const second = await run(
      ['release', 'hello', '-f', helloManifest(cwd, 'v2.yaml', ns, 'v2'), '--steps', '100', '--interval', '1s', '--guard-window', '0'],
      cwd,
    );
    expect(second.result.exitCode, String(second.result.stderr)).toBe(0);
    const passedBefore = second.json.candidate as string; // hello-00002 of the first KService
    await kube.delete(ksvcPath(ns));
    await waitFor(async () => !(await kube.getOrNull(ksvcPath(ns))), 30_000, 'hello deleted');
    await new Promise((r) => setTimeout(r, 1_100)); // creationTimestamp has whole seconds
    await firstRelease(run, cwd, ns);
    // the new KService's hello-00002: applied at 0%, never gated
    expect((await run(['apply', helloManifest(cwd, 'v3.yaml', ns, 'v3')], cwd)).result.exitCode).toBe(0);
    await waitFor(
      async () => (await kube.get(ksvcPath(ns))).status?.latestReadyRevisionName === passedBefore,
      30_000,
      'the new hello-00002',
    );
    const named = await run(['canary', 'undo', 'hello', '-n', ns, '--to-revision', passedBefore], cwd);
    expect(named.result.exitCode).toBe(3);
    expect(named.json.error.message).toMatch(new RegExp(`^${passedBefore} never served 100% of hello and never passed a gate`));
    const byDefault = await run(['canary', 'undo', 'hello', '-n', ns], cwd);
    expect(byDefault.result.exitCode).toBe(3);
    expect(split((await kube.get(ksvcPath(ns))).spec.traffic)[passedBefore] ?? 0).toBe(0);
  });

  it('--interval 0 is a usage error (exit 2) for release, canary start and guard', async () => {
    const cwd = tempDir();
    for (const args of [
      ['release', 'hello', '-f', helloManifest(cwd, 'x.yaml', 'default', 'x'), '--interval', '0'],
      ['canary', 'start', 'hello', '--interval', '0s'],
      ['guard', 'hello', '--interval', '0'],
    ]) {
      const r = await run(args, cwd);
      expect(r.result.exitCode, args.join(' ')).toBe(2);
      expect(r.json.error.message).toBe('--interval must be longer than 0');
    }
  });
});
