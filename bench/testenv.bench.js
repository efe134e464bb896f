// Issue 5 / 9: `npm run testenv:up` (cached binaries) until a ready API server, against starting a
// bare `node -e 0` (process floor) — the figure is the median wall time; target ≤ 15 s.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO, median, round, timeProcess } from './lib.js';

export async function run({ runs = 3 } = {}) {
  const cli = join(REPO, 'tests/support/cli.ts');
  const ups = [];
  for (let i = 0; i < runs; i++) {
    const dir = mkdtempSync(join(tmpdir(), 'vpm-bench-testenv-'));
    try {
      ups.push(timeProcess(process.execPath, [cli, 'up', '--dir', dir], { env: { ...process.env, VPM_TESTENV_REQUEST: '' } }));
    } finally {
      timeProcess(process.execPath, [cli, 'down', '--dir', dir], { allowFailure: true });
    }
  }
  const m = round(median(ups));
  return [
    {
      name: 'testenv:up to a ready API server (cached binaries)',
      median_ms: m,
      baseline: 'max of runs',
      baseline_ms: round(Math.max(...ups)),
      ratio: null,
      target: '≤ 15000 ms',
      ok: m <= 15_000,
      samples: runs,
    },
  ];
}

if (import.meta.url === `file://${process.argv[1]}`) console.log(await run());
