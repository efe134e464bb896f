/**
 * Issue 18, watch and history: `vpm canary status --watch` without a TTY prints one line per change
 * and exits 0 when the release ends; `vpm history` lists what happened in order from the evidence;
 * `vpm canary undo --to-revision` restores a revision (refused while frozen; recorded). Undo only
 * goes back to revisions that served or passed a gate, never to one an undo moved away from, and
 * skips those Knative deleted; history is per namespace (-A for all).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { requireTestenv, useTestenv, kubeFor, freshNamespace, type TestenvInfo } from '../support/testenv.ts';
import type { Kube } from '../support/kube.ts';
import { tempDir, vpm, vpmJson, VPM_BIN } from '../helpers/cli.ts';
import { ksvcPath, revisionPath, waitFor } from '../helpers/deploy.ts';
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
    // A default undo does not undo the undo: r2 was undone away from, r1 serves, nothing else is left.
    const back = await run(['canary', 'undo', 'hello', '-n', ns], cwd);
    expect(back.result.exitCode, String(back.result.stderr)).toBe(3);
    expect(back.json.error.message).toContain(`undone away from since they last passed a gate: ${r2}`);
    expect(split((await kube.get(ksvcPath(ns))).spec.traffic)[r1]).toBe(100);
  });

  it('JSON that is not an object in the evidence folders is skipped by history and undo, not a crash', async () => {
    const ns = await freshNamespace(kube, 'hist-null');
    const cwd = tempDir();
    const r1 = await firstRelease(run, cwd, ns);
    for (const [kind, text] of [
      ['release', 'null'],
      ['canary', '42'],
      ['guard', '[]'],
      ['undo', '"x"'],
    ]) {
      mkdirSync(join(cwd, 'reports', kind, 'hello'), { recursive: true });
      writeFileSync(join(cwd, 'reports', kind, 'hello', 'broken.json'), text);
    }
    const hist = await run(['history', 'hello', '-n', ns], cwd);
    expect(hist.result.exitCode, String(hist.result.stderr)).toBe(0);
    expect(hist.json.entries.map((e: any) => `${e.kind}:${e.revision}:${e.result}`)).toEqual([`release:${r1}:first_deploy`]);
    const undo = await run(['canary', 'undo', 'hello', '-n', ns], cwd);
    expect(undo.result.exitCode).toBe(3);
    expect(undo.json.error.message).toMatch(/^no earlier good revision of hello left to go back to/);
  });

  it('undo --to-revision refuses a revision that never served or passed a gate (one apply left at 0% after an aborted release) unless --force --reason, recorded', async () => {
    const ns = await freshNamespace(kube, 'hist-gate');
    const cwd = tempDir();
    const r1 = await firstRelease(run, cwd, ns);
    const bad = helloManifest(cwd, 'bad.yaml', ns, 'bad', { 'vpm-sim/error-rate': '0.5' });
    const failed = await run(['release', 'hello', '-f', bad, '--interval', '1s', '--guard-window', '0'], cwd);
    expect(failed.result.exitCode, String(failed.result.stderr)).toBe(4);
    const r2 = failed.json.error.details.candidate as string;
    expect((await run(['apply', helloManifest(cwd, 'v3.yaml', ns, 'v3')], cwd)).result.exitCode).toBe(0);
    const r3 = await waitFor(async () => {
      const o = await kube.get(ksvcPath(ns));
      const rev = o.status.latestReadyRevisionName;
      return rev !== r1 && rev !== r2 && o.status.observedGeneration === o.metadata.generation ? rev : undefined;
    });
    const routing = (await kube.get(ksvcPath(ns))).spec.traffic;
    expect(split(routing)[r1]).toBe(100);

    const refused = await run(['canary', 'undo', 'hello', '-n', ns, '--to-revision', r3], cwd);
    expect(refused.result.exitCode, String(refused.result.stderr)).toBe(3);
    expect(refused.json.error.message).toContain(`${r3} never served 100% of hello and never passed a gate`);
    expect(refused.json.error.message).toContain(`revisions that did: ${r1}`);
    expect((await kube.get(ksvcPath(ns))).spec.traffic).toEqual(routing);

    const forced = await run(
      ['canary', 'undo', 'hello', '-n', ns, '--to-revision', r3, '--force', '--reason', 'hotfix verified by hand'],
      cwd,
    );
    expect(forced.result.exitCode, String(forced.result.stderr)).toBe(0);
    expect(forced.json).toMatchObject({ from: r1, to: r3 });
    const record = JSON.parse(readFileSync(join(cwd, forced.json.evidence), 'utf8'));
    expect(record.override).toEqual({ what: expect.stringContaining(`${r3} never served 100%`), reason: 'hotfix verified by hand' });
    await waitFor(async () => split((await kube.get(ksvcPath(ns))).status.traffic)[r3] === 100, 20_000, 'traffic on r3');
  });

  it('default undo skips good revisions Knative deleted, goes further back on a second undo, and refuses when none is left', async () => {
    const ns = await freshNamespace(kube, 'hist-back');
    const cwd = tempDir();
    const revs = [await firstRelease(run, cwd, ns)];
    for (const v of ['v2', 'v3', 'v4']) {
      const rel = await run(
        ['release', 'hello', '-f', helloManifest(cwd, `${v}.yaml`, ns, v), '--interval', '1s', '--guard-window', '0'],
        cwd,
      );
      expect(rel.result.exitCode, String(rel.result.stderr)).toBe(0);
      revs.push(rel.json.candidate);
    }
    const [r1, r2, r3, r4] = revs;
    // What Knative's revision garbage collector does to old revisions.
    expect(await kube.delete(revisionPath(ns, r3))).toBe(true);
    await waitFor(async () => !(await kube.getOrNull(revisionPath(ns, r3))), 20_000, 'r3 gone');

    const first = await run(['canary', 'undo', 'hello', '-n', ns], cwd);
    expect(first.result.exitCode, String(first.result.stderr)).toBe(0);
    expect(first.json).toMatchObject({ from: r4, to: r2, skipped: [r3] });
    expect(JSON.parse(readFileSync(join(cwd, first.json.evidence), 'utf8')).skipped).toEqual([r3]);
    const second = await run(['canary', 'undo', 'hello', '-n', ns], cwd);
    expect(second.result.exitCode, String(second.result.stderr)).toBe(0);
    expect(second.json).toMatchObject({ from: r2, to: r1 });
    const third = await run(['canary', 'undo', 'hello', '-n', ns], cwd);
    expect(third.result.exitCode).toBe(3);
    expect(third.json.error.message).toBe(
      `no earlier good revision of hello left to go back to (no longer on the cluster: ${r3}; undone away from since they last passed a gate: ${r4}, ${r2})`,
    );
    await waitFor(async () => split((await kube.get(ksvcPath(ns))).status.traffic)[r1] === 100, 20_000, 'traffic on r1');
  });

  it('history shows the namespace the kube flags resolve to (the kubeconfig context’s here), -n another, -A all with a namespace column', async () => {
    const [a, b] = [await freshNamespace(kube, 'hist-a'), await freshNamespace(kube, 'hist-b')];
    const cwd = tempDir();
    const ra = await firstRelease(run, cwd, a);
    const rb = await firstRelease(run, cwd, b);
    // The same kubeconfig with its current context's namespace set to `a`.
    const kc = parse(readFileSync(env.kubeconfig, 'utf8'));
    const current = kc.contexts.find((c: any) => c.name === kc['current-context']);
    current.context.namespace = a;
    const kubeconfig = join(cwd, 'kubeconfig-a');
    writeFileSync(kubeconfig, stringify(kc));
    const hist = (args: string[]) => vpmJson(['history', 'hello', ...args], { cwd, env: { KUBECONFIG: kubeconfig } });

    const inA = await hist([]);
    expect(inA.result.exitCode, String(inA.result.stderr)).toBe(0);
    expect(inA.json.namespace).toBe(a);
    expect(inA.json.entries.map((e: any) => `${e.namespace}:${e.revision}`)).toEqual([`${a}:${ra}`]);
    expect((await hist(['-n', b])).json.entries.map((e: any) => `${e.namespace}:${e.revision}`)).toEqual([`${b}:${rb}`]);
    const all = await hist(['-A']);
    expect(all.json.namespace).toBeNull();
    expect(all.json.entries.map((e: any) => `${e.namespace}:${e.revision}`).sort()).toEqual([`${a}:${ra}`, `${b}:${rb}`].sort());
    const table = await vpm(['history', 'hello', '-A'], { cwd, env: { KUBECONFIG: kubeconfig } });
    expect(
      String(table.stdout)
        .split('\n')
        .map((l) => l.split(/\s+/)[1]),
    ).toEqual(all.json.entries.map((e: any) => e.namespace));
    // No kubeconfig at all: history still reads the evidence, in namespace `default`.
    const none = await vpmJson(['history', 'hello'], { cwd, env: { KUBECONFIG: join(cwd, 'missing') } });
    expect(none.result.exitCode, String(none.result.stderr)).toBe(0);
    expect(none.json).toMatchObject({ namespace: 'default', entries: [] });
    expect((await vpmJson(['history', 'hello', '-A', '-n', a], { cwd })).result.exitCode).toBe(2);
  });
});
