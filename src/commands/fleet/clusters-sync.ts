import type { CommandResult } from '../../core/command.js';
import { defineCommand, FREEZE_OVERRIDE_FLAGS, KUBE_FLAGS } from '../../cli/spec.js';

export const clustersSync = defineCommand({
  path: ['clusters', 'sync'],
  summary:
    'sync Applications through Argo CD and wait for the result and health; all apps when none are named. Refused while deploys are frozen',
  args: [{ name: 'apps', description: 'Applications to sync (default: all)', variadic: true }],
  flags: {
    contexts: {
      type: 'string',
      placeholder: '<list>',
      description: 'clusters of the fleet (default: fleet.contexts, else cluster-a,cluster-b; Argo CD runs on the first)',
    },
    selector: {
      type: 'string',
      short: 'l',
      placeholder: '<labels>',
      description: 'with no apps named: only Applications matching this label selector',
    },
    revision: { type: 'string', placeholder: '<rev>', description: 'revision to sync (default: each app’s targetRevision, else HEAD)' },
    prune: { type: 'boolean', description: 'delete resources no longer in git' },
    force: {
      type: 'boolean',
      description: 'sync although a release/canary is rolling out a KService of these apps (needs --reason; recorded)',
    },
    timeout: {
      type: 'string',
      placeholder: '<dur>',
      description: 'how long to wait for the sync and health (default: fleet.sync_timeout, else 5m; exit 5)',
    },
    ...KUBE_FLAGS,
    ...FREEZE_OVERRIDE_FLAGS,
  },
  details: 'The sync merge-patches the Application’s `operation` (initiatedBy vpm/<user>), as `argocd app sync` does.',
  examples: [
    { command: 'vpm clusters sync', description: 'sync every Application' },
    { command: 'vpm clusters sync root-app-cluster-b --prune --timeout 10m', description: 'one app, pruning' },
  ],
  run: async (ctx, input): Promise<CommandResult> => (await import('./clusters.handlers.js')).clustersSyncCommand(ctx, input),
});
