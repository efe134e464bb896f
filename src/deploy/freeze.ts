/**
 * The deploy freeze: `.ops/deploy_freeze.json`. While it is active every mutating deploy command
 * refuses with exit 3, unless `--force-freeze --reason …` is given (and then the override is
 * recorded). A freeze with `until` in the past has expired.
 */
import { userInfo } from 'node:os';
import { join } from 'node:path';
import type { KubeClient } from '../adapters/kube.js';
import { RefusedError, UsageError } from '../core/errors.js';
import { appendDurable, readTextIfExists, withLock, writeJsonAtomic } from '../core/fs.js';
import { FreezeSchema, type FreezeState } from '../schemas/freeze.js';
import type { z } from 'zod';
import type { FreezeScheduleSchema } from '../schemas/config.js';

type FreezeSchedule = z.infer<typeof FreezeScheduleSchema>;
import { formatZodIssues } from '../core/zod-issues.js';
import { maskValue } from '../core/secrets.js';

export const FREEZE_FILE = join('.ops', 'deploy_freeze.json');
const FREEZE_AUDIT_FILE = join('.ops', 'deploy_freeze_audit.jsonl');

export function readFreeze(cwd: string): FreezeState | null {
  const text = readTextIfExists(join(cwd, FREEZE_FILE));
  if (text === undefined) return null;
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    // A corrupt freeze file must not silently unfreeze deploys.
    throw new RefusedError(`${FREEZE_FILE} is corrupt (${(err as Error).message}); treating deploys as frozen`, {
      hint: `inspect and fix ${FREEZE_FILE}, or run \`vpm freeze off\` to reset it`,
    });
  }
  const parsed = FreezeSchema.safeParse(raw);
  if (!parsed.success) {
    throw new RefusedError(`${FREEZE_FILE} is invalid; treating deploys as frozen:\n  ${formatZodIssues(parsed.error).join('\n  ')}`, {
      hint: `fix ${FREEZE_FILE}, or run \`vpm freeze off\` to reset it`,
    });
  }
  return parsed.data;
}

export function isFreezeActive(state: FreezeState | null, now: Date): boolean {
  if (!state?.frozen) return false;
  return state.until === null || state.until === undefined || Date.parse(state.until) > now.getTime();
}

export interface FreezeGuardOptions {
  forceFreeze?: boolean;
  reason?: string;
  command: string;
}

/** The recurring freezes of vpm.config.yaml (`vpm freeze schedule add`) active at `now`. */
export async function activeSchedules(cwd: string, now: Date): Promise<FreezeSchedule[]> {
  const [{ loadConfig }, { windowActive }] = await Promise.all([import('../core/config.js'), import('../fleet/windows.js')]);
  const schedules = (await loadConfig(cwd)).freeze?.schedules ?? [];
  return schedules.filter((s) => windowActive({ kind: 'deny', schedule: s.cron, duration: s.duration, timeZone: s.tz }, now));
}

function recordOverride(cwd: string, now: Date, opts: FreezeGuardOptions, freeze: unknown, where: string): void {
  appendDurable(
    join(cwd, FREEZE_AUDIT_FILE),
    `${JSON.stringify(maskValue({ at: now.toISOString(), event: 'override', by: whoAmI(process.env), command: opts.command, reason: opts.reason, where, freeze }))}\n`,
  );
}

/**
 * The cluster half of the guard: the namespace a command is about to change carries a vpm freeze
 * (`vpm.dev/freeze`, set by `vpm freeze on` from any checkout) → exit 3, unless overridden (recorded).
 */
export async function assertNamespaceNotFrozen(
  cwd: string,
  client: KubeClient,
  namespace: string,
  now: Date,
  opts: FreezeGuardOptions,
): Promise<{ overridden: boolean }> {
  const { readNamespaceFreeze, clusterFrozenError } = await import('./cluster-freeze.js');
  const info = await readNamespaceFreeze(client, namespace, now);
  if (!info) return { overridden: false };
  const where = `namespace ${namespace}, context ${client.context}`;
  if (!opts.forceFreeze) throw clusterFrozenError(info, where);
  if (!opts.reason?.trim()) throw new UsageError('--force-freeze needs --reason "…" (the override is recorded)');
  recordOverride(cwd, now, opts, info, where);
  return { overridden: true };
}

export function whoAmI(env: NodeJS.ProcessEnv): string {
  return (
    env.VPM_ACTOR ??
    env.GITHUB_ACTOR ??
    env.USER ??
    (() => {
      try {
        return userInfo().username;
      } catch {
        return 'unknown';
      }
    })()
  );
}

/** Throws RefusedError (exit 3) while frozen, unless overridden with a reason, which is recorded. */
export async function assertNotFrozen(
  cwd: string,
  now: Date,
  opts: FreezeGuardOptions,
): Promise<{ overridden: boolean; freeze: FreezeState | null }> {
  let freeze: FreezeState | null;
  try {
    freeze = readFreeze(cwd);
  } catch (err) {
    if (!opts.forceFreeze) throw err;
    freeze = null;
  }
  const active = freeze === null ? false : isFreezeActive(freeze, now);
  if (!active) {
    const scheduled = await activeSchedules(cwd, now);
    if (!scheduled.length) return { overridden: false, freeze };
    const s = scheduled[0];
    if (!opts.forceFreeze)
      throw new RefusedError(`deploys are frozen by the recurring freeze ${s.id} ("${s.cron}" for ${s.duration}, ${s.tz}): ${s.reason}`, {
        hint: 'wait for the window to end (`vpm freeze status`), remove it with `vpm freeze schedule remove`, or override with --force-freeze --reason "…"',
      });
    if (!opts.reason?.trim()) throw new UsageError('--force-freeze needs --reason "…" (the override is recorded)');
    recordOverride(cwd, now, opts, s, `schedule ${s.id}`);
    return { overridden: true, freeze };
  }
  if (!opts.forceFreeze) {
    throw new RefusedError(
      `deploys are frozen since ${freeze!.at} by ${freeze!.by} (${freeze!.source}): ${freeze!.reason}${freeze!.until ? `; until ${freeze!.until}` : ''}`,
      { hint: 'wait for the freeze to end, lift it with `vpm freeze off`, or override with --force-freeze --reason "…"' },
    );
  }
  if (!opts.reason?.trim()) throw new UsageError('--force-freeze needs --reason "…" (the override is recorded)');
  recordOverride(cwd, now, opts, freeze, FREEZE_FILE);
  return { overridden: true, freeze };
}

/** Writes the freeze file; the audit entry says who, when, why and where it was applied (`where`). */
export async function setFreeze(cwd: string, given: FreezeState, where: unknown[] = []): Promise<FreezeState> {
  const path = join(cwd, FREEZE_FILE);
  // A reason is free text: a token pasted into it must not reach the freeze file or the audit log.
  const state = maskValue(given);
  await withLock(
    path,
    async () => {
      await writeJsonAtomic(path, state);
      appendDurable(
        join(cwd, FREEZE_AUDIT_FILE),
        `${JSON.stringify(maskValue({ at: new Date().toISOString(), event: state.frozen ? 'on' : 'off', by: state.by, reason: state.reason, state, where: [FREEZE_FILE, ...where] }))}\n`,
      );
    },
    { what: FREEZE_FILE },
  );
  return state;
}
