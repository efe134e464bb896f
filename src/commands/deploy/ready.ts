import type { CommandResult } from '../../core/command.js';
import { defineCommand, KUBE_FLAGS } from '../../cli/spec.js';

export const ready = defineCommand({
  path: ['ready'],
  summary: 'wait (watch) until the KService is Ready for its current generation',
  args: [{ name: 'ksvc', description: 'the Knative Service', required: true }],
  flags: {
    timeout: { type: 'string', placeholder: '<duration>', description: 'give up after this long (default 120s; exit 5)' },
    ...KUBE_FLAGS,
  },
  examples: [
    { command: 'vpm ready hello', description: 'wait until hello is Ready' },
    { command: 'vpm ready hello -n apps --timeout 5m', description: 'another namespace, a longer wait' },
  ],
  run: async (ctx, input): Promise<CommandResult> => (await import('./ready.handlers.js')).readyCommand(ctx, input),
});
