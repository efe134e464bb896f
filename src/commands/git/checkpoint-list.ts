import type { CommandResult } from '../../core/command.js';
import { defineCommand } from '../../cli/spec.js';

export const checkpointList = defineCommand({
  path: ['checkpoint', 'list'],
  repo: 'required',
  summary: 'list checkpoints (refs/vpm/checkpoints/*), newest first',
  flags: {},
  examples: [{ command: 'vpm checkpoint list --json', description: 'name, commit, date and subject of each' }],
  run: async (ctx, input): Promise<CommandResult> => (await import('./checkpoint.handlers.js')).checkpointListCommand(ctx, input),
});
