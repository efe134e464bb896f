import type { CommandResult } from '../../core/command.js';
import { defineCommand } from '../../cli/spec.js';

export const stateShow = defineCommand({
  path: ['state', 'show'],
  summary: 'print the parsed STATE/current_state.md',
  flags: {},
  examples: [
    { command: 'vpm state show', description: 'phase, current, goals and direction' },
    { command: 'vpm state show --json', description: 'as JSON' },
  ],
  run: async (ctx, input): Promise<CommandResult> => (await import('./state.handlers.js')).stateShowCommand(ctx, input),
});
