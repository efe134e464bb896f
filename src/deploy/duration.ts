import { UsageError } from '../core/errors.js';

const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Parses `1500ms`, `2s`, `1m30s`, `2h` (Go/kubectl style) into milliseconds; exit 2 on nonsense. */
export function parseDuration(value: string, flag = 'duration'): number {
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1_000; // bare numbers are seconds, like kubectl --timeout
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/gy;
  let total = 0;
  let consumed = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    total += Number(m[1]) * UNIT_MS[m[2]];
    consumed = re.lastIndex;
  }
  if (consumed !== text.length || consumed === 0) {
    throw new UsageError(`${flag} '${value}' is not a duration`, { hint: 'use e.g. 500ms, 10s, 2m, 1h30m' });
  }
  return total;
}

/** A duration that must be longer than zero (an SLO window, a poll interval). */
export function parsePositiveDuration(value: string, flag: string): number {
  const ms = parseDuration(value, flag);
  if (ms <= 0) throw new UsageError(`${flag} must be longer than 0`, { hint: 'use e.g. 10s' });
  return ms;
}
