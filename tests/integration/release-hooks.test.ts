/**
 * Issue 18, hooks: `pre_rollout`, `pre_step`, `post_rollout` and `on_abort` in config `canary.hooks`
 * (or the SLO file's `hooks`) run as runner jobs — through the execution policy (here the built-in
 * default policy) and the bubblewrap sandbox. A failing pre_rollout hook stops the release before
 * any traffic moves (exit 4), a hook the policy denies does too (exit 3); a failing pre_step hook
 * puts traffic back on stable; every hook's (masked) output is in the canary evidence.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { requireTestenv, useTestenv, kubeFor, freshNamespace, type TestenvInfo } from '../support/testenv.ts';
import type { Kube } from '../support/kube.ts';
import { tempDir, vpmJson } from '../helpers/cli.ts';
import { ksvcPath } from '../helpers/deploy.ts';
import { annotation, firstRelease, helloManifest, observed, split } from '../helpers/release.ts';

const TOKEN = `ghp_${'h00k'.repeat(9)}`;

describe.skipIf(!requireTestenv())('release and canary hooks (policy + sandbox)', () => {
  let env: TestenvInfo;
  let kube: Kube;
  const run = (args: string[], cwd: string) => vpmJson(args, { cwd, env: { KUBECONFIG: env.kubeconfig }, timeoutMs: 180_000 });
  const readJson = (cwd: string, rel: string) => JSON.parse(readFileSync(join(cwd, rel), 'utf8'));
  const withHooks = (cwd: string, hooks: Record<string, unknown>) =>
    writeFileSync(join(cwd, 'vpm.config.yaml'), stringify({ canary: { hooks } }));

  beforeAll(async () => {
    env = await useTestenv({ clusters: 1 });
    kube = await kubeFor(env, 'cluster-a');
  });

  it('a failing pre_rollout hook stops the release before any traffic moves: exit 4, stable 100%, masked output in the evidence', async () => {
    const ns = await freshNamespace(kube, 'hook-pre');
    const cwd = tempDir();
    const r1 = await firstRelease(run, cwd, ns);
    withHooks(cwd, {
      pre_rollout: [
        { name: 'announce', argv: ['echo', 'smoke test of {{candidate}} in {{namespace}} with', TOKEN] },
        { name: 'smoke', argv: ['ls', '/no/such/{{candidate}}'] },
      ],
      on_abort: [{ name: 'tell', argv: ['echo', 'aborted {{ksvc}}'] }],
    });
    const { value: released, seen } = await observed(kube, ns, () =>
      run(['release', 'hello', '-f', helloManifest(cwd, 'v2.yaml', ns, 'v2'), '--interval', '1s', '--guard-window', '0'], cwd),
    );
    expect(released.result.exitCode, String(released.result.stderr)).toBe(4);
    const r2 = released.json.error.details.candidate as string;
    expect(released.json.error.message).toMatch(/pre_rollout hook failed: fatal_error: step 2 \(smoke\)/);
    expect(released.json.error.message).toContain(`100% on ${r1}`);
    // no observed moment gave the candidate any traffic, and spec.traffic is still the release's 0% routing
    for (const { traffic } of seen) expect(split(traffic)[r2] ?? 0, JSON.stringify(traffic)).toBe(0);
    const live = await kube.get(ksvcPath(ns));
    expect(split(live.spec.traffic)).toEqual({ [r1]: 100, latest: 0 });
    expect(await annotation(kube, ns, 'vpm.dev/canary')).toBeUndefined();
    expect(await annotation(kube, ns, 'vpm.dev/release')).toMatchObject({ phase: 'failed' });

    const record = readJson(cwd, released.json.error.details.evidence);
    expect(record.phases.map((p: any) => `${p.phase}:${p.verdict}`)).toEqual(['apply:applied', 'ready:ready', 'canary:aborted']);
    const canary = readJson(cwd, record.phases[2].evidence);
    expect(canary.checks).toEqual([]);
    expect(canary.hooks.map((h: any) => `${h.kind}:${h.phase}`)).toEqual(['pre_rollout:fatal_error', 'on_abort:done']);
    const [pre, abort] = canary.hooks;
    expect(pre.steps[0]).toMatchObject({ name: 'announce', decision: 'allow', exit_code: 0, sandbox: 'bwrap' });
    expect(pre.steps[0].stdout_tail).toBe(`smoke test of ${r2} in ${ns} with ***\n`);
    expect(pre.steps[1]).toMatchObject({ name: 'smoke', decision: 'allow', exit_code: 2, sandbox: 'bwrap' });
    expect(pre.steps[1].stderr_tail).toContain(`/no/such/${r2}`);
    expect(abort.steps[0].stdout_tail).toBe('aborted hello\n');
    // the runner's own records of the job, masked too
    expect(readFileSync(join(cwd, pre.reports_dir, 'steps', 'step_001.json'), 'utf8')).not.toContain(TOKEN);
    expect(JSON.stringify(canary)).not.toContain(TOKEN);
  });

  it('a pre_rollout hook the execution policy denies stops the release too: exit 3, nothing moved, nothing executed', async () => {
    const ns = await freshNamespace(kube, 'hook-deny');
    const cwd = tempDir();
    const r1 = await firstRelease(run, cwd, ns);
    writeFileSync(join(cwd, 'victim'), 'keep me');
    withHooks(cwd, { pre_rollout: [{ name: 'cleanup', command: 'rm -f victim' }] });
    const { value: released, seen } = await observed(kube, ns, () =>
      run(['release', 'hello', '-f', helloManifest(cwd, 'v2.yaml', ns, 'v2'), '--interval', '1s', '--guard-window', '0'], cwd),
    );
    expect(released.result.exitCode, String(released.result.stderr)).toBe(3);
    expect(released.json.error.message).toMatch(
      /pre_rollout hook denied by the execution policy: deny: step 1 \(cleanup\) deny_if_contains: rm/,
    );
    const r2 = released.json.error.details.candidate as string;
    for (const { traffic } of seen) expect(split(traffic)[r2] ?? 0).toBe(0);
    expect(split((await kube.get(ksvcPath(ns))).spec.traffic)).toEqual({ [r1]: 100, latest: 0 });
    expect(readFileSync(join(cwd, 'victim'), 'utf8')).toBe('keep me');
    const canary = readJson(cwd, readJson(cwd, released.json.error.details.evidence).phases[2].evidence);
    expect(canary.hooks[0]).toMatchObject({ kind: 'pre_rollout', phase: 'deny' });
    expect(canary.hooks[0].steps[0]).toMatchObject({ decision: 'deny', matched_rule: 'deny_if_contains: rm', exit_code: null });
  });

  it('pre_step runs before every step with its percentage; one failing at 50% puts 100% back on stable (exit 4); post_rollout runs after a promotion', async () => {
    const ns = await freshNamespace(kube, 'hook-step');
    const cwd = tempDir();
    const r1 = await firstRelease(run, cwd, ns);
    // the gate files the pre_step hook looks for: the repository is the sandbox's one writable (and visible) tree
    mkdirSync(join(cwd, 'gates'));
    writeFileSync(join(cwd, 'gates', '10'), '');
    writeFileSync(
      join(cwd, 'slo.yaml'),
      stringify({ min_requests: 5, hooks: { pre_step: [{ name: 'gate', argv: ['ls', 'gates/{{percent}}'] }] } }),
    );
    const stopped = await run(
      ['release', 'hello', '-f', helloManifest(cwd, 'v2.yaml', ns, 'v2'), '--slo', 'slo.yaml', '--interval', '1s', '--guard-window', '0'],
      cwd,
    );
    expect(stopped.result.exitCode, String(stopped.result.stderr)).toBe(4);
    expect(stopped.json.error.message).toMatch(/stopped before 50%.*pre_step hook failed/);
    const r2 = stopped.json.error.details.candidate as string;
    expect(split((await kube.get(ksvcPath(ns))).spec.traffic)).toEqual({ [r1]: 100, [r2]: 0 });
    const canary = readJson(cwd, readJson(cwd, stopped.json.error.details.evidence).phases[2].evidence);
    expect(canary.hooks.map((h: any) => `${h.kind}:${h.phase}`)).toEqual(['pre_step:done', 'pre_step:fatal_error']);
    expect(canary.checks.map((c: any) => `${c.percent}:${c.decision}`)).toEqual(['10:pass']);
    expect(canary.timeline.map((e: any) => e.event)).toContain('restored_stable');

    // all gates open, and a post_rollout hook: promoted, every hook recorded in order
    writeFileSync(join(cwd, 'gates', '50'), '');
    writeFileSync(join(cwd, 'gates', '100'), '');
    writeFileSync(
      join(cwd, 'slo.yaml'),
      stringify({
        min_requests: 5,
        hooks: {
          pre_step: [{ name: 'gate', argv: ['ls', 'gates/{{percent}}'] }],
          post_rollout: [{ name: 'done', argv: ['echo', '{{candidate}} serves {{percent}}%'] }],
        },
      }),
    );
    const promoted = await run(['canary', 'start', 'hello', '-n', ns, '--slo', 'slo.yaml', '--interval', '1s'], cwd);
    expect(promoted.result.exitCode, String(promoted.result.stderr)).toBe(0);
    const evidence = readJson(cwd, promoted.json.evidence);
    expect(evidence.hooks.map((h: any) => `${h.kind}:${h.phase}`)).toEqual([
      'pre_step:done',
      'pre_step:done',
      'pre_step:done',
      'post_rollout:done',
    ]);
    expect(evidence.hooks.at(-1).steps[0].stdout_tail).toBe(`${r2} serves 100%\n`);
  });
});
