import type { CommandResult } from '../../core/command.js';
import { defineCommand, KUBE_FLAGS } from '../../cli/spec.js';

export const canaryAbort = defineCommand({
  path: ['canary', 'abort'],
  summary: 'put 100% of traffic back on stable (allowed while frozen)',
  args: [{ name: 'ksvc', description: 'the Knative Service', required: true }],
  flags: {
    ...KUBE_FLAGS,
  },
  examples: [{ command: 'vpm canary abort hello', description: 'stable gets 100% at once' }],
  run: async (ctx, input): Promise<CommandResult> => (await import('./canary.handlers.js')).canaryAbortCommand(ctx, input),
});
