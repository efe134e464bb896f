import type { CommandResult } from '../../core/command.js';
import { defineCommand } from '../../cli/spec.js';

export const stateCheck = defineCommand({
  path: ['state', 'check'],
  summary: 'validate the state file (schema, unique goal ids)',
  flags: {},
  examples: [{ command: 'vpm state check', description: 'exit 2 with every problem when the file is invalid' }],
  run: async (ctx, input): Promise<CommandResult> => (await import('./state.handlers.js')).stateCheckCommand(ctx, input),
});
