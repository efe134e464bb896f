import type { CommandResult } from '../../core/command.js';
import { defineCommand } from '../../cli/spec.js';

export const freezeStatus = defineCommand({
  path: ['freeze', 'status'],
  summary: 'show every place a freeze was found (file, AppProject window, namespaces, policy, schedules); says when they disagree',
  flags: {
    exitCode: { type: 'boolean', description: 'exit 3 when deploys are frozen (a gate for CI scripts)' },
    local: { type: 'boolean', description: 'this checkout only: do not read the clusters' },
    kubeconfig: { type: 'string', placeholder: '<file>', description: 'kubeconfig file (default: $KUBECONFIG or ~/.kube/config)' },
  },
  examples: [
    { command: 'vpm freeze status', description: 'frozen or not, by whom and why' },
    { command: 'vpm freeze status --exit-code || echo "deploys are frozen"', description: 'gate a CI step' },
  ],
  run: async (ctx, input): Promise<CommandResult> => (await import('./freeze.handlers.js')).freezeStatusCommand(ctx, input),
});
