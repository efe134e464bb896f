import type { CommandResult } from '../../core/command.js';
import { defineCommand, KUBE_FLAGS } from '../../cli/spec.js';

export const clustersDiff = defineCommand({
  path: ['clusters', 'diff'],
  summary:
    'what a sync would change: Argo CD’s out-of-sync resources, and this checkout’s manifests against the live objects, field by field',
  args: [{ name: 'apps', description: 'Applications to diff (default: all)', variadic: true }],
  flags: {
    contexts: {
      type: 'string',
      placeholder: '<list>',
      description: 'clusters of the fleet (default: fleet.contexts, else cluster-a,cluster-b)',
    },
    selector: {
      type: 'string',
      short: 'l',
      placeholder: '<labels>',
      description: 'with no apps named: only Applications matching this label selector',
    },
    exitCode: { type: 'boolean', description: 'exit 1 when there are differences (as git diff --exit-code)' },
    ...KUBE_FLAGS,
  },
  details:
    'Manifests are rendered from the app’s source path in this checkout with `kustomize build` when kustomize is on PATH (else the kustomization’s plain resources).',
  examples: [
    { command: 'vpm clusters diff', description: 'every Application' },
    { command: 'vpm clusters diff root-app-cluster-b --exit-code', description: 'a CI gate: exit 1 when a sync would change something' },
  ],
  run: async (ctx, input): Promise<CommandResult> => (await import('./clusters.handlers.js')).clustersDiffCommand(ctx, input),
});
