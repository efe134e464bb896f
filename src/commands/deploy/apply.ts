import type { CommandResult } from '../../core/command.js';
import { defineCommand, FREEZE_OVERRIDE_FLAGS, KUBE_FLAGS } from '../../cli/spec.js';

export const apply = defineCommand({
  path: ['apply'],
  summary: 'diff → server-side apply (field manager vpm) → get, with evidence in reports/codex_runs/',
  args: [
    {
      name: 'overlay-or-file',
      description: 'a manifest file, a directory, or an overlay under infra/k8s/overlays/ (dev/hello-ksvc)',
      required: true,
      complete: 'file',
    },
  ],
  flags: {
    dryRun: { type: 'boolean', description: 'diff only: the API server validates, nothing changes' },
    traffic: {
      type: 'boolean',
      description: 'apply the manifest’s spec.traffic to a live KService (default: its live routing is kept; releases own it)',
    },
    force: {
      type: 'boolean',
      description: 'apply although a release/canary is in progress or a rejected revision would come back (needs --reason; recorded)',
    },
    ...KUBE_FLAGS,
    ...FREEZE_OVERRIDE_FLAGS,
  },
  examples: [
    { command: 'vpm apply dev/hello-ksvc --dry-run', description: 'what would change' },
    { command: 'vpm apply infra/k8s/overlays/dev/hello-ksvc.yaml --context kind-vpm-mini', description: 'apply a file' },
    { command: 'vpm apply dev/hello-ksvc --traffic', description: 'also apply the manifest’s routing to the live KService' },
  ],
  run: async (ctx, input): Promise<CommandResult> => (await import('./apply.handlers.js')).applyCommand(ctx, input),
});
