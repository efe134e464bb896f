import type { CommandResult } from '../../core/command.js';
import { defineCommand } from '../../cli/spec.js';

export const freezeOn = defineCommand({
  path: ['freeze', 'on'],
  summary: 'freeze deploys: every mutating deploy command refuses with exit 3',
  flags: {
    reason: { type: 'string', placeholder: '<text>', description: 'why deploys are frozen', required: true },
    until: { type: 'string', placeholder: '<time>', description: 'expiry: ISO time or a duration from now (2h, 30m)' },
  },
  examples: [
    { command: 'vpm freeze on --reason "incident 42"', description: 'freeze until lifted' },
    { command: 'vpm freeze on --reason "release week" --until 48h', description: 'expires by itself' },
  ],
  run: async (ctx, input): Promise<CommandResult> => (await import('./freeze.handlers.js')).freezeOnCommand(ctx, input),
});
