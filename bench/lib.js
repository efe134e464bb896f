// Shared benchmark helpers: timings are medians over repeated runs, and every figure is a ratio
// against a baseline measured in the same run, interleaved, so machine noise hits both alike.
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const REPO = resolve(import.meta.dirname, '..');
export const VPM = join(REPO, 'bin', 'vpm.js');

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export function percentile(xs, p) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}

/** Wall time of one child process in ms (spawnSync: no shell, inherits nothing but env). */
export function timeProcess(cmd, args, opts = {}) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], ...opts });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0 && !opts.allowFailure) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return ms;
}

/** Runs `measure()` and `baseline()` alternately `runs` times; returns both medians and the ratio. */
export async function compare({ runs, warmup = 2, measure, baseline }) {
  for (let i = 0; i < warmup; i++) {
    await measure(i);
    await baseline(i);
  }
  const a = [];
  const b = [];
  for (let i = 0; i < runs; i++) {
    a.push(await measure(i));
    b.push(await baseline(i));
  }
  const m = median(a);
  const base = median(b);
  return { median_ms: round(m), baseline_ms: round(base), ratio: round(m / base, 3), samples: runs };
}

export function round(x, digits = 2) {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

export function tempDir(prefix = 'vpm-bench-') {
  return mkdtempSync(join(tmpdir(), prefix));
}
