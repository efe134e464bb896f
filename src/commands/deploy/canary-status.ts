import type { CommandResult } from '../../core/command.js';
import { defineCommand, KUBE_FLAGS } from '../../cli/spec.js';

export const canaryStatus = defineCommand({
  path: ['canary', 'status'],
  summary: 'show canary progress and traffic',
  args: [{ name: 'ksvc', description: 'the Knative Service', required: true }],
  flags: {
    ...KUBE_FLAGS,
  },
  examples: [{ command: 'vpm canary status hello', description: 'step, revisions and traffic' }],
  run: async (ctx, input): Promise<CommandResult> => (await import('./canary.handlers.js')).canaryStatusCommand(ctx, input),
});
