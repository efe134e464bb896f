/**
 * Issue 18, analysis: the SLO file's named metrics are validated with their dot paths (exit 2),
 * conditions read as written, query errors in a row fail a gate only at the limit, and the gate's
 * decision with the metrics: a failing deciding metric fails it, an open one holds it, dry-run
 * metrics never decide.
 */
import { describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { Analysis, combine, conditionHolds, renderQuery, type MetricRecord } from '../../src/deploy/analysis.ts';
import { loadAnalysis, type GateResult } from '../../src/deploy/slo.ts';
import { UsageError } from '../../src/core/errors.ts';
import { tempDir } from '../helpers/cli.ts';

async function problems(slo: unknown): Promise<string> {
  const dir = tempDir();
  writeFileSync(join(dir, 'slo.yaml'), stringify(slo));
  const err = await loadAnalysis(dir, 'slo.yaml', undefined).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(UsageError);
  expect((err as UsageError).exitCode).toBe(2);
  return (err as Error).message;
}

const metric = (over: Partial<MetricRecord>): MetricRecord => ({
  name: 'm',
  dry_run: false,
  query: 'q',
  value: 1,
  condition: '< 2',
  decision: 'pass',
  reason: 'ok',
  ...over,
});
const gate = (decision: GateResult['decision']): GateResult => ({ decision, reason: `built-in ${decision}`, checks: [] });

describe('SLO file validation', () => {
  it('names every problem with its dot path', async () => {
    const message = await problems({
      metrics: [
        { name: 'a', query: 'up{x="{{rev}}"}', condition: 'below 3' },
        { name: 'b', query: 'up{revision="{{revision}}"}', compare: 'stable' },
        { name: 'c', query: 'up', condition: '< 1', ratio: '< 2' },
        { name: 'c', query: 'up', condition: '>= 0.99', dry_run: 'yes' },
      ],
      limits: { consecutive_errors: 0 },
      hooks: { pre_rollout: [{ name: 'x' }], before: [] },
    });
    expect(message).toMatch(/^invalid SLO in slo\.yaml:/);
    expect(message).toContain('metrics.0.query: unknown placeholder {{rev}}');
    expect(message).toContain('metrics.0.condition: must be an operator (<, <=, >, >=, ==, !=) and a number');
    expect(message).toContain('metrics.1.compare: compare: stable needs exactly one of difference or ratio');
    expect(message).toContain('metrics.2.ratio: only with compare: stable');
    expect(message).toContain('metrics.3.dry_run:');
    expect(message).toContain('limits.consecutive_errors:');
    expect(message).toContain('hooks.pre_rollout.0: a step needs exactly one of argv or command');
    expect(message).toMatch(/hooks: Unrecognized key: "before"/);
    // names are compared once every metric is valid on its own
    const twice = { name: 'c', query: 'up', condition: '< 1' };
    expect(await problems({ metrics: [twice, twice] })).toContain('metrics.1.name: duplicate metric name c');
  });

  it('a valid file: thresholds apart from metrics, limits and hooks; the file’s hooks replace the config’s kind by kind', async () => {
    const dir = tempDir();
    writeFileSync(
      join(dir, 'slo.yaml'),
      stringify({
        min_requests: 5,
        metrics: [{ name: 'lat', query: 'x{r="{{revision}}"}', compare: 'stable', ratio: '<= 1.5', min_samples: 10 }],
        hooks: { pre_step: [{ name: 'gate', argv: ['ls'] }] },
      }),
    );
    const a = await loadAnalysis(
      dir,
      'slo.yaml',
      { success_rate: 0.9 },
      {
        pre_step: [{ name: 'old', argv: ['true'] }],
        on_abort: [{ name: 'page', argv: ['echo'] }],
      },
    );
    expect(a.slo).toEqual({ success_rate: 0.9, latency_p95_ms: 500, min_requests: 5 });
    expect(a.metrics[0]).toMatchObject({ name: 'lat', compare: 'stable', ratio: '<= 1.5', dry_run: false });
    expect(a.limits).toEqual({ consecutive_errors: 2 });
    expect(Object.keys(a.hooks).sort()).toEqual(['on_abort', 'pre_step']);
    expect(a.hooks.pre_step?.[0].name).toBe('gate');
  });
});

describe('metric evaluation', () => {
  it('conditions and placeholders', () => {
    expect(conditionHolds('< 0.01', 0.009)).toBe(true);
    expect(conditionHolds('< 0.01', 0.01)).toBe(false);
    expect(conditionHolds('>= 0.99', 0.99)).toBe(true);
    expect(conditionHolds('!= 0', 0)).toBe(false);
    expect(conditionHolds('== 1e3', 1000)).toBe(true);
    expect(
      renderQuery('x{ns="{{namespace}}",r="{{ revision }}",s="{{ksvc}}"}[{{window}}]', {
        namespace: 'n',
        revision: 'a"b',
        ksvc: 'hello',
        windowMs: 8123.4,
      }),
    ).toBe('x{ns="n",r="a\\"b",s="hello"}[8123ms]');
  });

  it('query errors hold the gate until limits.consecutive_errors in a row, then fail it; dry-run errors never decide', async () => {
    // nothing listens on port 1: every query is an OperationalError (Prometheus unreachable)
    const analysis = new Analysis(
      'http://127.0.0.1:1',
      [
        { name: 'err', query: 'up', condition: '< 1', dry_run: false },
        { name: 'shadow', query: 'up', condition: '< 1', dry_run: true },
      ],
      { consecutive_errors: 2 },
    );
    const target = { namespace: 'n', ksvc: 'hello', candidate: 'hello-00002', stable: 'hello-00001' };
    const first = await analysis.evaluate(target, 1_000, new Date());
    expect(first.map((m) => `${m.name}:${m.decision}`)).toEqual(['err:error', 'shadow:error']);
    expect(first[0].reason).toMatch(/1 query error\(s\) in a row: Prometheus at http:\/\/127\.0\.0\.1:1 unreachable/);
    expect(combine(gate('pass'), first).decision).toBe('inconclusive');
    const second = await analysis.evaluate(target, 1_000, new Date());
    expect(second.map((m) => `${m.name}:${m.decision}`)).toEqual(['err:fail', 'shadow:fail']);
    expect(second[0].consecutive_errors).toBe(2);
    const decided = combine(gate('pass'), second);
    expect(decided.decision).toBe('fail');
    expect(decided.reason).toMatch(/^metric err: 2 query error\(s\) in a row \(limit 2\)/);
    expect(decided.reason).not.toContain('shadow');
  });

  it('the gate with the metrics: fail beats everything, an open metric holds a pass, dry-run never decides', () => {
    expect(combine(gate('pass'), [metric({ decision: 'pass' })])).toMatchObject({ decision: 'pass', reason: 'built-in pass; m ✓' });
    expect(combine(gate('pass'), [metric({ decision: 'fail', reason: '3 is not < 2' })])).toMatchObject({
      decision: 'fail',
      reason: 'metric m: 3 is not < 2',
    });
    expect(combine(gate('inconclusive'), [metric({ decision: 'fail', reason: 'x' })]).decision).toBe('fail');
    expect(combine(gate('fail'), [metric({ decision: 'pass' })]).decision).toBe('fail');
    expect(combine(gate('pass'), [metric({ decision: 'inconclusive', reason: 'no data' })]).decision).toBe('inconclusive');
    expect(combine(gate('pass'), [metric({ decision: 'fail', dry_run: true })]).decision).toBe('pass');
    expect(combine(gate('inconclusive'), [metric({ decision: 'pass' })]).decision).toBe('inconclusive');
  });
});
