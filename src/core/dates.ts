import { UsageError } from './errors.js';

/** A `--date` value: a real calendar day as YYYY-MM-DD (2026-13-45 and 2026-02-30 are refused). */
export function parseDayFlag(value: string, flag: string): string {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
  const d = m ? new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]))) : undefined;
  if (!m || !d || d.toISOString().slice(0, 10) !== value) {
    throw new UsageError(`${flag} ${value} is not a calendar date`, { hint: `use YYYY-MM-DD, e.g. ${flag} ${new Date().toISOString().slice(0, 10)}` });
  }
  return value;
}
