/**
 * S5 apply through the runner against the real API server: `vpm ask "S5 apply: <env> <target>"` →
 * `vpm run --exec` hands the job over to `vpm apply` (policy-checked), which applies the overlay;
 * apply.log and after.yaml land in the job's folder. A deploy freeze makes the step a fatal_error
 * (vpm apply exits 3) and nothing is applied.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { requireTestenv, useTestenv, kubeFor, freshNamespace, type TestenvInfo } from '../support/testenv.ts';
import type { Kube } from '../support/kube.ts';
import { tempDir, vpmJson } from '../helpers/cli.ts';

describe.skipIf(!requireTestenv())('runner apply jobs against the real API server', () => {
  let env: TestenvInfo;
  let kube: Kube;
  const run = (args: string[], cwd: string) => vpmJson(args, { cwd, env: { KUBECONFIG: env.kubeconfig }, timeoutMs: 120_000 });

  beforeAll(async () => {
    env = await useTestenv({ clusters: 1 });
    kube = await kubeFor(env, 'cluster-a');
  });

  function overlay(cwd: string, ns: string): void {
    mkdirSync(join(cwd, 'infra', 'k8s', 'overlays', 'dev'), { recursive: true });
    writeFileSync(
      join(cwd, 'infra', 'k8s', 'overlays', 'dev', 'settings.yaml'),
      `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: ${ns}\ndata:\n  mode: s5\n`,
    );
  }

  it('vpm ask "S5 apply: dev settings" → vpm run --exec applies the overlay through vpm apply', async () => {
    const ns = await freshNamespace(kube, 'runner-apply');
    const cwd = tempDir();
    overlay(cwd, ns);
    const ask = await run(['ask', '/ask S5 apply: dev settings'], cwd);
    expect(ask.result.exitCode, String(ask.result.stderr)).toBe(0);
    const { result, json } = await run(['run', '--exec'], cwd);
    expect(result.exitCode, String(result.stderr)).toBe(0);
    expect(json.jobs[0]).toMatchObject({ job_id: ask.json.id, phase: 'done' });
    const dir = join(cwd, 'reports', 'codex_runs', ask.json.id);
    expect(readFileSync(join(dir, 'run.log'), 'utf8')).toMatch(/\[EXEC\] vpm apply infra\/k8s\/overlays\/dev\/settings\.yaml → exit 0/);
    const step = JSON.parse(readFileSync(join(dir, 'steps', 'step_001.json'), 'utf8'));
    expect(step).toMatchObject({
      decision: 'allow',
      matched_rule: 'allowlist: vpm apply',
      outcome: 'done',
      handover: { status: 'applied', run_id: expect.stringMatching(/^apply_/) },
    });
    expect(readFileSync(join(dir, 'after.yaml'), 'utf8')).toMatch(/name: settings/);
    expect(readFileSync(join(dir, 'apply.log'), 'utf8')).toMatch(/\[APPLY\]/);
    const cm = await kube.getOrNull(`/api/v1/namespaces/${ns}/configmaps/settings`);
    expect(cm?.data).toEqual({ mode: 's5' });
  });

  it('while deploys are frozen the apply step is a fatal_error and nothing is applied', async () => {
    const ns = await freshNamespace(kube, 'runner-frozen');
    const cwd = tempDir();
    overlay(cwd, ns);
    expect((await run(['freeze', 'on', '--reason', 'incident'], cwd)).result.exitCode).toBe(0);
    const ask = await run(['ask', 'S5 apply: dev settings'], cwd);
    const { result, json } = await run(['run', '--exec'], cwd);
    expect(result.exitCode).toBe(1);
    expect(json.jobs[0]).toMatchObject({ job_id: ask.json.id, phase: 'fatal_error' });
    const step = JSON.parse(readFileSync(join(cwd, 'reports', 'codex_runs', ask.json.id, 'steps', 'step_001.json'), 'utf8'));
    expect(step).toMatchObject({ outcome: 'fatal_error', exit_code: 3 });
    expect(await kube.getOrNull(`/api/v1/namespaces/${ns}/configmaps/settings`)).toBeNull();
  });

  it('allowed controls still run sandboxed: git status, git log --oneline -5, and kubectl get with network: true (operator kubeconfig); without network kubectl cannot reach the server', async () => {
    const ns = await freshNamespace(kube, 'runner-controls');
    const cwd = tempDir();
    const { execa } = await import('execa');
    await execa('git', ['init', '-q'], { cwd });
    await execa('git', ['-c', 'user.email=t@e', '-c', 'user.name=t', 'commit', '-q', '--allow-empty', '-m', 'base'], { cwd });
    mkdirSync(join(cwd, 'codex', 'inbox'), { recursive: true });
    const job = (id: string, steps: unknown[]) =>
      writeFileSync(
        join(cwd, 'codex', 'inbox', `${id}.json`),
        JSON.stringify({ id, kind: 'exec', created_at: new Date().toISOString(), source: 'test', steps }),
      );
    job('controls', [
      { name: 'status', argv: ['git', 'status'] },
      { name: 'log', command: 'git log --oneline -5' },
      { name: 'get', argv: ['kubectl', 'get', 'configmaps', '-n', ns], network: true },
    ]);
    const ok = await run(['run', '--exec'], cwd);
    expect(ok.result.exitCode, String(ok.result.stderr)).toBe(0);
    const get = JSON.parse(readFileSync(join(cwd, 'reports', 'codex_runs', 'controls', 'steps', 'step_003.json'), 'utf8'));
    expect(get).toMatchObject({ outcome: 'done', sandbox: 'bwrap', network: true });
    expect(`${get.stdout_tail}${get.stderr_tail}`).toMatch(new RegExp(`No resources found in ${ns}|NAME`));
    job('offline', [{ name: 'get', argv: ['kubectl', 'get', 'configmaps', '-n', ns] }]);
    const off = await run(['run', '--exec'], cwd);
    expect(off.result.exitCode).toBe(1);
    expect(JSON.parse(readFileSync(join(cwd, 'reports', 'codex_runs', 'offline', 'steps', 'step_001.json'), 'utf8'))).toMatchObject({
      outcome: 'fatal_error',
      network: false,
    });
  });
});
