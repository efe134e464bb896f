import type { CommandResult } from '../../core/command.js';
import { defineCommand } from '../../cli/spec.js';

export const ask = defineCommand({
  path: ['ask'],
  summary: 'queue an /ask request as an inbox job; "S5 apply: <env> <target>" makes an apply job',
  args: [{ name: 'text', description: 'the request (or --issue/--comment)', variadic: true }],
  flags: {
    issue: {
      type: 'string',
      placeholder: '<n>',
      description: 'GitHub issue the request comes from (text read from GitHub when not given)',
    },
    comment: { type: 'string', placeholder: '<id>', description: 'GitHub issue comment holding the request' },
    repo: {
      type: 'string',
      placeholder: '<owner/name>',
      description: 'repository for --issue/--comment (default: config github.repo or $GITHUB_REPOSITORY)',
    },
    context: { type: 'string', placeholder: '<name>', description: 'kube context for an apply job' },
    namespace: { type: 'string', short: 'n', placeholder: '<ns>', description: 'namespace for an apply job' },
  },
  examples: [
    { command: 'vpm ask "run the unit tests"', description: 'queue an ask job' },
    { command: 'vpm ask "S5 apply: dev hello-ksvc"', description: 'queue an apply job for infra/k8s/overlays/dev/hello-ksvc.yaml' },
    { command: 'vpm ask --issue 12 --comment 3456', description: 'the request from a GitHub comment' },
  ],
  run: async (ctx, input): Promise<CommandResult> => (await import('./ask.handlers.js')).askCommand(ctx, input),
});
