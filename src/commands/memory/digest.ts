import type { CommandResult } from '../../core/command.js';
import { defineCommand } from '../../cli/spec.js';
import { parseDayFlag } from '../../core/dates.js';

export const digest = defineCommand({
  path: ['digest'],
  summary: 'write docs/sessions/<date>_digest.md and diagrams/src/<date>_nav.md',
  flags: {
    date: { type: 'string', placeholder: '<YYYY-MM-DD>', description: 'day to digest (default: today, UTC)' },
    session: { type: 'string', placeholder: '<id>', description: 'digest one session instead of a whole day' },
  },
  examples: [
    { command: 'vpm digest', description: "today's digest and navigation diagram" },
    { command: 'vpm digest --date 2026-12-04', description: 'a past day' },
    { command: 'vpm digest --session s1', description: 'one session' },
  ],
  parse: ({ args, flags }) => ({
    args: [...args],
    opts: { ...flags, date: flags.date === undefined ? undefined : parseDayFlag(flags.date, '--date') },
  }),
  run: async (ctx, input): Promise<CommandResult> => (await import('./digest.handlers.js')).digestCommand(ctx, input),
});
