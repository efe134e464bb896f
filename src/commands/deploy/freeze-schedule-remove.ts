import type { CommandResult } from '../../core/command.js';
import { defineCommand } from '../../cli/spec.js';

export const freezeScheduleRemove = defineCommand({
  path: ['freeze', 'schedule', 'remove'],
  summary: 'remove a recurring freeze (from the config and from the AppProject)',
  args: [{ name: 'id', description: 'the schedule to remove', required: true }],
  flags: {
    local: { type: 'boolean', description: 'change the config only; do not write the AppProject' },
    kubeconfig: { type: 'string', placeholder: '<file>', description: 'kubeconfig file (default: $KUBECONFIG or ~/.kube/config)' },
  },
  examples: [{ command: 'vpm freeze schedule remove weekend', description: 'drop the weekend freeze' }],
  run: async (ctx, input): Promise<CommandResult> =>
    (await import('./freeze-schedule.handlers.js')).freezeScheduleRemoveCommand(ctx, input),
});
