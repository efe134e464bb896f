import type { CommandResult } from '../../core/command.js';
import { defineCommand } from '../../cli/spec.js';

export const contractCheck = defineCommand({
  path: ['contract', 'check'],
  summary: 'eligible when the PR changes only reports/** and its checks are green (exit 3 otherwise, naming the rule)',
  args: [{ name: 'pr', description: 'pull request number', required: true }],
  flags: {
    apply: { type: 'boolean', description: 'when eligible: add the label and enable auto-merge' },
    label: { type: 'string', placeholder: '<name>', description: 'label to add with --apply', default: 'persist-report' },
    mergeMethod: {
      type: 'string',
      placeholder: '<method>',
      description: 'auto-merge method',
      choices: ['merge', 'squash', 'rebase'],
      default: 'squash',
    },
    repo: {
      type: 'string',
      placeholder: '<owner/name>',
      description: 'GitHub repository (default: config github.repo or GITHUB_REPOSITORY)',
    },
  },
  examples: [
    { command: 'vpm contract check 42', description: 'is PR 42 a reports-only PR with green checks?' },
    { command: 'vpm contract check 42 --apply', description: 'and if so, label it and enable auto-merge' },
  ],
  run: async (ctx, input): Promise<CommandResult> => (await import('./contract.handlers.js')).contractCheckCommand(ctx, input),
});
