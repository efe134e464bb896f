/**
 * Day flags (`--date YYYY-MM-DD`): a real calendar day or a usage error. zod's ISO date check knows
 * month lengths and leap years, so `2026-02-30` and `2026-13-45` are refused rather than rolled over
 * into another day the way `new Date()` would.
 */
import { z } from 'zod';
import { UsageError } from './errors.js';

const isoDay = z.iso.date();

/** Returns `value` when it is a calendar day written `YYYY-MM-DD`; otherwise a UsageError (exit 2). */
export function parseDayFlag(value: string, flagName: string): string {
  if (isoDay.safeParse(value).success) return value;
  const shown = JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  const why = /^\d{4}-\d{2}-\d{2}$/.test(value) ? 'which is not a day of the calendar' : 'which is not written YYYY-MM-DD';
  throw new UsageError(`${flagName} must be a calendar day written YYYY-MM-DD, got ${shown}, ${why}`, {
    hint: `e.g. ${flagName} ${new Date().toISOString().slice(0, 10)} (days are UTC)`,
  });
}
