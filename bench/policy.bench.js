// Policy evaluation throughput on one core over a mixed corpus: the bypass corpora (denied, incl.
// issue 15's), the allowed controls, and plain argv steps as jobs usually carry them, under two policies (the
// corpus's default-allow policy and a default-deny policy with an allowlist).
// Run alone: `node bench/policy.bench.js` (after `npm run build`). Target: ≥ 200,000 decisions/s.
import { readFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const TARGET = 200_000;

export async function run({ durationMs = 1500 } = {}) {
  const { evaluatePolicy } = await import(pathToFileURL(join(root, 'dist/runner/policy.js')).href);
  const corpus = JSON.parse(readFileSync(join(root, 'tests/fixtures/policy-bypass/corpus.json'), 'utf8'));
  const toStep = (e) => (e.argv ? { argv: e.argv } : { command: e.command });
  const plain = [
    { argv: ['kubectl', 'diff', '-f', 'infra/k8s/overlays/dev/hello.yaml'] },
    { argv: ['kubectl', 'apply', '--server-side', '--field-manager=vpm', '-f', 'infra/k8s/overlays/dev/hello.yaml'] },
    { argv: ['kubectl', 'get', '-f', 'infra/k8s/overlays/dev/hello.yaml', '-o', 'yaml'] },
    { argv: ['npm', 'test'] },
    { argv: ['git', 'status', '--short'] },
  ];
  // Issue 15's attempts too (non-canonical input, program options, env, wrappers): the stricter canonical form is measured.
  const issue15 = JSON.parse(readFileSync(join(root, 'tests/fixtures/policy-bypass/issue15.json'), 'utf8'));
  const sub = (w) => w.replaceAll('@OUT@', '/tmp/out/m').replaceAll('@IN@', 'markers/m').replaceAll('@REPO@', '/tmp/repo');
  const attempts = issue15.attempts.map((a) => (a.argv ? { argv: a.argv.map(sub) } : { command: sub(a.command) }));
  const steps = [...corpus.denied.map(toStep), ...corpus.allowed.map(toStep), ...attempts, ...plain, ...plain, ...plain];
  const policies = [
    corpus.policy,
    {
      default_action: 'deny',
      deny_if_contains: ['rm', 'git push', 'kubectl delete'],
      deny_patterns: ['--force\\b', '^curl .*\\|'],
      allowlist: ['kubectl diff', 'kubectl apply --server-side', 'kubectl get', 'git status', 'npm test', 'ls', 'echo'],
      stop_on_deny: true,
    },
  ];
  // Warm up (JIT, compiled-policy cache), then measure whole passes over the corpus.
  for (let i = 0; i < 200; i++) for (const p of policies) for (const s of steps) evaluatePolicy(s, p);
  // Throughput per CPU-second of this (single-threaded) process: "on one core", and unaffected by
  // other processes competing for the machine. Wall-clock throughput is reported alongside.
  let decisions = 0;
  let denied = 0;
  const started = process.hrtime.bigint();
  const cpu0 = process.cpuUsage();
  let elapsedMs = 0;
  while (elapsedMs < durationMs) {
    for (const p of policies) {
      for (const s of steps) {
        if (evaluatePolicy(s, p).decision === 'deny') denied++;
        decisions++;
      }
    }
    elapsedMs = Number(process.hrtime.bigint() - started) / 1e6;
  }
  const cpu = process.cpuUsage(cpu0);
  const cpuMs = (cpu.user + cpu.system) / 1000;
  const value = Math.round((decisions / cpuMs) * 1000);
  const wall = Math.round((decisions / elapsedMs) * 1000);
  // One figure, in the list form bench/run.js collects; the target is the baseline.
  return [
    {
      name: 'policy.decisions_per_second',
      value,
      unit: 'decisions/cpu-s',
      baseline: TARGET,
      ratio: Number((value / TARGET).toFixed(2)),
      target: `>= ${TARGET}`,
      ok: value >= TARGET,
      wall_decisions_per_second: wall,
      corpus_size: steps.length * policies.length,
      denied_share: Number((denied / decisions).toFixed(3)),
    },
  ];
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const figures = await run();
  for (const f of figures) console.log(JSON.stringify(f));
  if (figures.some((f) => !f.ok)) process.exitCode = 1;
}
