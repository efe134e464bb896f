import { userInfo } from 'node:os';
import type { CommandHandler } from '../../core/command.js';
import { UsageError } from '../../core/errors.js';
import { FREEZE_FILE, isFreezeActive, readFreeze, setFreeze } from '../../deploy/freeze.js';
import { parseDuration } from '../../deploy/duration.js';
import type { freezeOn } from './freeze-on.js';
import type { freezeStatus } from './freeze-status.js';
import type { FlagsOf } from '../../cli/spec.js';

function whoAmI(env: NodeJS.ProcessEnv): string {
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

/** `--until` takes an ISO time or a duration from now (`2h`, `30m`). */
function parseUntil(value: string | undefined, now: Date): string | null {
  if (value === undefined) return null;
  const asDate = Date.parse(value);
  if (!Number.isNaN(asDate) && /\d{4}-\d{2}-\d{2}/.test(value)) {
    if (asDate <= now.getTime()) throw new UsageError(`--until ${value} is in the past`);
    return new Date(asDate).toISOString();
  }
  return new Date(now.getTime() + parseDuration(value, '--until')).toISOString();
}

export const freezeOnCommand: CommandHandler<FlagsOf<typeof freezeOn>> = async (ctx, { opts }) => {
  if (!opts.reason?.trim()) throw new UsageError('vpm freeze on needs --reason "…"');
  const now = ctx.now();
  const state = {
    frozen: true,
    reason: opts.reason,
    by: whoAmI(ctx.env),
    at: now.toISOString(),
    until: parseUntil(opts.until, now),
    source: 'manual' as const,
    run_id: null,
  };
  await setFreeze(ctx.root, state);
  return { data: state, human: `deploys frozen: ${state.reason}${state.until ? ` (until ${state.until})` : ''}` };
};

export const freezeOffCommand: CommandHandler = async (ctx) => {
  const previous = (() => {
    try {
      return readFreeze(ctx.root);
    } catch {
      return null; // a corrupt file is replaced by `off`
    }
  })();
  const state = {
    frozen: false,
    reason: previous?.reason ?? '',
    by: whoAmI(ctx.env),
    at: ctx.now().toISOString(),
    until: null,
    source: previous?.source ?? ('manual' as const),
    run_id: previous?.run_id ?? null,
  };
  await setFreeze(ctx.root, state);
  return { data: { ...state, previous }, human: 'deploys unfrozen' };
};

export const freezeStatusCommand: CommandHandler<FlagsOf<typeof freezeStatus>> = async (ctx, { opts }) => {
  const state = readFreeze(ctx.root);
  const active = isFreezeActive(state, ctx.now());
  const expired = Boolean(state?.frozen && !active);
  const human = !state
    ? 'not frozen (no freeze recorded)'
    : active
      ? `FROZEN since ${state.at} by ${state.by} (${state.source}): ${state.reason}${state.until ? `; until ${state.until}` : ''}`
      : expired
        ? `not frozen (the freeze of ${state.at} expired at ${state.until})`
        : `not frozen (lifted at ${state.at} by ${state.by})`;
  // --exit-code makes the answer a gate for scripts, as `git diff --exit-code` does.
  return { data: { file: FREEZE_FILE, active, expired, state }, human, outcome: opts.exitCode && active ? 'refused' : 'ok' };
};
