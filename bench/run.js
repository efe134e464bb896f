// `npm run bench`: runs every bench/*.bench.js, prints one table and writes reports/bench/<run_id>.json.
// Each benchmark exports `run(options) → figure[]`; a figure carries its own baseline measured in the
// same run, so the table holds ratios, never typed-in numbers.
import { readdirSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { REPO } from './lib.js';

const only = process.argv.slice(2);
const files = readdirSync(join(REPO, 'bench'))
  .filter((f) => f.endsWith('.bench.js'))
  .filter((f) => only.length === 0 || only.some((o) => f.includes(o)))
  .sort();

const started = new Date();
const runId = `bench_${started
  .toISOString()
  .replace(/[-:]/g, '')
  .replace(/\.\d{3}Z$/, 'Z')}`;
const figures = [];
for (const file of files) {
  process.stderr.write(`bench: ${file} …\n`);
  try {
    const mod = await import(join(REPO, 'bench', file));
    for (const fig of await mod.run()) figures.push({ file, ...fig });
  } catch (err) {
    figures.push({ file, name: file, error: String(err?.message ?? err), ok: false });
  }
}

let sha = null;
try {
  sha = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: REPO, encoding: 'utf8' }).trim();
} catch {}
const report = {
  schema: 'vpm.evidence.bench/v1',
  run_id: runId,
  kind: 'bench',
  started_at: started.toISOString(),
  finished_at: new Date().toISOString(),
  status: figures.every((f) => f.ok !== false) ? 'pass' : 'fail',
  git: { sha },
  machine: { node: process.version, cpus: (await import('node:os')).cpus().length },
  figures,
};
mkdirSync(join(REPO, 'reports', 'bench'), { recursive: true });
writeFileSync(join(REPO, 'reports', 'bench', `${runId}.json`), `${JSON.stringify(report, null, 2)}\n`);

const fmt = (v) => (v === undefined || v === null ? '' : typeof v === 'number' ? String(v) : String(v));
const rows = figures.map((f) => [
  f.name,
  fmt(f.median_ms ?? f.value),
  fmt(f.unit ?? (f.median_ms !== undefined ? 'ms' : '')),
  fmt(f.baseline),
  fmt(f.baseline_ms ?? f.baseline_value),
  fmt(f.ratio),
  fmt(f.target),
  f.error ? `ERROR ${f.error}` : f.ok === false ? 'MISS' : 'ok',
]);
const head = ['figure', 'median', 'unit', 'baseline', 'baseline median', 'ratio', 'target', 'verdict'];
const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
const line = (r) => r.map((c, i) => c.padEnd(widths[i])).join(' | ');
console.log(line(head));
console.log(widths.map((w) => '-'.repeat(w)).join('-|-'));
for (const r of rows) console.log(line(r));
console.log(`\nwritten reports/bench/${runId}.json`);
