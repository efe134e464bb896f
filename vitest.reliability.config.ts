import { randomBytes } from 'node:crypto';
import { defineConfig } from 'vitest/config';

// `npm run test:reliability`: the suite that tries to break vpm (concurrency, crash injection, fault
// injection, bad-input fuzzing). Same global setup as vitest.config.ts (the kube test environment,
// started lazily). The reporter prints one line per area and `RELIABILITY: <trials> trials,
// <failures> failures`, and writes reports/reliability/<run_id>.json.
//
// VPM_RELIABILITY_SEED=<n> replays a run's random choices (kill points, fuzz inputs); the seed of
// every run is printed and stored in its report.
const seed = process.env.VPM_RELIABILITY_SEED ?? String(randomBytes(4).readUInt32BE(0) >>> 1);
const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d{3}Z$/, 'Z');
const runId = process.env.VPM_RELIABILITY_RUN_ID ?? `reliability_${stamp}_${randomBytes(3).toString('hex')}`;
process.env.VPM_RELIABILITY_SEED = seed;
process.env.VPM_RELIABILITY_RUN_ID = runId;

export default defineConfig({
  test: {
    include: ['tests/reliability/**/*.reliability.ts'],
    pool: 'forks',
    // Two files at a time on this 2-core machine: every trial spawns vpm processes of its own.
    maxWorkers: 2,
    fileParallelism: true,
    testTimeout: 600_000,
    hookTimeout: 300_000,
    teardownTimeout: 60_000,
    globalSetup: ['tests/support/global-setup.ts'],
    env: { VPM_RELIABILITY_SEED: seed, VPM_RELIABILITY_RUN_ID: runId },
    reporters: ['default', './tests/reliability/support/reporter.ts'],
  },
});
