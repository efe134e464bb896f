import { beforeAll, describe, expect, it } from 'vitest';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { requireTestenv, useTestenv, kubeFor, freshNamespace, type TestenvInfo } from '../support/testenv.ts';
import type { Kube } from '../support/kube.ts';
import { tempDir, vpmJson } from '../helpers/cli.ts';
import { HELLO_MANIFEST, ksvcPath, waitFor } from '../helpers/deploy.ts';

describe.skipIf(!requireTestenv())('vpm apply / sli against the real API server', () => {
  let env: TestenvInfo;
  let kube: Kube;
  const run = (args: string[], cwd: string) => vpmJson(args, { cwd, env: { KUBECONFIG: env.kubeconfig }, timeoutMs: 120_000 });

  beforeAll(async () => {
    env = await useTestenv({ clusters: 1 });
    kube = await kubeFor(env, 'cluster-a');
  });

  function manifest(cwd: string, name: string, docs: string[]): string {
    writeFileSync(join(cwd, name), docs.join('\n---\n'));
    return name;
  }

  const configMap = (ns: string) =>
    `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: ${ns}\ndata:\n  mode: canary\n`;

  it('diff → apply → get: creates the objects, writes apply.log, after.yaml, run.log and the evidence record', async () => {
    const ns = await freshNamespace(kube, 'apply');
    const cwd = tempDir();
    const hello = readFileSync(HELLO_MANIFEST, 'utf8').replace('namespace: default', `namespace: ${ns}`);
    const file = manifest(cwd, 'app.yaml', [configMap(ns), hello]);
    const { result, json } = await run(['apply', file], cwd);
    expect(result.exitCode, String(result.stderr)).toBe(0);
    expect(json.objects.map((o: any) => `${o.kind}/${o.name}:${o.action}`)).toEqual([
      'ConfigMap/settings:created',
      'Service/hello:created',
    ]);
    const dir = join(cwd, json.reports_dir);
    expect(readFileSync(join(dir, 'apply.log'), 'utf8')).toMatch(/\[DIFF\] ConfigMap\/settings[\s\S]*\[APPLY\][\s\S]*\[GET\]/);
    const after = readFileSync(join(dir, 'after.yaml'), 'utf8');
    expect(after).toContain('mode: canary');
    expect(after).not.toContain('managedFields');
    expect(readFileSync(join(dir, 'run.log'), 'utf8')).toMatch(/applied: ConfigMap\/settings created, Service\/hello created/);
    const evidence = JSON.parse(readFileSync(join(dir, 'evidence.json'), 'utf8'));
    expect(evidence).toMatchObject({
      schema: 'vpm.evidence.apply/v1',
      run_id: json.run_id,
      reports_dir: json.reports_dir,
      manifest: 'app.yaml',
      status: 'applied',
    });
    expect(typeof evidence.ts).toBe('string');
    const cm = await kube.get(`/api/v1/namespaces/${ns}/configmaps/settings`);
    expect(cm.metadata.managedFields.some((f: any) => f.manager === 'vpm' && f.operation === 'Apply')).toBe(true);
    // Re-applying the same manifest changes nothing.
    const again = await run(['apply', file], cwd);
    expect(again.json.objects.map((o: any) => o.action)).toEqual(['unchanged', 'unchanged']);
  });

  it('a schema error: clear message naming the object and field, exit 1, nothing applied', async () => {
    const ns = await freshNamespace(kube, 'apply-bad');
    const cwd = tempDir();
    const bad = `apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata:\n  name: broken\n  namespace: ${ns}\nspec:\n  template:\n    spec:\n      containers: nginx\n`;
    const file = manifest(cwd, 'bad.yaml', [configMap(ns), bad]);
    const { result, json } = await run(['apply', file], cwd);
    expect(result.exitCode).toBe(1);
    expect(json.error.message).toMatch(/Service\/broken/);
    expect(json.error.message).toMatch(/spec\.template\.spec\.containers/);
    expect(await kube.getOrNull(`/api/v1/namespaces/${ns}/configmaps/settings`)).toBeNull();
    expect(await kube.getOrNull(ksvcPath(ns, 'broken'))).toBeNull();
    const evidence = JSON.parse(readFileSync(join(cwd, json.error.details.reports_dir, 'evidence.json'), 'utf8'));
    expect(evidence.status).toBe('failed');
  });

  it('--dry-run changes nothing on the server', async () => {
    const ns = await freshNamespace(kube, 'apply-dry');
    const cwd = tempDir();
    const file = manifest(cwd, 'cm.yaml', [configMap(ns)]);
    const { result, json } = await run(['apply', file, '--dry-run'], cwd);
    expect(result.exitCode, String(result.stderr)).toBe(0);
    expect(json.objects[0].action).toBe('would-create');
    expect(await kube.getOrNull(`/api/v1/namespaces/${ns}/configmaps/settings`)).toBeNull();
  });

  it('apply refuses with exit 3 while deploys are frozen, unless overridden with a reason (recorded)', async () => {
    const ns = await freshNamespace(kube, 'apply-frozen');
    const cwd = tempDir();
    const file = manifest(cwd, 'cm.yaml', [configMap(ns)]);
    expect((await run(['freeze', 'on', '--reason', 'incident'], cwd)).result.exitCode).toBe(0);
    const refused = await run(['apply', file], cwd);
    expect(refused.result.exitCode).toBe(3);
    expect(await kube.getOrNull(`/api/v1/namespaces/${ns}/configmaps/settings`)).toBeNull();
    expect((await run(['apply', file, '--force-freeze'], cwd)).result.exitCode).toBe(2);
    const forced = await run(['apply', file, '--force-freeze', '--reason', 'hotfix'], cwd);
    expect(forced.result.exitCode, String(forced.result.stderr)).toBe(0);
    expect(readFileSync(join(cwd, '.ops', 'deploy_freeze_audit.jsonl'), 'utf8')).toMatch(/"event":"override".*"reason":"hotfix"/);
  });

  it('vpm sli measures a reachable service; READY but unreachable is reported as a mismatch, not success', async () => {
    const ns = await freshNamespace(kube, 'sli');
    const cwd = tempDir();
    const hello = readFileSync(HELLO_MANIFEST, 'utf8').replace('namespace: default', `namespace: ${ns}`);
    await run(['apply', manifest(cwd, 'hello.yaml', [hello])], cwd);
    expect((await run(['ready', 'hello', '--namespace', ns], cwd)).result.exitCode).toBe(0);
    const ok = await run(['sli', 'hello', '--namespace', ns, '-n', '30'], cwd);
    expect(ok.result.exitCode, String(ok.result.stderr)).toBe(0);
    expect(ok.json).toMatchObject({ requests: 30, successes: 30, success_rate: 1, mismatch: false, reported_ready: true });
    expect(ok.json.p95_ms).toBeGreaterThan(0);
    expect(existsSync(join(cwd, ok.json.evidence))).toBe(true);

    await kube.mergePatch(ksvcPath(ns), { metadata: { annotations: { 'vpm-sim/route-down': 'true' } } });
    await waitFor(
      async () =>
        await fetch((await kube.get(ksvcPath(ns))).status.url).then(
          () => false,
          () => true,
        ),
      10_000,
      'route down',
    );
    const bad = await run(['sli', 'hello', '--namespace', ns, '-n', '5'], cwd);
    expect(bad.result.exitCode).toBe(1);
    expect(bad.json.error.message).toMatch(/evidence mismatch/);
    const evidence = JSON.parse(readFileSync(join(cwd, bad.json.error.details.evidence), 'utf8'));
    expect(evidence).toMatchObject({ status: 'mismatch', mismatch: true, reported_ready: true });
    expect(evidence.summary.successes).toBe(0);
  });
});
