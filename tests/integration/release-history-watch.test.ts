/**
 * Issue 18, watch and history: `vpm canary status --watch` without a TTY prints one line per change
 * and exits 0 when the release ends; `vpm history` lists what happened in order from the evidence;
 * `vpm canary undo --to-revision` restores a revision (refused while frozen; recorded).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { requireTestenv, useTestenv, kubeFor, freshNamespace, type TestenvInfo } from '../support/testenv.ts';
import type { Kube } from '../support/kube.ts';
import { tempDir, vpm, vpmJson, VPM_BIN } from '../helpers/cli.ts';
import { ksvcPath, waitFor } from '../helpers/deploy.ts';
import { annotation, firstRelease, helloManifest, split } from '../helpers/release.ts';

describe.skipIf(!requireTestenv())('watch, history and undo', () => {
  let env: TestenvInfo;
  let kube: Kube;
  const run = (args: string[], cwd: string) => vpmJson(args, { cwd, env: { KUBECONFIG: env.kubeconfig }, timeoutMs: 180_000 });

  beforeAll(async () => {
    env = await useTestenv({ clusters: 1 });
    kube = await kubeFor(env, 'cluster-a');
  });

  it('status --watch follows a release line by line and exits 0 when it ends; history lists it in order; undo --to-revision restores', async () => {
    const ns = await freshNamespace(kube, 'hist');
    const cwd = tempDir();
    const r1 = await firstRelease(run, cwd, ns);
    const child = execa(
      process.execPath,
      [
        VPM_BIN,
        '--cwd',
        cwd,
        '--json',
        'release',
        'hello',
        '-f',
        helloManifest(cwd, 'v2.yaml', ns, 'v2'),
        '--interval',
        '1s',
        '--guard-window',
        '2s',
      ],
      { env: { KUBECONFIG: env.kubeconfig }, reject: false },
    );
    await waitFor(
      async () => ['applying', 'ready', 'canary'].includes((await annotation(kube, ns, 'vpm.dev/release'))?.phase),
      60_000,
      'release running',
    );
    const watch = await vpm(['canary', 'status', 'hello', '-n', ns, '--watch', '--timeout', '90s'], {
      cwd,
      env: { KUBECONFIG: env.kubeconfig },
      timeoutMs: 120_000,
    });
    expect(watch.exitCode, String(watch.stderr)).toBe(0);
    const lines = String(watch.stdout).trim().split('\n');
    const changes = lines.slice(0, -1);
    expect(lines.at(-1)).toMatch(/^ended: release release_\S+ done/);
    expect(changes.length).toBeGreaterThanOrEqual(3);
    for (const [i, l] of changes.entries()) {
      expect(l).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z release release_\S+ \w+/);
      if (i > 0) expect(l.slice(25)).not.toBe(changes[i - 1].slice(25));
    }
    expect(changes.some((l) => / step 2\/3 \(50%\)/.test(l))).toBe(true);
    const done = await child;
    expect(done.exitCode, String(done.stderr)).toBe(0);
    const r2 = JSON.parse(String(done.stdout)).candidate as string;
    // A watch with nothing in progress ends at once.
    expect((await vpm(['canary', 'status', 'hello', '-n', ns, '--watch'], { cwd, env: { KUBECONFIG: env.kubeconfig } })).exitCode).toBe(0);

    const hist = await run(['history', 'hello', '-n', ns], cwd);
    expect(hist.result.exitCode).toBe(0);
    expect(hist.json.entries.map((e: any) => `${e.kind}:${e.revision}:${e.result}`)).toEqual([
      `release:${r1}:first_deploy`,
      `release:${r2}:released`,
      `canary:${r2}:promoted`,
      `guard:${r2}:ok`,
    ]);
    for (const e of hist.json.entries) expect(e.by).toBeTruthy();
    expect(hist.json.entries[1].previous).toBe(r1);

    expect((await run(['freeze', 'on', '--reason', 'incident'], cwd)).result.exitCode).toBe(0);
    const frozen = await run(['canary', 'undo', 'hello', '-n', ns, '--to-revision', r1], cwd);
    expect(frozen.result.exitCode).toBe(3);
    expect(frozen.json.error.message).toMatch(/frozen/);
    expect((await run(['freeze', 'off'], cwd)).result.exitCode).toBe(0);
    const undo = await run(['canary', 'undo', 'hello', '-n', ns, '--to-revision', r1], cwd);
    expect(undo.result.exitCode, String(undo.result.stderr)).toBe(0);
    expect(undo.json).toMatchObject({ from: r2, to: r1 });
    await waitFor(async () => split((await kube.get(ksvcPath(ns))).status.traffic)[r1] === 100, 20_000, 'traffic on r1');
    const after = await run(['history', 'hello', '-n', ns], cwd);
    expect(after.json.entries.at(-1)).toMatchObject({ kind: 'undo', revision: r1, previous: r2, result: 'restored' });
    // Without --to-revision, undo goes back to the newest good revision not serving now.
    const back = await run(['canary', 'undo', 'hello', '-n', ns], cwd);
    expect(back.json).toMatchObject({ from: r1, to: r2 });
  });
});
