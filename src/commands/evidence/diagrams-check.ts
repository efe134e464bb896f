import type { CommandResult } from '../../core/command.js';
import { defineCommand } from '../../cli/spec.js';

export const diagramsCheck = defineCommand({
  path: ['diagrams', 'check'],
  summary: 'validate every diagram under diagrams/src/; errors name the file and line',
  flags: {},
  examples: [{ command: 'vpm diagrams check', description: 'exit 1 on the first parse error, naming file and line' }],
  run: async (ctx, input): Promise<CommandResult> => (await import('./diagrams.handlers.js')).diagramsCheckCommand(ctx, input),
});
