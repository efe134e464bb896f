import { describe, expect, it } from 'vitest';
import { parseDayFlag } from '../../src/core/dates.js';
import { ExitCode, UsageError } from '../../src/core/errors.js';

function refusal(value: string, flag = '--date'): UsageError {
  try {
    parseDayFlag(value, flag);
  } catch (err) {
    return err as UsageError;
  }
  throw new Error(`parseDayFlag accepted ${JSON.stringify(value)}`);
}

describe('parseDayFlag', () => {
  it.each(['2026-01-01', '2026-12-31', '2024-02-29', '2000-02-29', '2026-04-30'])('accepts the calendar day %s unchanged', (day) => {
    expect(parseDayFlag(day, '--date')).toBe(day);
  });

  it.each(['2026-13-45', '2026-02-30', '2026-04-31', '2023-02-29', '2100-02-29', '2026-00-10', '2026-01-00'])(
    'refuses %s, which is written right but is no calendar day, as a usage error naming the flag',
    (value) => {
      const err = refusal(value);
      expect(err).toBeInstanceOf(UsageError);
      expect(err.exitCode).toBe(ExitCode.usage);
      expect(err.message).toContain('--date');
      expect(err.message).toContain(value);
      expect(err.message).toContain('not a day of the calendar');
      expect(err.hint).toMatch(/--date \d{4}-\d{2}-\d{2}/);
    },
  );

  it.each(['tomorrow', 'today', '2026-1-5', '20260105', '2026/01/05', ' 2026-01-05', '2026-01-05T00:00:00Z', ''])(
    'refuses %j, which is not written YYYY-MM-DD',
    (value) => {
      const err = refusal(value);
      expect(err.exitCode).toBe(ExitCode.usage);
      expect(err.message).toContain('not written YYYY-MM-DD');
    },
  );

  it('uses the flag name it is given and shortens a long value', () => {
    const err = refusal('x'.repeat(500), '--since');
    expect(err.message).toMatch(/^--since must be/);
    expect(err.message.length).toBeLessThan(200);
  });
});
