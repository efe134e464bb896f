import type { CommandResult } from '../../core/command.js';
import { defineCommand, KUBE_FLAGS } from '../../cli/spec.js';

export const clustersStatus = defineCommand({
  path: ['clusters', 'status'],
  summary:
    'sync status, health, revision, operation phase and reconciledAt of each Application; exit 1 unless every app is Synced and Healthy',
  args: [{ name: 'apps', description: 'Applications to show (default: all)', variadic: true }],
  flags: {
    contexts: {
      type: 'string',
      placeholder: '<list>',
      description: 'destination clusters (kube contexts) to check, comma-separated (default: fleet.contexts, else cluster-a,cluster-b)',
    },
    selector: { type: 'string', short: 'l', placeholder: '<labels>', description: 'only Applications matching this label selector' },
    requestTimeout: {
      type: 'string',
      placeholder: '<dur>',
      description: 'bound on each cluster check (default: fleet.request_timeout_ms, else 5s)',
    },
    watch: {
      type: 'boolean',
      short: 'w',
      description: 'keep checking, print a line when an app changes, exit 0 once every app is Synced and Healthy',
    },
    interval: { type: 'string', placeholder: '<dur>', description: 'how often --watch checks (default 2s)' },
    timeout: { type: 'string', placeholder: '<dur>', description: 'with --watch: give up after this long (exit 5)' },
    ...KUBE_FLAGS,
  },
  details: '--context is the cluster running Argo CD, -n its namespace (default argocd).',
  examples: [
    { command: 'vpm clusters status', description: 'every Application across the fleet' },
    { command: 'vpm clusters status root-app-cluster-a --watch --timeout 5m', description: 'wait until one app is Synced and Healthy' },
  ],
  run: async (ctx, input): Promise<CommandResult> => (await import('./clusters.handlers.js')).clustersStatusCommand(ctx, input),
});
