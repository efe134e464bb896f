// Sandbox overhead per exec step: median wall time of `vpm run --exec` on a job of 20 `true` steps
// in bubblewrap vs `--no-sandbox`, same run, interleaved (so machine noise hits both alike). Both
// take the same checkpoint; the difference is bwrap's start-up per step.
// Run alone: `node bench/sandbox.bench.js` (after `npm run build`). Target: ratio ≤ 1.25.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { VPM, median, timeProcess } from './lib.js';

const TARGET = 1.25;
const STEPS = 20;

function repo() {
  const cwd = mkdtempSync(join(tmpdir(), 'vpm-bench-sandbox-'));
  execFileSync('git', ['init', '-q'], { cwd });
  writeFileSync(join(cwd, '.gitignore'), 'reports/\nlogs/\ncodex/\n');
  execFileSync('git', ['-c', 'user.email=b@b', '-c', 'user.name=b', 'commit', '-q', '--allow-empty', '-m', 'base'], { cwd });
  mkdirSync(join(cwd, 'codex', 'inbox'), { recursive: true });
  writeFileSync(join(cwd, 'vpm.config.json'), JSON.stringify({ execution_policy: { default_action: 'deny', allowlist: ['true'] } }));
  return cwd;
}

function queue(cwd, id) {
  const steps = Array.from({ length: STEPS }, (_, i) => ({ name: `true ${i}`, argv: ['true'] }));
  writeFileSync(
    join(cwd, 'codex', 'inbox', `${id}.json`),
    JSON.stringify({ id, kind: 'exec', created_at: new Date().toISOString(), source: 'bench', steps }),
  );
}

export async function run({ rounds = 7 } = {}) {
  const sandboxed = repo();
  const bare = repo();
  const times = { bwrap: [], none: [] };
  for (let r = 0; r < rounds + 1; r++) {
    for (const [mode, cwd, extra] of [
      ['bwrap', sandboxed, []],
      ['none', bare, ['--no-sandbox']],
    ]) {
      queue(cwd, `bench_${r}`);
      const ms = timeProcess(process.execPath, [VPM, '--cwd', cwd, 'run', '--exec', ...extra]);
      if (r > 0) times[mode].push(ms); // round 0 warms the page cache
    }
  }
  const bwrap = median(times.bwrap);
  const none = median(times.none);
  const ratio = Number((bwrap / none).toFixed(3));
  return [
    {
      name: 'runner.sandbox_overhead_20_steps',
      value: ratio,
      unit: 'x (bwrap / none, median wall time)',
      baseline: 1,
      ratio,
      target: `<= ${TARGET}`,
      ok: ratio <= TARGET,
      bwrap_median_ms: Math.round(bwrap),
      none_median_ms: Math.round(none),
      per_step_overhead_ms: Number(((bwrap - none) / STEPS).toFixed(2)),
      rounds,
    },
  ];
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const figures = await run();
  for (const f of figures) console.log(JSON.stringify(f));
  if (figures.some((f) => !f.ok)) process.exitCode = 1;
}
