// Issue 17: deploy control against REAL Knative Serving 1.15.2 (tests/support/knative-real.ts).
//  - stack up from cached binaries: median of `starts` start/stop cycles (goal ≤ 20 s), against the
//    kube-apiserver + etcd start inside the same cycle (the floor every cluster pays).
//  - canary detect → restore on a candidate failing 30% of requests (the test app's ERROR_RATE), from the
//    first failed request to the patch that put 100% back on stable (from the evidence):
//      probe provider, --interval 2s                → goal ≤ window + 1 s
//      Prometheus provider, 5 s scrape, 20 s window → goal ≤ window + 2 × scrape + 1 s
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { VPM, median, round } from './lib.js';

const SCRAPE_S = 5;

export async function run({ starts = 3, canaries = 3 } = {}) {
  const { RealKnative, findKnative, steadyRequests } = await import('../tests/support/knative-real.ts');
  const found = findKnative();
  if ('missing' in found) return [{ name: 'real Knative benchmarks', error: found.missing, ok: false }];
  const { startPrometheus } = await import('../tests/support/prometheus.ts');

  const upMs = [];
  for (let i = 0; i < starts - 1; i++) {
    const kn = new RealKnative({ dir: mkdtempSync(join(tmpdir(), 'vpm-bench-kn-')), log: () => undefined });
    try {
      await kn.start();
      upMs.push(kn.startupMs);
    } finally {
      await kn.stop();
    }
  }
  const kn = new RealKnative({ dir: mkdtempSync(join(tmpdir(), 'vpm-bench-kn-')), log: () => undefined });
  let prom;
  try {
    await kn.start();
    upMs.push(kn.startupMs);
    prom = await startPrometheus({ dir: join(kn.dir, 'prometheus'), targets: [], scrapeIntervalS: SCRAPE_S });
    kn.syncQueueProxyTargets((t) => prom.setTargets(t));
    const env = { ...process.env, KUBECONFIG: kn.kubeconfig, VPM_INGRESS_URL: kn.ingressUrl };
    const vpm = (cwd, args) =>
      promisify(execFile)(process.execPath, [VPM, '--cwd', cwd, '--json', ...args], { env, timeout: 300_000 }).catch((e) => e);

    let n = 0;
    /** hello with a first revision at 100% and a candidate failing 30% of its requests at 0%. */
    async function badCandidate() {
      const ns = `bench-${process.pid}-${++n}`;
      await kn.kube.ensureNamespace(ns);
      const cwd = mkdtempSync(join(tmpdir(), 'vpm-bench-kn-canary-'));
      const ksvc = (envVars, traffic) => {
        const file = join(cwd, `ksvc-${Object.keys(envVars).length}.json`);
        writeFileSync(
          file,
          JSON.stringify({
            apiVersion: 'serving.knative.dev/v1',
            kind: 'Service',
            metadata: { name: 'hello', namespace: ns },
            spec: {
              template: {
                spec: {
                  containers: [
                    { image: 'dev.local/vpm-testapp:v1', env: Object.entries(envVars).map(([name, value]) => ({ name, value })) },
                  ],
                },
              },
              ...(traffic ? { traffic } : {}),
            },
          }),
        );
        return file;
      };
      await vpm(cwd, ['apply', ksvc({}), '-n', ns]);
      await vpm(cwd, ['ready', 'hello', '-n', ns, '--timeout', '90s']);
      await vpm(cwd, ['apply', ksvc({ ERROR_RATE: '0.3' }, [{ revisionName: 'hello-00001', percent: 100 }]), '-n', ns]);
      await vpm(cwd, ['ready', 'hello', '-n', ns, '--timeout', '90s']);
      return { ns, cwd };
    }
    async function restoreMs(args, withLoad) {
      const out = [];
      for (let i = 0; i < canaries; i++) {
        const { ns, cwd } = await badCandidate();
        const load = withLoad ? steadyRequests(kn.ingressUrl, `hello.${ns}.example.com`) : undefined;
        const r = await vpm(cwd, ['canary', 'start', 'hello', '-n', ns, ...args]);
        load?.stop();
        const doc = JSON.parse(r.stdout);
        if (!doc.error?.details?.evidence) throw new Error(`canary did not abort: ${r.stdout}`);
        out.push(JSON.parse(readFileSync(join(cwd, doc.error.details.evidence), 'utf8')).detect_to_restore_ms);
      }
      return out;
    }
    const probe = await restoreMs(['--interval', '2s', '--provider', 'probe'], false);
    const windowS = 4 * SCRAPE_S;
    const promRestore = await restoreMs(['--interval', `${windowS}s`, '--provider', 'prometheus', '--prometheus-url', prom.url], true);
    const probeGoal = 2_000 + 1_000;
    const promGoal = windowS * 1000 + 2 * SCRAPE_S * 1000 + 1_000;
    return [
      {
        name: 'real Knative stack up (cached binaries)',
        median_ms: round(median(upMs)),
        baseline: 'goal 20 s',
        baseline_ms: 20_000,
        ratio: round(median(upMs) / 20_000, 3),
        target: '≤ 20000 ms',
        ok: median(upMs) <= 20_000,
        samples: upMs.length,
      },
      {
        name: 'real Knative canary detect → restore, probe (--interval 2s)',
        median_ms: round(median(probe)),
        baseline: 'window + 1 s',
        baseline_ms: probeGoal,
        ratio: round(median(probe) / probeGoal, 3),
        target: `≤ ${probeGoal} ms`,
        ok: median(probe) <= probeGoal,
        samples: probe.length,
      },
      {
        name: `real Knative canary detect → restore, Prometheus (${SCRAPE_S} s scrape, ${windowS} s window)`,
        median_ms: round(median(promRestore)),
        baseline: 'window + 2 × scrape + 1 s',
        baseline_ms: promGoal,
        ratio: round(median(promRestore) / promGoal, 3),
        target: `≤ ${promGoal} ms`,
        ok: median(promRestore) <= promGoal,
        samples: promRestore.length,
      },
    ];
  } finally {
    await prom?.stop();
    await kn.stop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) console.log(await run());
