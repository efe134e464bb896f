import type { CommandResult } from '../../core/command.js';
import { defineCommand, FREEZE_OVERRIDE_FLAGS, KUBE_FLAGS } from '../../cli/spec.js';

export const canaryUndo = defineCommand({
  path: ['canary', 'undo'],
  summary: 'put 100% back on an earlier good revision (default: the newest good one not serving now)',
  args: [{ name: 'ksvc', description: 'the Knative Service', required: true }],
  flags: {
    toRevision: {
      type: 'string',
      placeholder: '<rev>',
      description: 'the revision to restore (must exist, be Ready, and have served 100% or passed a gate)',
    },
    force: {
      type: 'boolean',
      description:
        'undo although a rollout is in progress, or the revision was rejected or never served or passed a gate (needs --reason; recorded)',
    },
    ...KUBE_FLAGS,
    ...FREEZE_OVERRIDE_FLAGS,
  },
  details:
    'Good revisions come from the evidence (`vpm history`): a release, canary or guard passed them, or they served 100% when one started. By default undo takes the newest of them that is not serving now, was not rejected and still exists (those gone are skipped); a revision an earlier undo moved away from is not taken again until it passes a gate again. Refused while deploys are frozen. Evidence: reports/undo/<ksvc>/<run_id>.json.',
  examples: [
    { command: 'vpm canary undo hello', description: 'back to the revision that served before the last release' },
    { command: 'vpm canary undo hello --to-revision hello-00003', description: 'back to a named revision' },
  ],
  run: async (ctx, input): Promise<CommandResult> => (await import('./canary.handlers.js')).canaryUndoCommand(ctx, input),
});
