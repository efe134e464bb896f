/**
 * Issue 18, named metrics against a real Prometheus (no scrape targets needed: the queries compute
 * their values): PromQL that Prometheus rejects is refused before any traffic moves (exit 2, the
 * metric named); a scalar is one value; several series is an error; too few samples is
 * inconclusive; a ratio to stable is judged as written.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { startPrometheus, type PrometheusHandle } from '../support/prometheus.ts';
import { findBinary } from '../support/testenv.ts';
import { tempDir } from '../helpers/cli.ts';
import { Analysis } from '../../src/deploy/analysis.ts';
import { UsageError } from '../../src/core/errors.ts';
import { exitCodeFor } from '../../src/cli/execute.ts';

const hasPrometheus = Boolean(process.env.VPM_PROMETHEUS_BIN || findBinary('prometheus', ['/usr/bin/prometheus']));
const target = { namespace: 'shop', ksvc: 'hello', candidate: 'hello-00002', stable: 'hello-00001' };
const limits = { consecutive_errors: 2 };
/** A value that depends on {{revision}}: 2 for hello-00001 (stable), 3 for any other revision. */
const BY_REVISION =
  '(label_replace(vector(3), "r", "{{revision}}", "", "") unless on(r) label_replace(vector(0), "r", "hello-00001", "", "")) or on() vector(2)';

describe.skipIf(!hasPrometheus && process.env.VPM_REQUIRE_TESTENV !== '1')('named metrics against real Prometheus', () => {
  let prom: PrometheusHandle;
  beforeAll(async () => {
    prom = await startPrometheus({ dir: join(tempDir(), 'prometheus'), targets: [] });
  }, 60_000);
  afterAll(async () => {
    await prom?.stop();
  });

  it('PromQL Prometheus rejects is a usage error (exit 2) naming the metric, found before any traffic moves', async () => {
    const analysis = new Analysis(
      prom.url,
      [{ name: 'broken', query: 'sum(rate(x[{{window}}])', condition: '< 1', dry_run: false }],
      limits,
    );
    const err = await analysis.preflight(target as typeof target & { stable: string }, 8_000).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(UsageError);
    expect(exitCodeFor({ error: err })).toBe(2);
    expect((err as Error).message).toMatch(/^metric broken: Prometheus rejects the query sum\(rate\(x\[8000ms\]\): /);
  });

  it('a scalar is one value; several series is an error; too few samples is inconclusive; a ratio to stable is judged as written', async () => {
    const analysis = new Analysis(
      prom.url,
      [
        { name: 'scalar', query: 'scalar(vector(0.004))', condition: '< 0.01', dry_run: false },
        {
          name: 'two',
          query: 'label_replace(vector(1), "a", "x", "", "") or label_replace(vector(2), "a", "y", "", "")',
          condition: '< 5',
          dry_run: false,
        },
        { name: 'sparse', query: 'vector(0)', condition: '< 1', min_samples: 5, samples_query: 'vector(3)', dry_run: false },
      ],
      limits,
    );
    const [scalar, two, sparse] = await analysis.evaluate(target, 8_000, new Date());
    expect(scalar).toMatchObject({ decision: 'pass', value: 0.004, query: 'scalar(vector(0.004))' });
    expect(two).toMatchObject({ decision: 'error', value: null });
    expect(two.reason).toMatch(/the query returns 2 series; aggregate it to one/);
    expect(sparse).toMatchObject({ decision: 'inconclusive', samples: { min: 5, candidate: 3, query: 'vector(3)' } });
    expect(sparse.reason).toBe('too few samples: candidate 3 < min_samples 5');
  });

  it('compare: stable with a ratio: candidate ÷ stable against the threshold, both queries and values recorded', async () => {
    const analysis = new Analysis(
      prom.url,
      [
        { name: 'ratio', query: BY_REVISION, compare: 'stable', ratio: '<= 1.2', dry_run: false },
        { name: 'difference', query: BY_REVISION, compare: 'stable', difference: '<= 1', dry_run: false },
      ],
      limits,
    );
    const [ratio, difference] = await analysis.evaluate(target, 8_000, new Date());
    expect(ratio.query).toContain('"hello-00002"');
    expect(ratio.stable).toEqual({ revision: 'hello-00001', query: BY_REVISION.replace('{{revision}}', 'hello-00001'), value: 2 });
    expect(ratio).toMatchObject({ value: 3, comparison: { kind: 'ratio', value: 1.5, condition: '<= 1.2' }, decision: 'fail' });
    expect(ratio.reason).toBe('ratio to stable 1.5 (3 vs 2) is not <= 1.2');
    expect(difference).toMatchObject({ comparison: { kind: 'difference', value: 1 }, decision: 'pass' });
  });
});
