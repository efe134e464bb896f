import type { CommandResult } from '../../core/command.js';
import { defineCommand, FREEZE_OVERRIDE_FLAGS, KUBE_FLAGS } from '../../cli/spec.js';

export const clustersRollback = defineCommand({
  path: ['clusters', 'rollback'],
  summary: 'sync an Application back to a history entry, as `argocd app rollback`; refused while frozen or while auto-sync is on',
  args: [
    { name: 'app', description: 'the Application', required: true },
    { name: 'id', description: 'history id (vpm clusters history APP)', required: true },
  ],
  flags: {
    prune: { type: 'boolean', description: 'delete resources not in that revision' },
    timeout: {
      type: 'string',
      placeholder: '<dur>',
      description: 'how long to wait for the result and health (default: fleet.sync_timeout, else 5m; exit 5)',
    },
    ...KUBE_FLAGS,
    ...FREEZE_OVERRIDE_FLAGS,
  },
  examples: [{ command: 'vpm clusters rollback root-app-cluster-a 3', description: 'back to history entry 3' }],
  run: async (ctx, input): Promise<CommandResult> => (await import('./clusters.handlers.js')).clustersRollbackCommand(ctx, input),
});
