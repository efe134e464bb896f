import type { CommandResult } from '../../core/command.js';
import { defineCommand } from '../../cli/spec.js';

export const freezeOff = defineCommand({
  path: ['freeze', 'off'],
  summary: 'lift the deploy freeze',
  flags: {},
  examples: [{ command: 'vpm freeze off', description: 'deploys allowed again' }],
  run: async (ctx, input): Promise<CommandResult> => (await import('./freeze.handlers.js')).freezeOffCommand(ctx, input),
});
