import type { CommandResult } from '../../core/command.js';
import { defineCommand } from '../../cli/spec.js';

export const freezeOff = defineCommand({
  path: ['freeze', 'off'],
  summary: 'lift the deploy freeze (and remove exactly what `freeze on` added to the clusters)',
  flags: {
    local: { type: 'boolean', description: 'this checkout only: leave the clusters (AppProject, namespaces, admission policy) alone' },
    kubeconfig: { type: 'string', placeholder: '<file>', description: 'kubeconfig file (default: $KUBECONFIG or ~/.kube/config)' },
  },
  examples: [{ command: 'vpm freeze off', description: 'deploys allowed again' }],
  run: async (ctx, input): Promise<CommandResult> => (await import('./freeze.handlers.js')).freezeOffCommand(ctx, input),
});
