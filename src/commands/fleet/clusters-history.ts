import type { CommandResult } from '../../core/command.js';
import { defineCommand, KUBE_FLAGS } from '../../cli/spec.js';

export const clustersHistory = defineCommand({
  path: ['clusters', 'history'],
  summary: 'an Application’s deployment history as Argo CD keeps it (status.history: id, revision, when, who)',
  args: [{ name: 'app', description: 'the Application', required: true }],
  flags: { ...KUBE_FLAGS },
  examples: [{ command: 'vpm clusters history root-app-cluster-a', description: 'ids to roll back to' }],
  run: async (ctx, input): Promise<CommandResult> => (await import('./clusters.handlers.js')).clustersHistoryCommand(ctx, input),
});
