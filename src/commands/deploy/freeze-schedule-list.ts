import type { CommandResult } from '../../core/command.js';
import { defineCommand } from '../../cli/spec.js';

export const freezeScheduleList = defineCommand({
  path: ['freeze', 'schedule', 'list'],
  summary: 'list the recurring freezes, whether each is active now, and its next starts',
  flags: {},
  examples: [{ command: 'vpm freeze schedule list', description: 'every recurring freeze' }],
  run: async (ctx, input): Promise<CommandResult> => (await import('./freeze-schedule.handlers.js')).freezeScheduleListCommand(ctx, input),
});
