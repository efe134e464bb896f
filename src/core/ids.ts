/** `20261122T023338Z` — the compact stamp used in ids and file names. */
export function compactStamp(now: Date = new Date()): string {
  return now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}Z$/, 'Z');
}

/**
 * A suffix unique enough for ids made by concurrent processes within one second: the milliseconds
 * plus 32 random bits. (Math.random, not node:crypto, whose load would cost the hot path ~4 ms;
 * ids need uniqueness, not secrecy.)
 */
export function uniqueSuffix(now: Date = new Date()): string {
  const random = Math.floor(Math.random() * 0x1_0000_0000)
    .toString(16)
    .padStart(8, '0');
  return `${String(now.getUTCMilliseconds()).padStart(3, '0')}${random}`;
}

/** `<kind>_<YYYYMMDDTHHMMSSZ>_<suffix>`. */
export function makeId(kind: string, now: Date = new Date(), suffix: string = uniqueSuffix(now)): string {
  return `${kind}_${compactStamp(now)}${suffix ? `_${suffix}` : ''}`;
}

/** `YYYY-MM-DD` of a date, in UTC. */
export function utcDate(now: Date = new Date()): string {
  return now.toISOString().slice(0, 10);
}
