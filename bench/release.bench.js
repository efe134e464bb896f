// Issue 18: `vpm release` end to end against REAL Knative Serving (tests/support/knative-real.ts, stack 3):
// the project's hello manifest with the test app's image, a first release (first deploy) and then
// `releases` further releases, each a new template, with --steps 10,50,100 --interval 2s
// --guard-window 10s and the probe provider. Figure: the wall time of a release against the sum of
// its configured waits (3 windows of 2 s + the 10 s guard = 16 s, stated), goal ≤ 1.2×. Measured in
// the same run and reported beside it: how much of the time was apply + Ready of the new revision
// (a pod that has to start, which no configured wait covers), from each release's phase records.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { parse, stringify } from 'yaml';
import { REPO, VPM, median, round } from './lib.js';

const STEPS = [10, 50, 100];
const INTERVAL_S = 2;
const GUARD_S = 10;

export async function run({ releases = 3 } = {}) {
  const { RealKnative, findKnative } = await import('../tests/support/knative-real.ts');
  const found = findKnative();
  if ('missing' in found) return [{ name: 'vpm release end to end (real Knative)', error: found.missing, ok: false }];
  const kn = new RealKnative({ dir: mkdtempSync(join(tmpdir(), 'vpm-bench-release-')), index: 3, log: () => undefined });
  try {
    await kn.start();
    const env = { ...process.env, KUBECONFIG: kn.kubeconfig, VPM_INGRESS_URL: kn.ingressUrl };
    const cwd = mkdtempSync(join(tmpdir(), 'vpm-bench-release-cwd-'));
    const ns = `bench-release-${process.pid}`;
    await kn.kube.ensureNamespace(ns);
    const manifest = (version) => {
      const doc = parse(readFileSync(join(REPO, 'infra/k8s/overlays/dev/hello-ksvc.yaml'), 'utf8'));
      doc.metadata.namespace = ns;
      const container = doc.spec.template.spec.containers[0];
      Object.assign(container, { image: 'dev.local/vpm-testapp:v1', env: [{ name: 'MESSAGE', value: version }] });
      // the test app answers health on /healthz (its / is the measured endpoint); the rest of the probe is the manifest's
      container.readinessProbe.httpGet.path = '/healthz';
      const file = join(cwd, `${version}.yaml`);
      writeFileSync(file, stringify(doc));
      return file;
    };
    const release = async (version) => {
      const args = ['release', 'hello', '-f', manifest(version), '--steps', STEPS.join(','), '--interval', `${INTERVAL_S}s`];
      const t0 = performance.now();
      const r = await promisify(execFile)(process.execPath, [VPM, '--cwd', cwd, '--json', ...args, '--guard-window', `${GUARD_S}s`], {
        env,
        timeout: 300_000,
      }).catch((e) => e);
      const ms = performance.now() - t0;
      const doc = JSON.parse(r.stdout);
      if (doc.result !== 'released' && doc.result !== 'first_deploy') throw new Error(`release ${version} did not go through: ${r.stdout}`);
      const at = (phase) => Date.parse(doc.phases.find((p) => p.phase === phase)?.at ?? '');
      const record = JSON.parse(readFileSync(join(cwd, doc.evidence), 'utf8'));
      // apply + Ready: from the release's start to the ready phase's record
      return { ms, result: doc.result, applyReadyMs: at('ready') - Date.parse(record.started_at) };
    };
    await release('v0'); // the first deploy: nothing live to canary yet
    const runs = [];
    for (let i = 1; i <= releases; i++) runs.push(await release(`v${i}`));
    const waitsMs = (STEPS.length * INTERVAL_S + GUARD_S) * 1000;
    const total = median(runs.map((r) => r.ms));
    const applyReady = median(runs.map((r) => r.applyReadyMs));
    return [
      {
        name: `vpm release end to end, real Knative (steps ${STEPS.join(',')}, interval ${INTERVAL_S} s, guard ${GUARD_S} s, probe)`,
        median_ms: round(total),
        baseline: `sum of configured waits (${STEPS.length} × ${INTERVAL_S} s + ${GUARD_S} s)`,
        baseline_ms: waitsMs,
        ratio: round(total / waitsMs, 3),
        target: '≤ 1.2×',
        ok: total / waitsMs <= 1.2,
        samples: runs.length,
        apply_ready_median_ms: round(applyReady),
        ratio_without_apply_ready: round((total - applyReady) / waitsMs, 3),
      },
    ];
  } finally {
    await kn.stop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) console.log(await run());
