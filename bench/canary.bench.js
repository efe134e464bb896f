// Issue 6 / 9: canary detection-to-restore time and traffic-shift API latency, against a real
// kube-apiserver with the Knative simulator (the test environment, started here in a temp dir).
//  - traffic shift: vpm's merge patch of spec.traffic (+ progress annotation, resourceVersion
//    guarded) vs a plain GET of the same KService (the API round-trip floor), p50/p95.
//  - detect → restore: `vpm canary start` on a candidate failing 30% of requests, --interval 2s;
//    from the first failed request to the patch that put 100% back on stable (from the evidence).
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { REPO, VPM, median, percentile, round } from './lib.js';

export async function run({ shifts = 40, canaries = 5 } = {}) {
  const { Testenv, kubeFor, freshNamespace, findAssets } = await import('../tests/support/testenv.ts');
  if ('missing' in findAssets())
    return [{ name: 'canary benchmarks', error: 'test environment binaries missing (npm run testenv:build)', ok: false }];
  const { helloWithCandidate } = await import('../tests/helpers/deploy.ts');
  const { KubeClient } = await import('../dist/adapters/kube.js');
  const { writeCanaryTraffic } = await import('../dist/deploy/canary.js');
  const { splitTraffic, ksvcRef } = await import('../dist/deploy/ksvc.js');
  const env = new Testenv({ dir: mkdtempSync(join(tmpdir(), 'vpm-bench-env-')), log: () => undefined });
  try {
    const info = await env.ensure({ clusters: 1 });
    const kube = await kubeFor(info, 'cluster-a');

    // Traffic-shift latency.
    const ns = await freshNamespace(kube, 'bench-shift');
    const { stable, candidate } = await helloWithCandidate(kube, ns);
    const client = await KubeClient.connect({ kubeconfig: info.kubeconfig, context: 'cluster-a', namespace: ns });
    const shiftMs = [];
    const getMs = [];
    for (let i = 0; i < shifts; i++) {
      const pct = [10, 50, 100][i % 3];
      let t = performance.now();
      await writeCanaryTraffic(
        client,
        'hello',
        splitTraffic(stable, candidate, pct),
        {
          run_id: 'bench',
          stable,
          candidate,
          steps: [10, 50, 100],
          step_index: i % 3,
          phase: 'progressing',
          updated_at: new Date().toISOString(),
        },
        () => undefined,
      );
      shiftMs.push(performance.now() - t);
      t = performance.now();
      await client.get(ksvcRef('hello', ns));
      getMs.push(performance.now() - t);
    }

    // Detection → restore.
    const restore = [];
    for (let i = 0; i < canaries; i++) {
      const cns = await freshNamespace(kube, 'bench-bad');
      await helloWithCandidate(kube, cns, { 'vpm-sim/error-rate': '0.3' });
      const cwd = mkdtempSync(join(tmpdir(), 'vpm-bench-canary-'));
      // Asynchronous on purpose: the simulator runs in this process and must keep reconciling.
      const r = await promisify(execFile)(
        process.execPath,
        [VPM, '--cwd', cwd, '--json', 'canary', 'start', 'hello', '-n', cns, '--interval', '2s'],
        { env: { ...process.env, KUBECONFIG: info.kubeconfig } },
      ).catch((e) => e);
      const out = JSON.parse(r.stdout);
      const evidence = JSON.parse(readFileSync(join(cwd, out.error.details.evidence), 'utf8'));
      restore.push(evidence.detect_to_restore_ms);
    }
    const p = (xs, q) => round(percentile(xs, q));
    return [
      {
        name: 'traffic shift (merge patch, p50)',
        median_ms: p(shiftMs, 50),
        baseline: 'GET same KService (p50)',
        baseline_ms: p(getMs, 50),
        ratio: round(p(shiftMs, 50) / p(getMs, 50), 3),
        target: 'informational',
        ok: true,
        samples: shifts,
      },
      {
        name: 'traffic shift (merge patch, p95)',
        median_ms: p(shiftMs, 95),
        baseline: 'GET same KService (p95)',
        baseline_ms: p(getMs, 95),
        ratio: round(p(shiftMs, 95) / p(getMs, 95), 3),
        target: 'informational',
        ok: true,
        samples: shifts,
      },
      {
        name: 'canary detect → restore (--interval 2s)',
        median_ms: round(median(restore)),
        baseline: 'max of runs',
        baseline_ms: round(Math.max(...restore)),
        ratio: null,
        target: '≤ 10000 ms',
        ok: Math.max(...restore) <= 10_000,
        samples: canaries,
      },
    ];
  } finally {
    await env.stop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) console.log(await run());
void REPO;
