/**
 * Issue 18, `vpm release KSVC -f MANIFEST` with the project's own manifest (latestRevision routing):
 * the first release deploys the manifest's traffic; later releases apply with the live routing kept,
 * wait Ready, go through the canary steps and the guard window, and write one release record
 * linking the apply/ready/canary/guard evidence. A failing candidate ends with exit 4 and stable at
 * 100%; a SIGKILLed release resumes from the phase recorded on the KService.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { requireTestenv, useTestenv, kubeFor, freshNamespace, type TestenvInfo } from '../support/testenv.ts';
import type { Kube } from '../support/kube.ts';
import { tempDir, vpmJson, VPM_BIN } from '../helpers/cli.ts';
import { ksvcPath, waitFor } from '../helpers/deploy.ts';
import { annotation, helloManifest, observe, split } from '../helpers/release.ts';

describe.skipIf(!requireTestenv())('vpm release against the real API server', () => {
  let env: TestenvInfo;
  let kube: Kube;
  const run = (args: string[], cwd: string) => vpmJson(args, { cwd, env: { KUBECONFIG: env.kubeconfig }, timeoutMs: 180_000 });
  const spawn = (args: string[], cwd: string) =>
    execa(process.execPath, [VPM_BIN, '--cwd', cwd, ...args], { env: { KUBECONFIG: env.kubeconfig }, reject: false });
  const readJson = (cwd: string, rel: string) => JSON.parse(readFileSync(join(cwd, rel), 'utf8'));

  beforeAll(async () => {
    env = await useTestenv({ clusters: 1 });
    kube = await kubeFor(env, 'cluster-a');
  });

  async function firstRelease(ns: string, cwd: string): Promise<string> {
    const first = await run(['release', 'hello', '-f', helloManifest(cwd, 'v1.yaml', ns, 'v1'), '--interval', '1s'], cwd);
    expect(first.result.exitCode, String(first.result.stderr)).toBe(0);
    expect(first.json).toMatchObject({ result: 'first_deploy', first_deploy: true });
    expect(String(first.result.stderr)).toMatch(/first deploy of hello: nothing live yet, so the manifest’s own traffic is applied/);
    return first.json.candidate;
  }

  it('first release deploys the manifest’s traffic; the next goes 10 → 50 → 100 with gates and a guard window, never ahead of its step', async () => {
    const ns = await freshNamespace(kube, 'rel');
    const cwd = tempDir();
    const r1 = await firstRelease(ns, cwd);
    expect((await kube.get(ksvcPath(ns))).spec.traffic).toEqual([{ latestRevision: true, percent: 100 }]);

    const watch = observe(kube, ns);
    const second = await run(
      [
        'release',
        'hello',
        '-f',
        helloManifest(cwd, 'v2.yaml', ns, 'v2'),
        '--steps',
        '10,50,100',
        '--interval',
        '1s',
        '--guard-window',
        '2s',
      ],
      cwd,
    );
    const seen = await watch.stop();
    expect(second.result.exitCode, String(second.result.stderr)).toBe(0);
    const r2 = second.json.candidate as string;
    expect(second.json).toMatchObject({ result: 'released', stable: r1, first_deploy: false });
    expect(r2).not.toBe(r1);

    // Every observed status.traffic: the candidate has no more than the step the canary recorded
    // (0% before its canary started), and the steps it went through are 0, 10, 50, 100 in order.
    const weights: number[] = [];
    for (const { traffic, canary } of seen) {
      const w = split(traffic)[r2] ?? 0;
      const step = canary?.candidate === r2 ? canary.steps[canary.step_index] : 0;
      expect(w, JSON.stringify({ traffic, canary })).toBeLessThanOrEqual(step);
      if (weights.at(-1) !== w) weights.push(w);
    }
    expect(weights.filter((w) => w > 0)).toEqual([10, 50, 100]);

    const record = readJson(cwd, second.json.evidence);
    expect(record.schema).toBe('vpm.evidence.release/v1');
    expect(record.phases.map((p: any) => `${p.phase}:${p.verdict}`)).toEqual([
      'apply:applied',
      'ready:ready',
      'canary:promoted',
      'guard:ok',
    ]);
    for (const p of record.phases) expect(existsSync(join(cwd, p.evidence)), p.evidence).toBe(true);
    const canary = readJson(cwd, record.phases[2].evidence);
    expect(canary.checks.filter((c: any) => c.decision === 'pass').map((c: any) => c.percent)).toEqual([10, 50, 100]);
    expect(readJson(cwd, record.phases[3].evidence).result).toBe('ok');
    const apply = readJson(cwd, record.phases[0].evidence);
    expect(apply.traffic[0].traffic).toEqual([
      { revisionName: r1, percent: 100, tag: 'stable' },
      { latestRevision: true, percent: 0, tag: 'candidate' },
    ]);
    expect(await annotation(kube, ns, 'vpm.dev/release')).toMatchObject({ run_id: second.json.run_id, phase: 'done' });
    expect(split((await kube.get(ksvcPath(ns))).status.traffic)).toMatchObject({ [r1]: 0, [r2]: 100 });
  });

  it('a failing candidate: exit 4, 100% on stable, rejected revision recorded; apply of that manifest refused (3); a new template keeps stable at 100%', async () => {
    const ns = await freshNamespace(kube, 'rel-bad');
    const cwd = tempDir();
    const r1 = await firstRelease(ns, cwd);
    const bad = helloManifest(cwd, 'bad.yaml', ns, 'bad', { 'vpm-sim/error-rate': '0.5' });
    const failed = await run(['release', 'hello', '-f', bad, '--interval', '1s', '--guard-window', '2s'], cwd);
    expect(failed.result.exitCode, String(failed.result.stderr)).toBe(4);
    const r2 = failed.json.error.details.candidate as string;
    expect(failed.json.error.details.result).toBe('aborted');
    const live = await kube.get(ksvcPath(ns));
    expect(split(live.spec.traffic)).toEqual({ [r1]: 100, [r2]: 0 });
    expect((await annotation(kube, ns, 'vpm.dev/rejected-revisions')).map((r: any) => r.revision)).toEqual([r2]);
    expect(await annotation(kube, ns, 'vpm.dev/release')).toMatchObject({ phase: 'failed' });
    const record = readJson(cwd, failed.json.error.details.evidence);
    expect(record.phases.map((p: any) => `${p.phase}:${p.verdict}`)).toEqual(['apply:applied', 'ready:ready', 'canary:aborted']);

    const again = await run(['apply', bad], cwd);
    expect(again.result.exitCode).toBe(3);
    expect(again.json.error.message).toContain(`would bring back ${r2}`);
    const rerelease = await run(['release', 'hello', '-f', bad, '--interval', '1s'], cwd);
    expect(rerelease.result.exitCode).toBe(3);

    expect((await run(['apply', helloManifest(cwd, 'fixed.yaml', ns, 'fixed')], cwd)).result.exitCode).toBe(0);
    const r3 = await waitFor(async () => {
      const o = await kube.get(ksvcPath(ns));
      const rev = o.status.latestReadyRevisionName;
      return rev !== r1 && rev !== r2 && o.status.observedGeneration === o.metadata.generation ? rev : undefined;
    });
    const after = await kube.get(ksvcPath(ns));
    expect(split(after.status.traffic)[r1]).toBe(100);
    expect(split(after.status.traffic)[r3]).toBeUndefined();
  });

  it('SIGKILL in the canary phase and in the guard phase: apply is refused meanwhile, and a re-run resumes and finishes', async () => {
    const ns = await freshNamespace(kube, 'rel-kill');
    const cwd = tempDir();
    const r1 = await firstRelease(ns, cwd);
    const v2 = helloManifest(cwd, 'v2.yaml', ns, 'v2');
    const args2 = ['release', 'hello', '-f', v2, '-n', ns, '--interval', '3s', '--guard-window', '3s'];
    const child = spawn(args2, cwd);
    await waitFor(
      async () => {
        const c = await annotation(kube, ns, 'vpm.dev/canary');
        return c?.step_index === 1 && c.phase === 'progressing';
      },
      60_000,
      'canary step 2',
    );
    child.kill('SIGKILL');
    await child;
    expect(await annotation(kube, ns, 'vpm.dev/release')).toMatchObject({ phase: 'canary' });
    const refused = await run(['apply', helloManifest(cwd, 'v3.yaml', ns, 'v3')], cwd);
    expect(refused.result.exitCode).toBe(3);
    expect(refused.json.error.message).toMatch(/release release_\S+ is in progress .*phase canary/);
    const resumed = await run(args2, cwd);
    expect(resumed.result.exitCode, String(resumed.result.stderr)).toBe(0);
    expect(resumed.json).toMatchObject({ result: 'released', stable: r1 });
    const record = readJson(cwd, resumed.json.evidence);
    expect(record.resumed_from).toMatchObject({ phase: 'canary' });
    expect(record.phases.map((p: any) => p.phase)).toEqual(['canary', 'guard']);
    expect(readJson(cwd, record.phases[0].evidence).resumed_from).toMatchObject({ step_index: 1 });
    const r2 = resumed.json.candidate;

    const args3 = ['release', 'hello', '-f', 'v3.yaml', '-n', ns, '--interval', '1s', '--guard-window', '20s'];
    const child3 = spawn(args3, cwd);
    await waitFor(async () => (await annotation(kube, ns, 'vpm.dev/release'))?.phase === 'guard', 60_000, 'guard phase');
    child3.kill('SIGKILL');
    await child3;
    const resumed3 = await run([...args3.slice(0, -1), '3s'], cwd);
    expect(resumed3.result.exitCode, String(resumed3.result.stderr)).toBe(0);
    expect(resumed3.json).toMatchObject({ result: 'released', stable: r2 });
    const record3 = readJson(cwd, resumed3.json.evidence);
    expect(record3.resumed_from).toMatchObject({ phase: 'guard' });
    expect(record3.phases.map((p: any) => `${p.phase}:${p.verdict}`)).toEqual(['guard:ok']);
    expect(split((await kube.get(ksvcPath(ns))).status.traffic)[resumed3.json.candidate]).toBe(100);
    // After the release ended, apply proceeds.
    expect((await run(['apply', helloManifest(cwd, 'v4.yaml', ns, 'v4')], cwd)).result.exitCode).toBe(0);
  });
});
