/**
 * The deploy freeze: `.ops/deploy_freeze.json`. While it is active every mutating deploy command
 * refuses with exit 3, unless `--force-freeze --reason …` is given (and then the override is
 * recorded). A freeze with `until` in the past has expired.
 */
import { join } from 'node:path';
import { RefusedError, UsageError } from '../core/errors.js';
import { appendDurable, readTextIfExists, withLock, writeJsonAtomic } from '../core/fs.js';
import { FreezeSchema, type FreezeState } from '../schemas/freeze.js';
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
  if (!active && freeze !== null) return { overridden: false, freeze };
  if (!active) return { overridden: false, freeze };
  if (!opts.forceFreeze) {
    throw new RefusedError(
      `deploys are frozen since ${freeze!.at} by ${freeze!.by} (${freeze!.source}): ${freeze!.reason}${freeze!.until ? `; until ${freeze!.until}` : ''}`,
      { hint: 'wait for the freeze to end, lift it with `vpm freeze off`, or override with --force-freeze --reason "…"' },
    );
  }
  if (!opts.reason?.trim()) throw new UsageError('--force-freeze needs --reason "…" (the override is recorded)');
  appendDurable(
    join(cwd, FREEZE_AUDIT_FILE),
    `${JSON.stringify(maskValue({ at: now.toISOString(), event: 'override', command: opts.command, reason: opts.reason, freeze }))}\n`,
  );
  return { overridden: true, freeze };
}

export async function setFreeze(cwd: string, given: FreezeState): Promise<FreezeState> {
  const path = join(cwd, FREEZE_FILE);
  // A reason is free text: a token pasted into it must not reach the freeze file or the audit log.
  const state = maskValue(given);
  await withLock(
    path,
    async () => {
      await writeJsonAtomic(path, state);
      appendDurable(
        join(cwd, FREEZE_AUDIT_FILE),
        `${JSON.stringify({ at: new Date().toISOString(), event: state.frozen ? 'on' : 'off', state })}\n`,
      );
    },
    { what: FREEZE_FILE },
  );
  return state;
}
