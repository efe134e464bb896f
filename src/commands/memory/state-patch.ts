import type { CommandResult } from '../../core/command.js';
import { defineCommand, YES_FLAG } from '../../cli/spec.js';

export const statePatch = defineCommand({
  path: ['state', 'patch'],
  summary: 'apply an RFC 6902 JSON patch to the parsed state (shows the diff; writes with --yes)',
  args: [{ name: 'file', description: 'the patch: a JSON file, or - for stdin', required: true, complete: 'file' }],
  flags: {
    ...YES_FLAG,
    dryRun: { type: 'boolean', description: 'show the diff only' },
  },
  examples: [
    { command: 'vpm state patch north-star.json --dry-run', description: 'see what would change' },
    { command: 'vpm state patch north-star.json --yes', description: 'write it and record it in memory.json' },
    { command: `echo '[{"op":"replace","path":"/phase","value":"S5"}]' | vpm state patch - --yes`, description: 'the patch from stdin' },
  ],
  run: async (ctx, input): Promise<CommandResult> => (await import('./state.handlers.js')).statePatchCommand(ctx, input),
});
