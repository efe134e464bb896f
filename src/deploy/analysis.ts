/**
 * Named metrics of the analysis (the SLO file's `metrics`): a PromQL template per metric, rendered
 * with {{namespace}}, {{revision}}, {{ksvc}} and {{window}} and evaluated at the end of each gate
 * window next to the built-in success-rate / p95 / minimum-requests checks. A metric passes, fails,
 * is inconclusive (no data, too few samples) or errs (the query failed); errors in a row up to
 * `limits.consecutive_errors` hold the gate, that many fail it. `dry_run` metrics are evaluated and
 * recorded and never decide. `compare: stable` evaluates the same query for the stable revision and
 * judges the difference or ratio. Every metric's query, raw value(s), condition and decision go
 * into the check record of the canary evidence.
 */
import { promInstantQuery } from '../adapters/prometheus.js';
import { OperationalError, UsageError, VpmError } from '../core/errors.js';
import { CONDITION } from '../schemas/config.js';
import { requestCount } from './providers/prometheus.js';
import type { AnalysisMetric, AnalysisSpec, GateResult } from './slo.js';

type MetricDecision = 'pass' | 'fail' | 'inconclusive' | 'error';

export interface MetricRecord {
  name: string;
  dry_run: boolean;
  /** The query as sent for the candidate (placeholders filled in). */
  query: string;
  value: number | null;
  condition: string | null;
  stable?: { revision: string; query: string; value: number | null };
  comparison?: { kind: 'difference' | 'ratio'; value: number | null; condition: string };
  samples?: { min: number; query: string; candidate: number | null; stable?: number | null };
  decision: MetricDecision;
  reason: string;
  consecutive_errors?: number;
}

export interface AnalysisTarget {
  namespace: string;
  ksvc: string;
  candidate: string;
  stable?: string;
}

/** What is compared against the condition's number: `< 0.01` → value < 0.01. */
export function conditionHolds(condition: string, value: number): boolean {
  const m = CONDITION.exec(condition);
  if (!m) throw new UsageError(`condition ${JSON.stringify(condition)} is not an operator and a number`);
  const limit = Number(m[2]);
  switch (m[1]) {
    case '<':
      return value < limit;
    case '<=':
      return value <= limit;
    case '>':
      return value > limit;
    case '>=':
      return value >= limit;
    case '==':
      return value === limit;
    default:
      return value !== limit;
  }
}

/** The query with its placeholders filled in; label values are escaped as PromQL strings. */
export function renderQuery(template: string, vars: { namespace: string; revision: string; ksvc: string; windowMs: number }): string {
  const esc = (s: string) => s.replace(/\\/g, '\\\\').replace(/"/g, '\\"');
  const values: Record<string, string> = {
    namespace: esc(vars.namespace),
    revision: esc(vars.revision),
    ksvc: esc(vars.ksvc),
    window: `${Math.max(1, Math.round(vars.windowMs))}ms`,
  };
  return template.replace(/\{\{\s*([a-z]+)\s*\}\}/g, (_, name: string) => values[name]);
}

/** Rounds for the record (PromQL floats carry noise); infinities are not JSON. */
const round = (v: number | null) => (v === null || !Number.isFinite(v) ? null : Math.round(v * 1e6) / 1e6);

export class Analysis {
  private readonly errorsInARow = new Map<string, number>();

  constructor(
    private readonly url: string,
    readonly metrics: AnalysisMetric[],
    private readonly limits: AnalysisSpec['limits'],
  ) {}

  /** One value per query: none (or NaN) is no data; several series is a mistake in the query. */
  private async value(query: string, at: Date): Promise<number | null> {
    const samples = await promInstantQuery(this.url, query, { time: at });
    if (samples.length > 1) throw new OperationalError(`the query returns ${samples.length} series; aggregate it to one (sum, max, avg …)`);
    const v = samples[0]?.value;
    return v === undefined || Number.isNaN(v) ? null : v;
  }

  /**
   * Every query once, for the stable revision, before any traffic moves: PromQL that Prometheus
   * rejects is a usage error (exit 2) naming the metric; an unreachable Prometheus is exit 1.
   */
  async preflight(t: AnalysisTarget & { stable: string }, windowMs: number): Promise<void> {
    const at = new Date();
    for (const m of this.metrics) {
      for (const template of [m.query, ...(m.samples_query ? [m.samples_query] : [])]) {
        const query = renderQuery(template, { namespace: t.namespace, ksvc: t.ksvc, revision: t.stable, windowMs });
        try {
          await promInstantQuery(this.url, query, { time: at });
        } catch (err) {
          if (err instanceof VpmError && !err.retryable)
            throw new UsageError(`metric ${m.name}: Prometheus rejects the query ${query}: ${err.message}`, {
              hint: 'fix metrics[].query in the SLO file; try it in the Prometheus UI',
            });
          throw err;
        }
      }
    }
  }

  /** The named metrics (all, or `which` of them) over the window that ended at `at`. */
  async evaluate(t: AnalysisTarget, windowMs: number, at: Date, which = this.metrics): Promise<MetricRecord[]> {
    return Promise.all(which.map((m) => this.one(m, t, windowMs, at)));
  }

  private async samples(m: AnalysisMetric, t: AnalysisTarget, revision: string, windowMs: number, at: Date) {
    if (m.samples_query) {
      const query = renderQuery(m.samples_query, { namespace: t.namespace, ksvc: t.ksvc, revision, windowMs });
      return { count: await this.value(query, at), query };
    }
    return requestCount(this.url, { namespace: t.namespace, ksvc: t.ksvc, revision }, windowMs, at);
  }

  private async one(m: AnalysisMetric, t: AnalysisTarget, windowMs: number, at: Date): Promise<MetricRecord> {
    const render = (revision: string) => renderQuery(m.query, { namespace: t.namespace, ksvc: t.ksvc, revision, windowMs });
    const record: MetricRecord = {
      name: m.name,
      dry_run: m.dry_run,
      query: render(t.candidate),
      value: null,
      condition: m.condition ?? null,
      decision: 'inconclusive',
      reason: '',
    };
    const comparing = m.compare === 'stable' && t.stable !== undefined;
    try {
      record.value = round(await this.value(record.query, at));
      if (comparing) {
        const query = render(t.stable!);
        record.stable = { revision: t.stable!, query, value: round(await this.value(query, at)) };
      }
      if (m.min_samples !== undefined) {
        const candidate = await this.samples(m, t, t.candidate, windowMs, at);
        record.samples = { min: m.min_samples, query: candidate.query, candidate: candidate.count };
        if (comparing) record.samples.stable = (await this.samples(m, t, t.stable!, windowMs, at)).count;
      }
      this.errorsInARow.set(m.name, 0);
    } catch (err) {
      if (!(err instanceof OperationalError)) throw err;
      const n = (this.errorsInARow.get(m.name) ?? 0) + 1;
      this.errorsInARow.set(m.name, n);
      record.consecutive_errors = n;
      const failing = n >= this.limits.consecutive_errors;
      record.decision = failing ? 'fail' : 'error';
      record.reason = `${n} query error(s) in a row${failing ? ` (limit ${this.limits.consecutive_errors})` : ''}: ${err.message}`;
      return record;
    }
    Object.assign(record, judge(m, record, comparing));
    return record;
  }
}

/** The decision on the values gathered: too few samples or no data is inconclusive, never a pass. */
function judge(m: AnalysisMetric, r: MetricRecord, comparing: boolean): Pick<MetricRecord, 'decision' | 'reason' | 'comparison'> {
  if (r.samples) {
    const few = [
      ['candidate', r.samples.candidate],
      ['stable', r.samples.stable],
    ].filter(([, n]) => n !== undefined && ((n as number | null) ?? 0) < r.samples!.min);
    if (few.length)
      return {
        decision: 'inconclusive',
        reason: `too few samples: ${few.map(([w, n]) => `${w} ${n ?? 0}`).join(', ')} < min_samples ${r.samples.min}`,
      };
  }
  if (r.value === null) return { decision: 'inconclusive', reason: 'no data for the candidate' };
  const failed: string[] = [];
  if (m.condition && !conditionHolds(m.condition, r.value)) failed.push(`${r.value} is not ${m.condition.trim()}`);
  let comparison: MetricRecord['comparison'];
  if (m.compare === 'stable') {
    if (!comparing || r.stable?.value === null || r.stable?.value === undefined)
      return { decision: 'inconclusive', reason: 'no data for the stable revision to compare with' };
    const s = r.stable.value;
    const kind = m.difference !== undefined ? 'difference' : 'ratio';
    const condition = (m.difference ?? m.ratio)!;
    // A ratio to a stable value of 0: equal when the candidate is 0 too, else without bound.
    const value = kind === 'difference' ? r.value - s : s === 0 ? (r.value === 0 ? 1 : Number.POSITIVE_INFINITY) : r.value / s;
    comparison = { kind, value: round(value), condition };
    if (!conditionHolds(condition, value))
      failed.push(`${kind} to stable ${Number.isFinite(value) ? round(value) : '∞'} (${r.value} vs ${s}) is not ${condition.trim()}`);
  }
  if (failed.length) return { decision: 'fail', reason: failed.join('; '), comparison };
  const passed = [
    ...(m.condition ? [`${r.value} ${m.condition.trim()}`] : []),
    ...(comparison ? [`${comparison.kind} to stable ${comparison.value} ${comparison.condition.trim()}`] : []),
  ];
  return { decision: 'pass', reason: passed.join('; '), comparison };
}

/**
 * The gate's decision with the named metrics: any deciding metric that fails fails the gate; one
 * without a verdict (inconclusive, or a query error below the limit) holds it; dry-run metrics
 * never count.
 */
export function combine(gate: GateResult, metrics: MetricRecord[]): GateResult {
  const deciding = metrics.filter((m) => !m.dry_run);
  if (deciding.length === 0) return gate;
  const failed = deciding.filter((m) => m.decision === 'fail');
  const open = deciding.filter((m) => m.decision === 'inconclusive' || m.decision === 'error');
  const say = (ms: MetricRecord[]) => ms.map((m) => `metric ${m.name}: ${m.reason}`).join('; ');
  if (gate.decision === 'fail' || failed.length)
    return { ...gate, decision: 'fail', reason: [gate.decision === 'fail' ? gate.reason : '', say(failed)].filter(Boolean).join('; ') };
  if (gate.decision === 'inconclusive' || open.length)
    return {
      ...gate,
      decision: 'inconclusive',
      reason: [gate.decision === 'inconclusive' ? gate.reason : '', say(open)].filter(Boolean).join('; '),
    };
  return { ...gate, reason: `${gate.reason}; ${deciding.map((m) => `${m.name} ✓`).join(', ')}` };
}
