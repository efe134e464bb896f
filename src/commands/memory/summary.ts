import type { CommandResult } from '../../core/command.js';
import { defineCommand } from '../../cli/spec.js';

export const summary = defineCommand({
  path: ['summary'],
  summary: 'summarise new chat entries (≤ 400 graphemes) into memory.json',
  flags: {
    provider: {
      type: 'string',
      placeholder: '<name>',
      description: 'summariser (default: config summary.provider, else extractive)',
      choices: ['extractive', 'openai'],
    },
  },
  examples: [
    { command: 'vpm summary', description: 'summarise what was said since the last summary' },
    {
      command: 'VPM_LLM_API_KEY=… vpm summary --provider openai',
      description: 'use an OpenAI-compatible model (falls back to extractive)',
    },
  ],
  run: async (ctx, input): Promise<CommandResult> => (await import('./summary.handlers.js')).summaryCommand(ctx, input),
});
