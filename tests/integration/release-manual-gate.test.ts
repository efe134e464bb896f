/**
 * Issue 18, manual gate: `--pause-at 50` (or `pause` in --steps) holds the rollout; the hold is on
 * the KService, so `vpm canary resume|promote|abort` from another process answers it;
 * `--pause-timeout` aborts to stable when nobody does.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { requireTestenv, useTestenv, kubeFor, freshNamespace, type TestenvInfo } from '../support/testenv.ts';
import type { Kube } from '../support/kube.ts';
import { tempDir, vpmJson, VPM_BIN } from '../helpers/cli.ts';
import { ksvcPath, waitFor } from '../helpers/deploy.ts';
import { annotation, firstRelease, helloManifest, split } from '../helpers/release.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.skipIf(!requireTestenv())('manual gate', () => {
  let env: TestenvInfo;
  let kube: Kube;
  const run = (args: string[], cwd: string) => vpmJson(args, { cwd, env: { KUBECONFIG: env.kubeconfig }, timeoutMs: 180_000 });
  const spawnJson = (args: string[], cwd: string) =>
    execa(process.execPath, [VPM_BIN, '--cwd', cwd, '--json', ...args], { env: { KUBECONFIG: env.kubeconfig }, reject: false });

  beforeAll(async () => {
    env = await useTestenv({ clusters: 1 });
    kube = await kubeFor(env, 'cluster-a');
  });

  it('--pause-at 50 holds the release at 50% until vpm canary resume from another process (and another checkout)', async () => {
    const ns = await freshNamespace(kube, 'gate');
    const cwd = tempDir();
    const r1 = await firstRelease(run, cwd, ns);
    const child = spawnJson(
      ['release', 'hello', '-f', helloManifest(cwd, 'v2.yaml', ns, 'v2'), '--pause-at', '50', '--interval', '1s', '--guard-window', '0'],
      cwd,
    );
    const held = await waitFor(
      async () => {
        const c = await annotation(kube, ns, 'vpm.dev/canary');
        return c?.phase === 'paused' ? c : undefined;
      },
      60_000,
      'hold',
    );
    expect(held.hold).toMatchObject({ percent: 50, timeout_at: null });
    expect(held.reason).toMatch(/waiting for vpm canary resume\|promote\|abort hello/);
    await sleep(3_000); // several gate intervals: still held, still at 50%
    const during = await kube.get(ksvcPath(ns));
    expect(JSON.parse(during.metadata.annotations['vpm.dev/canary']).phase).toBe('paused');
    expect(split(during.status.traffic)).toEqual({ [r1]: 50, [held.candidate]: 50 });
    expect(() => process.kill(child.pid!, 0)).not.toThrow(); // the release is still running, held

    const resumed = await run(['canary', 'resume', 'hello', '-n', ns], tempDir());
    expect(resumed.result.exitCode, String(resumed.result.stderr)).toBe(0);
    expect(resumed.json).toMatchObject({ action: 'resumed', percent: 50 });
    const done = await child;
    expect(done.exitCode, String(done.stderr)).toBe(0);
    const out = JSON.parse(String(done.stdout));
    expect(out.result).toBe('released');
    const record = JSON.parse(readFileSync(join(cwd, out.evidence), 'utf8'));
    const canary = JSON.parse(readFileSync(join(cwd, record.phases.find((p: any) => p.phase === 'canary').evidence), 'utf8'));
    const events = canary.timeline.map((e: any) => e.event);
    expect(events.indexOf('paused')).toBeLessThan(events.indexOf('resumed_by_hand'));
    expect(canary.checks.filter((c: any) => c.decision === 'pass').map((c: any) => c.percent)).toEqual([10, 50, 100]);
    // Resuming with no hold is refused.
    expect((await run(['canary', 'resume', 'hello', '-n', ns], cwd)).result.exitCode).toBe(3);
  });

  it('--steps 10,pause,50,100 with --pause-timeout: nobody answers → aborted, 100% on stable, exit 5', async () => {
    const ns = await freshNamespace(kube, 'gate-timeout');
    const cwd = tempDir();
    const r1 = await firstRelease(run, cwd, ns);
    const { result, json } = await run(
      [
        'release',
        'hello',
        '-f',
        helloManifest(cwd, 'v2.yaml', ns, 'v2'),
        '--steps',
        '10,pause,50,100',
        '--pause-timeout',
        '2s',
        '--interval',
        '1s',
      ],
      cwd,
    );
    expect(result.exitCode, String(result.stderr)).toBe(5);
    expect(json.error.message).toMatch(/nobody answered the hold at 10% within 2000 ms; aborted, 100% back on/);
    expect(split((await kube.get(ksvcPath(ns))).spec.traffic)).toMatchObject({ [r1]: 100 });
    expect(json.error.details.result).toBe('aborted');
  });

  it('vpm canary abort answers a hold: the canary ends at once with traffic on stable (exit 4)', async () => {
    const ns = await freshNamespace(kube, 'gate-abort');
    const cwd = tempDir();
    const r1 = await firstRelease(run, cwd, ns);
    expect((await run(['apply', helloManifest(cwd, 'v2.yaml', ns, 'v2')], cwd)).result.exitCode).toBe(0);
    await waitFor(async () => {
      const o = await kube.get(ksvcPath(ns));
      return o.status.latestReadyRevisionName !== r1 && o.status.observedGeneration === o.metadata.generation;
    });
    const child = spawnJson(['canary', 'start', 'hello', '-n', ns, '--pause-at', '10', '--interval', '1s'], cwd);
    await waitFor(async () => (await annotation(kube, ns, 'vpm.dev/canary'))?.phase === 'paused', 60_000, 'hold');
    expect((await run(['canary', 'abort', 'hello', '-n', ns], cwd)).result.exitCode).toBe(0);
    const done = await child;
    expect(done.exitCode).toBe(4);
    expect(JSON.parse(String(done.stdout)).error.message).toMatch(/aborted by hand at 10%/);
    expect(split((await kube.get(ksvcPath(ns))).spec.traffic)).toMatchObject({ [r1]: 100 });
  });
});
