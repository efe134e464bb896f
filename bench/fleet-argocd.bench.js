// Issue 19, against the real Argo CD (v3.6.2, tests/support/argocd-real.ts) on two real API servers:
//   - `vpm clusters status` over 2, 5 and 10 Application/cluster pairs (several Applications per cluster,
//     alternating cluster-a / cluster-b): median wall time of the CLI; the figure is the ratio 10 vs 2
//     (goal ≤ 1.5×: clusters are checked in parallel and all Applications come from one list call);
//   - `vpm clusters sync`: patch → Succeeded as vpm observes it (its duration_ms) against the
//     controller's own timing (operationState finishedAt − startedAt, whole seconds in Argo CD's API).
// Also reports the real Argo CD's start-up time (cached binaries). Skips when Argo CD is not built
// (bash tests/testenv/install.sh). Runnable alone: node bench/fleet-argocd.bench.js [runs]
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { median, REPO, round, VPM } from './lib.js';

const APPS = '/apis/argoproj.io/v1alpha1/namespaces/argocd/applications';

/**
 * One vpm run, asynchronously: the Knative simulator lives in this process and must keep running while
 * vpm waits for health (a spawnSync would freeze it). Resolves with wall time and stdout.
 */
function runVpm(args, env) {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(process.execPath, [VPM, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => (err += c));
    child.on('error', reject);
    child.on('close', (code) => resolve({ ms: Number(process.hrtime.bigint() - t0) / 1e6, code, out, err }));
  });
}

export async function run({ runs = 5 } = {}) {
  const { Testenv, findAssets } = await import(join(REPO, 'tests/support/testenv.ts'));
  const { findArgoCd, projectArgoCdObjects } = await import(join(REPO, 'tests/support/argocd-real.ts'));
  const { Kube } = await import(join(REPO, 'tests/support/kube.ts'));
  const missing = findAssets().missing ?? findArgoCd().missing;
  if (missing) return [{ name: 'fleet against real Argo CD', error: missing, ok: false }];

  const dir = mkdtempSync(join(tmpdir(), 'vpm-bench-fleet-'));
  const testenv = new Testenv({ dir, log: () => undefined });
  const figures = [];
  try {
    const t0 = Date.now();
    const env = await testenv.ensure({ clusters: 2, argocd: 'real' });
    const startup = Date.now() - t0;
    const argocd = testenv.realArgoCd;
    const mgmt = await Kube.fromKubeconfig(env.kubeconfig, 'cluster-a');
    const [project, appset] = projectArgoCdObjects(REPO, argocd.repoURL);
    await mgmt.apply(project, 'bench');
    // Bench apps go to their own namespaces, which the vpm project does not allow: a permissive project.
    await mgmt.apply(
      {
        apiVersion: 'argoproj.io/v1alpha1',
        kind: 'AppProject',
        metadata: { name: 'bench', namespace: 'argocd' },
        spec: {
          sourceRepos: ['*'],
          destinations: [{ name: '*', namespace: '*' }],
          clusterResourceWhitelist: [{ group: '*', kind: '*' }],
        },
      },
      'bench',
    );
    const template = { ...appset.spec.template.spec, project: 'bench' };
    const cwd = mkdtempSync(join(tmpdir(), 'vpm-bench-fleet-repo-'));
    execFileSync('git', ['init', '-q', cwd]);
    const runEnv = { ...process.env, KUBECONFIG: env.kubeconfig, VPM_ACTOR: 'bench' };

    const status = async (n) => {
      // n Application/cluster pairs: apps bench-0..n-1, alternating destinations.
      for (let i = 0; i < n; i++) {
        const cluster = i % 2 ? 'cluster-b' : 'cluster-a';
        await mgmt.apply(
          {
            apiVersion: 'argoproj.io/v1alpha1',
            kind: 'Application',
            metadata: { name: `bench-${i}`, namespace: 'argocd', labels: { 'vpm.dev/bench': 'status' } },
            spec: {
              ...template,
              source: { ...template.source, path: `infra/k8s/overlays/${cluster}` },
              destination: { name: cluster, namespace: `bench-${i}` },
            },
          },
          'bench',
        );
      }
      const args = ['--cwd', cwd, 'clusters', 'status', '-l', 'vpm.dev/bench=status', '--json'];
      for (let i = 0; i < 2; i++) await runVpm(args, runEnv);
      const xs = [];
      for (let i = 0; i < runs; i++) {
        const r = await runVpm(args, runEnv);
        if (JSON.parse(r.out).apps.length !== n) throw new Error(`status listed ${JSON.parse(r.out).apps.length} apps, not ${n}`);
        xs.push(r.ms);
      }
      return median(xs);
    };
    const byN = {};
    for (const n of [2, 5, 10]) byN[n] = await status(n);
    const ratio = byN[10] / byN[2];
    figures.push({
      name: 'clusters status: 10 vs 2 Application/cluster pairs (real Argo CD, 2 API servers)',
      median_ms: round(byN[10]),
      baseline: '2 pairs',
      baseline_ms: round(byN[2]),
      five_pairs_ms: round(byN[5]),
      ratio: round(ratio, 3),
      target: '≤ 1.5×',
      ok: ratio <= 1.5,
      samples: runs,
    });
    for (let i = 0; i < 10; i++) await mgmt.delete(`${APPS}/bench-${i}`);

    // Sync: patch → Succeeded, as vpm sees it vs the controller's own startedAt → finishedAt.
    await mgmt.apply(
      {
        apiVersion: 'argoproj.io/v1alpha1',
        kind: 'Application',
        metadata: { name: 'bench-sync', namespace: 'argocd' },
        spec: {
          ...template,
          source: { ...template.source, path: 'infra/k8s/overlays/cluster-a' },
          destination: { name: 'cluster-a', namespace: 'bench-sync' },
        },
      },
      'bench',
    );
    const vpmMs = [];
    const ctrlMs = [];
    for (let i = 0; i < runs; i++) {
      const r = await runVpm(['--cwd', cwd, '--json', 'clusters', 'sync', 'bench-sync', '--timeout', '60s'], runEnv);
      if (r.code !== 0) throw new Error(`clusters sync exited ${r.code}: ${r.err}`);
      const a = JSON.parse(r.out).apps[0];
      vpmMs.push(a.duration_ms);
      ctrlMs.push(Date.parse(a.finished_at) - Date.parse(a.started_at));
    }
    figures.push({
      name: 'clusters sync: patch → Succeeded+Healthy as vpm observes it vs the controller (startedAt → finishedAt, 1 s resolution)',
      median_ms: round(median(vpmMs)),
      baseline: 'controller',
      baseline_ms: round(median(ctrlMs)),
      ratio: null,
      ok: true,
      samples: runs,
    });
    figures.push({
      name: 'real Argo CD + 2 API servers start-up (cached binaries)',
      median_ms: startup,
      argocd_ms: argocd.startupMs,
      ratio: null,
      ok: true,
      samples: 1,
    });
    mgmt.close();
    rmSync(cwd, { recursive: true, force: true });
  } finally {
    await testenv.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  return figures;
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const figures = await run({ runs: Number(process.argv[2] ?? 5) });
  process.stdout.write(`${JSON.stringify(figures, null, 2)}\n`);
}
