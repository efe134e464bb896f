import type { CommandResult } from '../../core/command.js';
import { defineCommand, KUBE_FLAGS } from '../../cli/spec.js';

export const guard = defineCommand({
  path: ['guard'],
  summary: 'after promotion: re-check the SLO through a window; NG → rollback, freeze, GitHub issue (exit 4)',
  args: [{ name: 'ksvc', description: 'the Knative Service', required: true }],
  flags: {
    window: { type: 'string', placeholder: '<duration>', description: 'how long to watch (default 5m)' },
    interval: { type: 'string', placeholder: '<duration>', description: 'evaluation window (default 10s)' },
    slo: { type: 'string', placeholder: '<file>', description: 'SLO thresholds file' },
    provider: { type: 'string', placeholder: '<name>', description: 'where SLO data comes from', choices: ['probe', 'prometheus'] },
    prometheusUrl: { type: 'string', placeholder: '<url>', description: 'Prometheus base URL' },
    requests: { type: 'string', placeholder: '<n>', description: 'probe: request cap per window' },
    revision: { type: 'string', placeholder: '<rev>', description: 'revision to guard (default: the promoted canary candidate)' },
    previous: { type: 'string', placeholder: '<rev>', description: 'revision to roll back to (default: the canary stable)' },
    issue: { type: 'boolean', negatable: true, description: 'do not open a GitHub issue on NG' },
    ...KUBE_FLAGS,
  },
  examples: [
    { command: 'vpm guard hello --window 10m', description: 'watch hello for ten minutes after promotion' },
    {
      command: 'vpm guard hello --provider prometheus --prometheus-url http://127.0.0.1:9090 --no-issue',
      description: 'Prometheus data, no GitHub issue',
    },
  ],
  run: async (ctx, input): Promise<CommandResult> => (await import('./guard.handlers.js')).guardCommand(ctx, input),
});
