import type { CommandResult } from '../../core/command.js';
import { defineCommand, SUMMARY_FILE_FLAG } from '../../cli/spec.js';

export const checkpoint = defineCommand({
  path: ['checkpoint'],
  repo: 'required',
  summary: 'commit everything as "CHECKPOINT <NAME>", keep refs/vpm/checkpoints/<NAME> and logs/last_checkpoint.txt',
  args: [{ name: 'name', description: 'checkpoint name, one ref component (e.g. S4_before_big_change)' }],
  flags: { ...SUMMARY_FILE_FLAG },
  examples: [
    { command: 'vpm checkpoint S4_before_big_change', description: 'before risky work' },
    { command: 'vpm checkpoint list', description: 'the checkpoints, newest first' },
  ],
  run: async (ctx, input): Promise<CommandResult> => (await import('./checkpoint.handlers.js')).checkpointCommand(ctx, input),
});
