import type { CommandHandler } from '../../core/command.js';
import type { Ctx } from '../../core/context.js';
import { UsageError } from '../../core/errors.js';
import { whoAmI } from '../../deploy/freeze.js';
import { SCHEDULE_MARKER, updateProjectWindows, type FreezePlace } from '../../deploy/cluster-freeze.js';
import { nextRuns, scheduleWindow, validateSchedule, writeSchedules, type FreezeSchedule } from '../../deploy/freeze-schedule.js';
import { windowActive } from '../../fleet/windows.js';
import type { FlagsOf } from '../../cli/spec.js';
import type { freezeScheduleAdd } from './freeze-schedule-add.js';
import type { freezeScheduleRemove } from './freeze-schedule-remove.js';

/** Mirrors every schedule into the AppProject (vpm's schedule windows replaced, others untouched). */
async function mirror(ctx: Ctx, opts: { local?: boolean; kubeconfig?: string }, schedules: FreezeSchedule[]): Promise<FreezePlace | null> {
  const { resolveFreezeTargets } = await import('../../deploy/freeze-targets.js');
  const targets = await resolveFreezeTargets(ctx, opts);
  if (!targets) return null;
  const a = targets.argocd;
  const name = `${a.namespace}/${a.project}`;
  try {
    await updateProjectWindows(a, (w) => String(w.description ?? '').startsWith(SCHEDULE_MARKER), schedules.map(scheduleWindow));
    return { kind: 'appproject', context: a.context, name, ok: true, error: null };
  } catch (err) {
    return { kind: 'appproject', context: a.context, name, ok: false, error: (err as Error).message };
  }
}

function line(s: FreezeSchedule, now: Date): string {
  const active = windowActive({ kind: 'deny', schedule: s.cron, duration: s.duration, timeZone: s.tz }, now);
  return `${s.id}  "${s.cron}" for ${s.duration} (${s.tz})${active ? '  ACTIVE NOW' : ''}  next ${nextRuns(s, now, 1)[0]}  ${s.reason}`;
}

export const freezeScheduleAddCommand: CommandHandler<FlagsOf<typeof freezeScheduleAdd>> = async (ctx, { opts }) => {
  const tz = opts.tz ?? 'UTC';
  validateSchedule(opts.cron, opts.duration, tz);
  if (!opts.reason.trim()) throw new UsageError('--reason must not be empty');
  const id =
    opts.id ??
    `f-${opts.cron
      .replace(/[^0-9a-z]+/gi, '-')
      .replace(/^-|-$/g, '')
      .toLowerCase()}`.slice(0, 40);
  if (!/^[a-z0-9-]{1,40}$/.test(id)) throw new UsageError(`--id ${id}: use lower-case letters, digits and dashes (at most 40)`);
  const config = await ctx.config();
  const existing = config.freeze?.schedules ?? [];
  if (existing.some((s) => s.id === id))
    throw new UsageError(`a recurring freeze ${id} exists already`, {
      hint: `remove it first (vpm freeze schedule remove ${id}) or pass --id`,
    });
  const schedule: FreezeSchedule = {
    id,
    cron: opts.cron,
    duration: opts.duration,
    tz,
    reason: opts.reason,
    by: whoAmI(ctx.env),
    added_at: ctx.now().toISOString(),
  };
  const schedules = [...existing, schedule];
  const file = await writeSchedules(ctx.root, schedules);
  const place = await mirror(ctx, opts, schedules);
  return {
    data: { schedule, file, next: nextRuns(schedule, ctx.now(), 3), appproject: place },
    human: `${line(schedule, ctx.now())}\n  stored in ${file}${place ? `\n  ${place.ok ? 'mirrored into' : 'FAILED to mirror into'} AppProject ${place.name} (context ${place.context})${place.error ? `: ${place.error}` : ''}` : ''}`,
    outcome: place && !place.ok ? 'failed' : 'ok',
  };
};

export const freezeScheduleListCommand: CommandHandler = async (ctx) => {
  const schedules = (await ctx.config()).freeze?.schedules ?? [];
  const now = ctx.now();
  return {
    data: {
      schedules: schedules.map((s) => ({
        ...s,
        active: windowActive({ kind: 'deny', schedule: s.cron, duration: s.duration, timeZone: s.tz }, now),
        next: nextRuns(s, now, 2),
      })),
    },
    human: schedules.length ? schedules.map((s) => line(s, now)).join('\n') : 'no recurring freezes',
  };
};

export const freezeScheduleRemoveCommand: CommandHandler<FlagsOf<typeof freezeScheduleRemove>> = async (ctx, { args, opts }) => {
  const existing = (await ctx.config()).freeze?.schedules ?? [];
  const id = args[0];
  if (!existing.some((s) => s.id === id))
    throw new UsageError(`no recurring freeze ${id}`, { hint: `known: ${existing.map((s) => s.id).join(', ') || '(none)'}` });
  const schedules = existing.filter((s) => s.id !== id);
  const file = await writeSchedules(ctx.root, schedules);
  const place = await mirror(ctx, opts, schedules);
  return {
    data: { removed: id, file, appproject: place },
    human: `removed ${id} from ${file}${place ? `; AppProject ${place.name}: ${place.ok ? 'updated' : `FAILED: ${place.error}`}` : ''}`,
    outcome: place && !place.ok ? 'failed' : 'ok',
  };
};
