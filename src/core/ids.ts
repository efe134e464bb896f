import { randomBytes } from 'node:crypto';

/** UTC ISO-8601 with milliseconds. */
export function isoNow(now: Date = new Date()): string {
  return now.toISOString();
}

/** `20261122T023338Z` — the compact stamp used in ids and file names. */
export function compactStamp(now: Date = new Date()): string {
  return now.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}Z$/, 'Z');
}

/** `<kind>_<YYYYMMDDTHHMMSSZ>_<suffix>`; the random suffix keeps ids unique within one second. */
export function makeId(kind: string, now: Date = new Date(), suffix: string = randomBytes(3).toString('hex')): string {
  return `${kind}_${compactStamp(now)}${suffix ? `_${suffix}` : ''}`;
}

/** `YYYY-MM-DD` of a date, in UTC. */
export function utcDate(now: Date = new Date()): string {
  return now.toISOString().slice(0, 10);
}
