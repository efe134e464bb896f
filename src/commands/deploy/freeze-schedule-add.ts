import type { CommandResult } from '../../core/command.js';
import { defineCommand } from '../../cli/spec.js';

export const freezeScheduleAdd = defineCommand({
  path: ['freeze', 'schedule', 'add'],
  summary: 'add a recurring freeze (stored in vpm.config.yaml, mirrored into the AppProject as a deny sync window)',
  flags: {
    cron: { type: 'string', placeholder: '<expr>', description: 'when it starts: 5-field cron, as Argo CD sync windows', required: true },
    duration: { type: 'string', placeholder: '<dur>', description: 'how long it lasts (64h, 90m)', required: true },
    tz: { type: 'string', placeholder: '<zone>', description: 'IANA time zone of the cron (default UTC)' },
    reason: { type: 'string', placeholder: '<text>', description: 'why deploys are frozen then', required: true },
    id: { type: 'string', placeholder: '<id>', description: 'name of the schedule (default: derived from the cron)' },
    local: { type: 'boolean', description: 'store it in the config only; do not write the AppProject' },
    kubeconfig: { type: 'string', placeholder: '<file>', description: 'kubeconfig file (default: $KUBECONFIG or ~/.kube/config)' },
  },
  examples: [
    {
      command: 'vpm freeze schedule add --cron "0 18 * * 5" --duration 64h --tz Asia/Tokyo --reason "weekend freeze"',
      description: 'Friday 18:00 to Monday 10:00, Tokyo time',
    },
  ],
  run: async (ctx, input): Promise<CommandResult> => (await import('./freeze-schedule.handlers.js')).freezeScheduleAddCommand(ctx, input),
});
