import type { CommandResult } from '../../core/command.js';
import { defineCommand, KUBE_FLAGS } from '../../cli/spec.js';

export const history = defineCommand({
  path: ['history'],
  summary: 'releases, canaries, guards and undos of a KService from the evidence, oldest first',
  args: [{ name: 'ksvc', description: 'the Knative Service', required: true }],
  flags: {
    ...KUBE_FLAGS,
    allNamespaces: { type: 'boolean', short: 'A', description: 'runs in every namespace, with a namespace column' },
  },
  details:
    'Reads reports/{release,canary,guard,undo}/<ksvc>/ only: no cluster is contacted. The namespace is the one the other deploy commands would use (-n, else config kube.namespace, else the kubeconfig context’s, else default).',
  examples: [
    { command: 'vpm history hello', description: 'what happened to hello in the namespace, with revision, verdict, who and when' },
    { command: 'vpm history hello -A', description: 'the same across every namespace' },
    { command: 'vpm history hello --json', description: 'the same as one JSON document' },
  ],
  run: async (ctx, input): Promise<CommandResult> => (await import('./history.handlers.js')).historyCommand(ctx, input),
});
