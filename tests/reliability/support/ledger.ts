/**
 * Trial bookkeeping for the reliability suite. A test opens a case (`openCase(task, area, name)`),
 * runs trials through it, and finishes it: every violated invariant becomes a failure with its
 * details (seed, inputs, temp dir kept for inspection). The records travel to the reporter in the
 * test's `meta` (vitest serialises it to the main process), and `finish()` fails the test when a
 * trial failed, so vitest's exit code agrees with `RELIABILITY: … failures`.
 */
import { expect } from 'vitest';

export type Area = 'concurrency' | 'crash' | 'fault' | 'fuzz';
export const AREAS: Area[] = ['concurrency', 'crash', 'fault', 'fuzz'];

export interface FailureRecord {
  area: Area;
  case: string;
  trial: number;
  label: string;
  problems: string[];
  /** Anything that helps to reproduce: inputs, kill delay, temp dir. */
  context?: Record<string, unknown>;
}

export interface CaseRecord {
  area: Area;
  case: string;
  trials: number;
  failures: FailureRecord[];
  /** Set when the case could not run here; never set under VPM_REQUIRE_TESTENV=1. */
  skipped?: string;
  notes: string[];
  wall_ms: number;
}

declare module 'vitest' {
  interface TaskMeta {
    reliability?: CaseRecord[];
  }
}

const MAX_TEXT = 1500;
export const clip = (s: unknown, n = MAX_TEXT): string => {
  const t = typeof s === 'string' ? s : JSON.stringify(s);
  return t === undefined ? String(t) : t.length > n ? `${t.slice(0, n)}…(${t.length - n} more chars)` : t;
};

/** The problems found in one trial; a trial with none passed. */
export class Trial {
  readonly problems: string[] = [];
  context: Record<string, unknown> = {};
  constructor(readonly index: number) {}

  check(ok: unknown, problem: string | (() => string)): boolean {
    if (!ok) this.problems.push(typeof problem === 'function' ? problem() : problem);
    return Boolean(ok);
  }

  /** Structural equality (JSON); names the difference when there is one. */
  same(actual: unknown, expected: unknown, what: string): boolean {
    const a = JSON.stringify(actual);
    const e = JSON.stringify(expected);
    return this.check(a === e, () => `${what}: expected ${clip(e, 300)}, got ${clip(a, 300)}`);
  }

  add(problems: string[]): void {
    this.problems.push(...problems);
  }
}

export interface Case {
  readonly record: CaseRecord;
  /** Runs one trial; an exception inside counts as a problem of that trial. Returns true when it passed. */
  trial(label: string, fn: (t: Trial) => Promise<void> | void, context?: Record<string, unknown>): Promise<boolean>;
  note(text: string): void;
  skip(reason: string): void;
  /** Fails the test (with every failure listed) when any trial failed. */
  finish(): void;
}

interface TaskLike {
  meta: { reliability?: CaseRecord[] };
}

export function openCase(task: TaskLike, area: Area, name: string): Case {
  const record: CaseRecord = { area, case: name, trials: 0, failures: [], notes: [], wall_ms: 0 };
  (task.meta.reliability ??= []).push(record);
  const started = Date.now();
  return {
    record,
    async trial(label, fn, context) {
      const t = new Trial(record.trials++);
      if (context) t.context = { ...context };
      try {
        await fn(t);
      } catch (err) {
        t.problems.push(`trial threw: ${clip((err as Error)?.stack ?? String(err))}`);
      }
      record.wall_ms = Date.now() - started;
      if (t.problems.length === 0) return true;
      record.failures.push({
        area,
        case: name,
        trial: t.index,
        label,
        problems: t.problems.map((p) => clip(p)),
        context: JSON.parse(JSON.stringify(t.context, (_k, v) => (typeof v === 'string' ? clip(v, 600) : v))),
      });
      return false;
    },
    note(text) {
      record.notes.push(text);
    },
    skip(reason) {
      record.skipped = reason;
    },
    finish() {
      record.wall_ms = Date.now() - started;
      const lines = record.failures.map(
        (f) => `#${f.trial} ${f.label}: ${f.problems.join(' | ')}${f.context ? ` ${clip(f.context, 400)}` : ''}`,
      );
      expect(lines, `${area}/${name}: ${record.failures.length} of ${record.trials} trials failed`).toEqual([]);
    },
  };
}
