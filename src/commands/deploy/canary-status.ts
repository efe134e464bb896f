import type { CommandResult } from '../../core/command.js';
import { defineCommand, KUBE_FLAGS } from '../../cli/spec.js';

export const canaryStatus = defineCommand({
  path: ['canary', 'status'],
  summary: 'show canary progress and traffic',
  args: [{ name: 'ksvc', description: 'the Knative Service', required: true }],
  flags: {
    watch: {
      type: 'boolean',
      short: 'w',
      description: 'follow the release/canary until it ends (exit 0): a redrawn tree on a terminal, one line per change otherwise',
    },
    timeout: { type: 'string', placeholder: '<duration>', description: 'with --watch: give up after this long (exit 5)' },
    ...KUBE_FLAGS,
  },
  examples: [
    { command: 'vpm canary status hello', description: 'step, revisions and traffic' },
    { command: 'vpm canary status hello --watch --timeout 30m', description: 'follow a release until it ends' },
  ],
  run: async (ctx, input): Promise<CommandResult> => (await import('./canary.handlers.js')).canaryStatusCommand(ctx, input),
});
