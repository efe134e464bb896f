import type { CommandResult } from '../../core/command.js';
import { defineCommand } from '../../cli/spec.js';

export const sli = defineCommand({
  path: ['sli'],
  summary: 'N HTTP requests to a KService URL (or --url): success rate, p50/p95/p99, error classes',
  args: [{ name: 'ksvc', description: 'the Knative Service (or --url)' }],
  flags: {
    url: { type: 'string', placeholder: '<url>', description: 'probe this URL instead of a KService' },
    requests: { type: 'string', short: 'n', placeholder: '<n>', description: 'number of requests (default 20)' },
    concurrency: { type: 'string', placeholder: '<n>', description: 'parallel requests (default 1)' },
    timeout: { type: 'string', placeholder: '<ms>', description: 'per-request timeout in ms (default 2000)' },
    context: { type: 'string', placeholder: '<name>', description: 'kubeconfig context' },
    namespace: { type: 'string', placeholder: '<ns>', description: 'namespace (-n means --requests here)' },
    kubeconfig: { type: 'string', placeholder: '<file>', description: 'kubeconfig file' },
  },
  examples: [
    { command: 'vpm sli hello', description: '20 requests to hello’s URL' },
    { command: 'vpm sli --url http://127.0.0.1:8080/ -n 100 --concurrency 4', description: 'any URL' },
  ],
  run: async (ctx, input): Promise<CommandResult> => (await import('./sli.handlers.js')).sliCommand(ctx, input),
});
