// DRY per-job overhead of the runner, in process (no process start): scan, validate, lock, policy,
// step logs, phase state after every step, phase summary, run.log, move to _done — for jobs of
// 5 steps. Run alone: `node bench/runner-dry.bench.js` (after `npm run build`). Target: ≤ 50 ms/job.
import { mkdirSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const TARGET_MS = 50;

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export async function run({ jobsPerRound = 20, rounds = 5 } = {}) {
  const { runInbox } = await import(pathToFileURL(join(root, 'dist/runner/runner.js')).href);
  const { ConfigSchema } = await import(pathToFileURL(join(root, 'dist/schemas/config.js')).href);
  const config = ConfigSchema.parse({
    execution_policy: {
      default_action: 'deny',
      deny_if_contains: ['rm', 'git push'],
      allowlist: ['kubectl diff', 'kubectl apply --server-side', 'kubectl get', 'echo', 'git status'],
    },
  });
  const noExec = async () => {
    throw new Error('DRY must not execute');
  };
  const perJob = [];
  for (let round = 0; round < rounds + 1; round++) {
    const cwd = mkdtempSync(join(tmpdir(), 'vpm-bench-runner-'));
    mkdirSync(join(cwd, 'codex', 'inbox'), { recursive: true });
    for (let j = 0; j < jobsPerRound; j++) {
      const id = `bench_${round}_${String(j).padStart(3, '0')}`;
      const job = {
        id,
        kind: 'exec',
        created_at: new Date(Date.UTC(2026, 0, 1, 0, 0, j)).toISOString(),
        source: 'bench',
        steps: [
          { name: 'status', argv: ['git', 'status', '--short'] },
          { name: 'diff', argv: ['kubectl', 'diff', '-f', 'infra/k8s/overlays/dev/hello.yaml'] },
          { name: 'apply', argv: ['kubectl', 'apply', '--server-side', '--field-manager=vpm', '-f', 'infra/k8s/overlays/dev/hello.yaml'] },
          { name: 'get', command: 'kubectl get -f infra/k8s/overlays/dev/hello.yaml -o yaml' },
          { name: 'note', command: "env LANG=C echo 'done'" },
        ],
      };
      writeFileSync(join(cwd, 'codex', 'inbox', `${id}.json`), JSON.stringify(job));
    }
    const t0 = process.hrtime.bigint();
    const report = await runInbox(
      { mode: 'run', clean: false, exec: 'dry' },
      { cwd, env: {}, now: () => new Date(), exec: noExec, config },
    );
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (report.jobs.length !== jobsPerRound || report.phase !== 'done')
      throw new Error(`unexpected run: ${report.phase} ${report.jobs.length}`);
    if (round > 0) perJob.push(ms / jobsPerRound); // round 0 warms up module loading and the JIT
    rmSync(cwd, { recursive: true, force: true });
  }
  const value = Math.round(median(perJob) * 100) / 100;
  return [
    {
      name: 'runner.dry_ms_per_job',
      value,
      unit: 'ms/job',
      baseline: TARGET_MS,
      ratio: Math.round((value / TARGET_MS) * 100) / 100,
      target: `<= ${TARGET_MS}`,
      ok: value <= TARGET_MS,
      steps_per_job: 5,
      samples: perJob.length,
    },
  ];
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const figures = await run();
  for (const f of figures) console.log(JSON.stringify(f));
  if (figures.some((f) => !f.ok)) process.exitCode = 1;
}
