import type { CommandResult } from '../../core/command.js';
import { defineCommand, FREEZE_OVERRIDE_FLAGS, KUBE_FLAGS } from '../../cli/spec.js';

export const canaryResume = defineCommand({
  path: ['canary', 'resume'],
  summary: 'answer a manual gate: the held canary/release goes on to its next step',
  args: [{ name: 'ksvc', description: 'the Knative Service', required: true }],
  flags: {
    ...KUBE_FLAGS,
    ...FREEZE_OVERRIDE_FLAGS,
  },
  details: 'The hold is stored on the KService, so this works from any checkout or machine; `promote` and `abort` answer it too.',
  examples: [{ command: 'vpm canary resume hello', description: 'release the hold (e.g. --pause-at 50)' }],
  run: async (ctx, input): Promise<CommandResult> => (await import('./canary.handlers.js')).canaryResumeCommand(ctx, input),
});
