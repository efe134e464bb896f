import type { CommandResult } from '../../core/command.js';
import { defineCommand } from '../../cli/spec.js';

export const checkin = defineCommand({
  path: ['checkin'],
  summary: 'print Repo / Branch / PR / Run / Evidence / Next (git + GitHub API + newest evidence; works offline)',
  flags: {
    repo: {
      type: 'string',
      placeholder: '<owner/name>',
      description: 'GitHub repository (default: config github.repo, GITHUB_REPOSITORY, or the github.com remote)',
    },
    offline: { type: 'boolean', description: 'do not contact GitHub' },
  },
  examples: [
    { command: 'vpm checkin', description: 'the check-in block' },
    { command: 'vpm checkin --offline --json', description: 'without GitHub, as JSON' },
  ],
  run: async (ctx, input): Promise<CommandResult> => (await import('./checkin.handlers.js')).checkinCommand(ctx, input),
});
