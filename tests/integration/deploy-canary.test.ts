import { beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { requireTestenv, useTestenv, kubeFor, freshNamespace, type TestenvInfo } from '../support/testenv.ts';
import type { Kube } from '../support/kube.ts';
import { tempDir, vpmJson } from '../helpers/cli.ts';
import { helloWithCandidate, ksvcPath } from '../helpers/deploy.ts';

describe.skipIf(!requireTestenv())('vpm canary against the real API server', () => {
  let env: TestenvInfo;
  let kube: Kube;
  const run = (args: string[], cwd: string) => vpmJson(args, { cwd, env: { KUBECONFIG: env.kubeconfig }, timeoutMs: 120_000 });

  beforeAll(async () => {
    env = await useTestenv({ clusters: 1 });
    kube = await kubeFor(env, 'cluster-a');
  });

  it('vpm ready waits for Ready of the current generation and writes evidence', async () => {
    const ns = await freshNamespace(kube, 'ready');
    const cwd = tempDir();
    const { stable } = await helloWithCandidate(kube, ns);
    const { result, json } = await run(['ready', 'hello', '-n', ns, '--timeout', '30s'], cwd);
    expect(result.exitCode, String(result.stderr)).toBe(0);
    expect(json.ready).toBe(true);
    const evidence = JSON.parse(readFileSync(join(cwd, json.evidence), 'utf8'));
    expect(evidence.schema).toBe('vpm.evidence.ready/v1');
    expect(evidence.observed_generation).toBe(evidence.generation);
    expect(evidence.latest_ready_revision).not.toBe(stable);
    const missing = await run(['ready', 'nope', '-n', ns, '--timeout', '2s'], cwd);
    expect(missing.result.exitCode).toBe(5);
  });

  it('healthy candidate: 10 → 50 → 100, exit 0, three passed gates with raw numbers', async () => {
    const ns = await freshNamespace(kube, 'canary-ok');
    const cwd = tempDir();
    const { stable, candidate } = await helloWithCandidate(kube, ns);
    const { result, json } = await run(['canary', 'start', 'hello', '-n', ns, '--interval', '1s'], cwd);
    expect(result.exitCode, String(result.stderr)).toBe(0);
    expect(json).toMatchObject({ result: 'promoted', stable, candidate });
    const ksvc = await kube.get(ksvcPath(ns));
    const byRev = Object.fromEntries(ksvc.spec.traffic.map((t: any) => [t.revisionName, t.percent]));
    expect(byRev).toEqual({ [stable]: 0, [candidate]: 100 });
    const evidence = JSON.parse(readFileSync(join(cwd, json.evidence), 'utf8'));
    expect(evidence.schema).toBe('vpm.evidence.canary/v1');
    const passed = evidence.checks.filter((c: any) => c.decision === 'pass');
    expect(passed.map((c: any) => c.percent)).toEqual([10, 50, 100]);
    for (const c of passed) {
      expect(c.raw.requests).toBeGreaterThanOrEqual(20);
      expect(c.raw.success_rate).toBe(1);
      expect(typeof c.raw.p95_ms).toBe('number');
      expect(c.thresholds).toMatchObject({ success_rate: 0.99, min_requests: 20 });
      expect(c.query.url).toMatch(/^http:\/\//);
    }
  });

  it('failing candidate (error-rate 0.3): exit 4, 100% back on stable within 10 s of the first bad request', async () => {
    const ns = await freshNamespace(kube, 'canary-bad');
    const cwd = tempDir();
    const { stable, candidate } = await helloWithCandidate(kube, ns, { 'vpm-sim/error-rate': '0.3' });
    const { result, json } = await run(['canary', 'start', 'hello', '-n', ns, '--interval', '2s'], cwd);
    expect(result.exitCode, String(result.stderr)).toBe(4);
    expect(json.error.message).toMatch(/aborted at 10%/);
    const ksvc = await kube.get(ksvcPath(ns));
    const byRev = Object.fromEntries(ksvc.spec.traffic.map((t: any) => [t.revisionName, t.percent]));
    expect(byRev).toEqual({ [stable]: 100, [candidate]: 0 });
    const file = json.error.details.evidence as string;
    const evidence = JSON.parse(readFileSync(join(cwd, file), 'utf8'));
    expect(evidence.result).toBe('aborted');
    const failed = evidence.checks.find((c: any) => c.decision === 'fail');
    expect(failed.raw.success_rate).toBeLessThan(0.99);
    expect(failed.checks.find((c: any) => c.name === 'success_rate').ok).toBe(false);
    expect(evidence.detect_to_restore_ms).toBeGreaterThan(0);
    expect(evidence.detect_to_restore_ms).toBeLessThanOrEqual(10_000);
  });
});
