/**
 * The SLO gate: a measurement (from the probe or the Prometheus provider) against thresholds.
 * Too few requests is `inconclusive` — it holds the rollout and never counts as a pass.
 */
import { join } from 'node:path';
import { UsageError } from '../core/errors.js';
import { readTextIfExists } from '../core/fs.js';
import { formatZodIssues } from '../core/zod-issues.js';
import { AnalysisSchema, type SloSchema } from '../schemas/config.js';
import type { z } from 'zod';

export type Slo = z.infer<typeof SloSchema>;
type GateDecision = 'pass' | 'fail' | 'inconclusive';

export interface Measurement {
  requests: number;
  successes: number;
  success_rate: number | null;
  p95_ms: number | null;
}

interface GateCheck {
  name: 'min_requests' | 'success_rate' | 'latency_p95_ms';
  value: number | null;
  threshold: number;
  comparator: '>=' | '<=';
  ok: boolean | null;
}

export interface GateResult {
  decision: GateDecision;
  reason: string;
  checks: GateCheck[];
}

export function evaluateSloGate(m: Measurement, slo: Slo): GateResult {
  const enough = m.requests >= slo.min_requests;
  const checks: GateCheck[] = [
    { name: 'min_requests', value: m.requests, threshold: slo.min_requests, comparator: '>=', ok: enough },
    {
      name: 'success_rate',
      value: m.success_rate,
      threshold: slo.success_rate,
      comparator: '>=',
      ok: m.success_rate === null ? null : m.success_rate >= slo.success_rate,
    },
    {
      name: 'latency_p95_ms',
      value: m.p95_ms,
      threshold: slo.latency_p95_ms,
      comparator: '<=',
      ok: m.p95_ms === null ? null : m.p95_ms <= slo.latency_p95_ms,
    },
  ];
  if (!enough) {
    return { decision: 'inconclusive', reason: `too little traffic: ${m.requests} requests < min_requests ${slo.min_requests}`, checks };
  }
  const failed = checks.filter((c) => c.ok === false);
  if (failed.length) {
    return {
      decision: 'fail',
      reason: failed.map((c) => `${c.name} ${c.value} violates ${c.comparator} ${c.threshold}`).join('; '),
      checks,
    };
  }
  if (checks.some((c) => c.ok === null)) return { decision: 'inconclusive', reason: 'no latency/success data', checks };
  return {
    decision: 'pass',
    reason: `success_rate ${m.success_rate} ≥ ${slo.success_rate}, p95 ${m.p95_ms} ms ≤ ${slo.latency_p95_ms} ms over ${m.requests} requests`,
    checks,
  };
}

export type AnalysisSpec = z.infer<typeof AnalysisSchema>;
export type AnalysisMetric = AnalysisSpec['metrics'][number];

/**
 * The analysis from --slo FILE (YAML or JSON) over config `canary.slo` over defaults: the built-in
 * thresholds (`slo`), named metrics with their limits, and hooks (the file's kinds replace config
 * `canary.hooks` kind by kind). Every problem is a usage error naming its dot path.
 */
export async function loadAnalysis(
  cwd: string,
  file: string | undefined,
  configured: Partial<AnalysisSpec> | undefined,
  configuredHooks?: AnalysisSpec['hooks'],
): Promise<{ slo: Slo; metrics: AnalysisMetric[]; limits: AnalysisSpec['limits']; hooks: NonNullable<AnalysisSpec['hooks']> }> {
  let fromFile: unknown = {};
  if (file) {
    const text = readTextIfExists(join(cwd, file)) ?? readTextIfExists(file);
    if (text === undefined) throw new UsageError(`SLO file ${file} not found`);
    try {
      fromFile = file.endsWith('.json') ? JSON.parse(text) : (await import('yaml')).parse(text, { logLevel: 'error' });
    } catch (err) {
      throw new UsageError(`SLO file ${file} does not parse: ${(err as Error).message}`);
    }
    if (fromFile !== null && (typeof fromFile !== 'object' || Array.isArray(fromFile)))
      throw new UsageError(`SLO file ${file} must hold a mapping (success_rate, latency_p95_ms, min_requests, metrics, limits, hooks)`);
  }
  const parsed = AnalysisSchema.safeParse({ ...(configured ?? {}), ...((fromFile ?? {}) as object) });
  if (!parsed.success) throw new UsageError(`invalid SLO${file ? ` in ${file}` : ''}:\n  ${formatZodIssues(parsed.error).join('\n  ')}`);
  const { metrics, limits, hooks, ...slo } = parsed.data;
  return { slo, metrics, limits, hooks: { ...(configuredHooks ?? {}), ...(hooks ?? {}) } };
}

/** The built-in thresholds alone (the guard judges by these). */
export async function loadSlo(cwd: string, file: string | undefined, configured: Partial<AnalysisSpec> | undefined): Promise<Slo> {
  return (await loadAnalysis(cwd, file, configured)).slo;
}
