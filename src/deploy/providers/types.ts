import type { Slo, Measurement } from '../slo.js';

export interface MeasureTarget {
  namespace: string;
  ksvc: string;
  revision: string;
  /** URL that reaches only this revision (its tag URL) — used by the probe provider. */
  url?: string;
}

export interface ProviderEvidence {
  provider: 'probe' | 'prometheus';
  /** PromQL queries, or the probed URL and request plan. */
  query: Record<string, unknown>;
  raw: Record<string, unknown>;
  window_ms: number;
  /** First failed request seen (ms epoch), for detection-to-restore timing. */
  first_failure_at?: number | null;
}

export interface SloProvider {
  readonly name: 'probe' | 'prometheus';
  /**
   * Refuses (UsageError) a window too short for the provider to measure; called before any traffic
   * moves, so a run that could never be judged does not start.
   */
  validateWindow?(windowMs: number): Promise<void>;
  /**
   * Fails (OperationalError) when the provider has no way to measure this service at all — e.g. no
   * request metrics in its namespace — so the run stops before traffic moves instead of failing later.
   */
  preflight?(target: MeasureTarget): Promise<void>;
  measure(target: MeasureTarget, windowMs: number, slo: Slo): Promise<{ measurement: Measurement; evidence: ProviderEvidence }>;
}
