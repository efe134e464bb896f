import type { CommandResult } from '../../core/command.js';
import { defineCommand } from '../../cli/spec.js';

export const history = defineCommand({
  path: ['history'],
  summary: 'releases, canaries, guards and undos of a KService from the evidence, oldest first',
  args: [{ name: 'ksvc', description: 'the Knative Service', required: true }],
  flags: {
    namespace: { type: 'string', short: 'n', placeholder: '<ns>', description: 'only runs in this namespace' },
  },
  examples: [
    { command: 'vpm history hello', description: 'what happened to hello, with revision, verdict, who and when' },
    { command: 'vpm history hello --json', description: 'the same as one JSON document' },
  ],
  run: async (ctx, input): Promise<CommandResult> => (await import('./history.handlers.js')).historyCommand(ctx, input),
});
