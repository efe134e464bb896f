import type { CommandResult } from '../../core/command.js';
import { defineCommand, FREEZE_OVERRIDE_FLAGS, KUBE_FLAGS } from '../../cli/spec.js';

export const canaryUndo = defineCommand({
  path: ['canary', 'undo'],
  summary: 'put 100% back on an earlier good revision (default: the one before the revision serving now)',
  args: [{ name: 'ksvc', description: 'the Knative Service', required: true }],
  flags: {
    toRevision: { type: 'string', placeholder: '<rev>', description: 'the revision to restore (must exist and be Ready)' },
    force: {
      type: 'boolean',
      description: 'undo although a rollout is in progress or the revision was rejected (needs --reason; recorded)',
    },
    ...KUBE_FLAGS,
    ...FREEZE_OVERRIDE_FLAGS,
  },
  details:
    'The earlier good revision comes from the evidence (`vpm history`). Refused while deploys are frozen. Evidence: reports/undo/<ksvc>/<run_id>.json.',
  examples: [
    { command: 'vpm canary undo hello', description: 'back to the revision that served before the last release' },
    { command: 'vpm canary undo hello --to-revision hello-00003', description: 'back to a named revision' },
  ],
  run: async (ctx, input): Promise<CommandResult> => (await import('./canary.handlers.js')).canaryUndoCommand(ctx, input),
});
