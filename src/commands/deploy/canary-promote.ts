import type { CommandResult } from '../../core/command.js';
import { defineCommand, FREEZE_OVERRIDE_FLAGS, KUBE_FLAGS } from '../../cli/spec.js';

export const canaryPromote = defineCommand({
  path: ['canary', 'promote'],
  summary: 'skip the remaining gates: 100% to the candidate',
  args: [{ name: 'ksvc', description: 'the Knative Service', required: true }],
  flags: {
    ...KUBE_FLAGS,
    ...FREEZE_OVERRIDE_FLAGS,
  },
  examples: [{ command: 'vpm canary promote hello', description: 'candidate gets 100% now' }],
  run: async (ctx, input): Promise<CommandResult> => (await import('./canary.handlers.js')).canaryPromoteCommand(ctx, input),
});
