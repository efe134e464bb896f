/**
 * Argo CD sync windows, evaluated the way Argo CD does (pkg/apis/application/v1alpha1 SyncWindows):
 * a window applies to an app when one of its `applications`, `namespaces` or `clusters` globs matches
 * the app name, destination namespace or destination server/name; it is active when a cron occurrence
 * of `schedule` (in `timeZone`, default UTC) lies within the last `duration`. An active deny window
 * blocks every sync (a manual one only when not every active deny window has `manualSync: true`);
 * allow windows, when there are any and none is active, block the same way.
 */
import { CronExpressionParser } from 'cron-parser';
import type { KObj } from '../adapters/kube.js';
import { parseDuration } from '../deploy/duration.js';

export interface SyncWindow {
  kind: 'allow' | 'deny';
  schedule: string;
  duration: string;
  applications?: string[];
  namespaces?: string[];
  clusters?: string[];
  manualSync?: boolean;
  timeZone?: string;
  description?: string;
  andOperator?: boolean;
}

/** Glob as Argo CD's glob.Match: `*` any run of characters, `?` one character. */
function globMatch(pattern: string, value: string): boolean {
  const re = new RegExp(
    `^${pattern
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*/g, '.*')
      .replace(/\?/g, '.')}$`,
  );
  return re.test(value);
}

function windowMatchesApp(w: SyncWindow, app: KObj): boolean {
  const dest = app.spec?.destination ?? {};
  const checks: boolean[] = [];
  if (w.applications?.length) checks.push(w.applications.some((p) => globMatch(p, app.metadata.name)));
  if (w.namespaces?.length) checks.push(w.namespaces.some((p) => globMatch(p, String(dest.namespace ?? ''))));
  if (w.clusters?.length)
    checks.push(w.clusters.some((p) => globMatch(p, String(dest.server ?? '')) || globMatch(p, String(dest.name ?? ''))));
  if (!checks.length) return false;
  return w.andOperator ? checks.every(Boolean) : checks.some(Boolean);
}

/** Active now: the latest occurrence of the schedule at or before now, plus duration, is after now. */
export function windowActive(w: SyncWindow, now: Date): boolean {
  const durationMs = parseDuration(w.duration, 'sync window duration');
  const expr = CronExpressionParser.parse(w.schedule, { currentDate: new Date(now.getTime() + 1), tz: w.timeZone || 'UTC' });
  const last = expr.prev().toDate();
  return last.getTime() <= now.getTime() && last.getTime() + durationMs > now.getTime();
}

export interface WindowVerdict {
  canSync: boolean;
  /** The windows that block (active deny, or the inactive allows), for the message. */
  blocking: SyncWindow[];
}

export function canSync(windows: SyncWindow[], app: KObj, now: Date, manual: boolean): WindowVerdict {
  const mine = windows.filter((w) => windowMatchesApp(w, app));
  const activeDeny = mine.filter((w) => w.kind === 'deny' && windowActive(w, now));
  if (activeDeny.length) {
    if (manual && activeDeny.every((w) => w.manualSync)) return { canSync: true, blocking: [] };
    return { canSync: false, blocking: activeDeny };
  }
  const allows = mine.filter((w) => w.kind === 'allow');
  if (!allows.length || allows.some((w) => windowActive(w, now))) return { canSync: true, blocking: [] };
  if (manual && allows.every((w) => w.manualSync)) return { canSync: true, blocking: [] };
  return { canSync: false, blocking: allows };
}

export function describeWindow(w: SyncWindow): string {
  return `${w.kind} window "${w.schedule}" for ${w.duration}${w.timeZone ? ` (${w.timeZone})` : ''}${w.description ? `: ${w.description}` : ''}`;
}
