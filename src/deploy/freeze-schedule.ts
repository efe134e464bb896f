/**
 * Recurring freezes (`vpm freeze schedule add|list|remove`): kept in vpm.config.yaml under
 * `freeze.schedules` (so they are reviewed and versioned like the rest of the config) and mirrored into
 * the fleet's AppProject as deny sync windows (description `vpm:schedule <id> …`), so Argo CD holds
 * syncs during them too. The cron dialect is Argo CD's (5 fields, robfig/cron standard parser),
 * evaluated with cron-parser in the given IANA time zone.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { CronExpressionParser } from 'cron-parser';
import { UsageError } from '../core/errors.js';
import { readTextIfExists, writeFileAtomic } from '../core/fs.js';
import { maskValue } from '../core/secrets.js';
import type { FreezeScheduleSchema } from '../schemas/config.js';
import type { z } from 'zod';
import { SCHEDULE_MARKER } from './cluster-freeze.js';
import type { SyncWindow } from '../fleet/windows.js';

export type FreezeSchedule = z.infer<typeof FreezeScheduleSchema>;

/** Validates like Argo CD would accept it (5-field cron, Go duration without days, IANA zone). */
export function validateSchedule(cron: string, duration: string, tz: string): void {
  if (cron.trim().split(/\s+/).length !== 5 && !cron.trim().startsWith('@'))
    throw new UsageError(`--cron "${cron}" must have 5 fields (minute hour day-of-month month day-of-week), as Argo CD's sync windows do`);
  try {
    CronExpressionParser.parse(cron, { tz });
  } catch (err) {
    throw new UsageError(`--cron "${cron}" is not a cron expression: ${(err as Error).message}`, {
      hint: 'e.g. --cron "0 18 * * 5" (Fridays 18:00)',
    });
  }
  if (!/^(\d+h)?(\d+m)?(\d+s)?$/.test(duration) || !duration)
    throw new UsageError(`--duration ${duration} is not a duration Argo CD understands`, {
      hint: 'hours, minutes, seconds: e.g. 64h, 90m, 1h30m',
    });
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz });
  } catch {
    throw new UsageError(`--tz ${tz} is not an IANA time zone`, { hint: 'e.g. UTC, Europe/Berlin, Asia/Tokyo' });
  }
}

export function scheduleWindow(s: FreezeSchedule): SyncWindow {
  return {
    kind: 'deny',
    schedule: s.cron,
    duration: s.duration,
    timeZone: s.tz,
    applications: ['*'],
    manualSync: false,
    description: `${SCHEDULE_MARKER} ${s.id} ${s.reason}`.slice(0, 500),
  };
}

export function nextRuns(s: FreezeSchedule, from: Date, n = 2): string[] {
  const e = CronExpressionParser.parse(s.cron, { currentDate: from, tz: s.tz });
  return Array.from({ length: n }, () => e.next().toDate().toISOString());
}

const CONFIG_FILES = ['vpm.config.yaml', 'vpm.config.yml', 'vpm.config.json'];

/** Rewrites `freeze.schedules` in the repository's config file (comments and order of a YAML file kept). */
export async function writeSchedules(root: string, given: FreezeSchedule[]): Promise<string> {
  // What vpm adds (a reason may quote a token) is masked; the rest of the user's file is theirs.
  const schedules = maskValue(given);
  const name = CONFIG_FILES.find((f) => existsSync(join(root, f))) ?? 'vpm.config.yaml';
  const path = join(root, name);
  const text = readTextIfExists(path) ?? '';
  let out: string;
  if (name.endsWith('.json')) {
    const obj = text.trim() ? JSON.parse(text) : {};
    obj.freeze = { ...(obj.freeze ?? {}), schedules };
    out = `${JSON.stringify(obj, null, 2)}\n`;
  } else {
    const { parseDocument } = await import('yaml');
    const doc = parseDocument(text || '{}\n');
    if (!doc.contents || doc.toJSON() === null) doc.contents = doc.createNode({}) as never;
    doc.setIn(['freeze', 'schedules'], doc.createNode(schedules));
    out = doc.toString();
  }
  await writeFileAtomic(path, out);
  return name;
}
