/**
 * The failover clock. Probes are judged in the order they were sent (a slow probe sent earlier is
 * waited for before later ones count), so "N consecutive successes" means N consecutive requests,
 * as a user would have experienced them.
 *
 *   t0            first failed probe of the failure that triggered the switch (send time), or the
 *                 start of a manual/drill switch
 *   tDetect       the probe that crossed the failure threshold came back
 *   tSwitch       HAProxy acknowledged the last `set server` command
 *   tFirstSuccess first successful probe sent at or after tSwitch came back
 *   tSteady       first of N consecutive successful probes sent at or after tSwitch came back
 *   RTO           tSteady − t0
 */
import type { EdgeProbe } from '../adapters/edge-probe.js';

export interface LoggedProbe extends EdgeProbe {
  seq: number;
  /** Which URL this probe checked: the edge, or a server's own address. */
  target: string;
  phase: 'watch' | 'recovery' | 'failback';
}

export interface Timestamps {
  t0: number | null;
  tDetect: number | null;
  tSwitch: number | null;
  tFirstSuccess: number | null;
  tSteady: number | null;
}

/** Feeds probe results in send order, whatever order they complete in. */
export class InOrder<T extends { seq: number }> {
  private readonly pending = new Map<number, T>();
  private next: number;
  constructor(firstSeq = 0) {
    this.next = firstSeq;
  }
  /** Adds one result; returns the results that are now in order (possibly none). */
  push(item: T): T[] {
    this.pending.set(item.seq, item);
    const out: T[] = [];
    while (this.pending.has(this.next)) {
      out.push(this.pending.get(this.next)!);
      this.pending.delete(this.next);
      this.next++;
    }
    return out;
  }
}

/** Tracks consecutive failures of the watched side. */
export class FailureDetector {
  private streak: EdgeProbe[] = [];
  constructor(private readonly threshold: number) {}
  /** Returns {t0, tDetect} once `threshold` consecutive probes have failed. */
  observe(p: EdgeProbe): { t0: number; tDetect: number } | null {
    if (p.ok) {
      this.streak = [];
      return null;
    }
    this.streak.push(p);
    if (this.streak.length >= this.threshold) return { t0: this.streak[0].sent_at, tDetect: p.done_at };
    return null;
  }
  get failing(): number {
    return this.streak.length;
  }
}

/** Tracks recovery after the switch: first success and the first of N consecutive successes. */
export class RecoveryTracker {
  tFirstSuccess: number | null = null;
  tSteady: number | null = null;
  private streak: EdgeProbe[] = [];
  constructor(
    private readonly steadyN: number,
    private readonly tSwitch: number,
  ) {}
  observe(p: EdgeProbe): boolean {
    if (this.tSteady !== null) return true;
    if (p.sent_at < this.tSwitch) return false;
    if (!p.ok) {
      this.streak = [];
      return false;
    }
    if (this.tFirstSuccess === null) this.tFirstSuccess = p.done_at;
    this.streak.push(p);
    if (this.streak.length >= this.steadyN) this.tSteady = this.streak[0].done_at;
    return this.tSteady !== null;
  }
}

/** Pure form of the same rules over a finished probe log (tests, re-analysis of evidence). */
export function recoveryFrom(
  probes: EdgeProbe[],
  tSwitch: number,
  steadyN: number,
): { tFirstSuccess: number | null; tSteady: number | null } {
  const r = new RecoveryTracker(steadyN, tSwitch);
  for (const p of [...probes].sort((a, b) => a.sent_at - b.sent_at)) if (r.observe(p)) break;
  return { tFirstSuccess: r.tFirstSuccess, tSteady: r.tSteady };
}

export function rtoOf(ts: Timestamps): number | null {
  return ts.t0 !== null && ts.tSteady !== null ? ts.tSteady - ts.t0 : null;
}

/** Milliseconds of each timestamp after t0, for reading the evidence at a glance. */
export function offsets(ts: Timestamps): Record<keyof Timestamps, number | null> {
  const rel = (v: number | null) => (v === null || ts.t0 === null ? null : v - ts.t0);
  return {
    t0: rel(ts.t0),
    tDetect: rel(ts.tDetect),
    tSwitch: rel(ts.tSwitch),
    tFirstSuccess: rel(ts.tFirstSuccess),
    tSteady: rel(ts.tSteady),
  };
}
