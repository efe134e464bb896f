import type { PrefetchedReads } from '../../adapters/git.js';
import { defineCommand, type FlagDecls, type FlagValues, SUMMARY_FILE_FLAG, YES_FLAG } from '../../cli/spec.js';
import type { CommandResult } from '../../core/command.js';
import { UsageError } from '../../core/errors.js';

const FLAGS = {
  to: {
    type: 'string',
    placeholder: '<checkpoint|hash>',
    description: 'roll back to this checkpoint name or commit (an ancestor of HEAD or a checkpoint)',
  },
  ...YES_FLAG,
  test: { type: 'boolean', negatable: true, description: 'do not run the test command after the rollback' },
  testCmd: {
    type: 'string',
    placeholder: '<command>',
    description: 'test command to run after the rollback (default: config test.command, "npm test")',
  },
  ...SUMMARY_FILE_FLAG,
} as const satisfies FlagDecls;

export type RollbackOptions = FlagValues<typeof FLAGS> & {
  /** Git reads the start-up fast path began before the command loaded (see src/cli/fast/). */
  prefetched?: PrefetchedReads;
};

export const rollback = defineCommand({
  path: ['rollback'],
  repo: 'required',
  summary: 'reset to a checkpoint (default: logs/last_checkpoint.txt) after saving HEAD as refs/vpm/pre-rollback/<ts>, then run the tests',
  details:
    'Refuses (exit 3) on uncommitted changes outside logs/, memory.json, .ops/ and reports/, during a merge/rebase,\n' +
    'or when the target is neither an ancestor of HEAD nor a checkpoint. Exit 1 when the tests fail after the rollback.\n' +
    'Undo a rollback with: git reset --hard refs/vpm/pre-rollback/<ts> (printed by the command).',
  flags: FLAGS,
  examples: [
    { command: 'vpm rollback --yes', description: 'back to the last checkpoint, then npm test' },
    { command: 'vpm rollback --to S4_before_big_change --yes --no-test', description: 'a named checkpoint, no tests' },
    { command: 'vpm rollback --yes --test-cmd "npx vitest run tests/unit"', description: 'another test command' },
  ],
  parse: ({ flags }): RollbackOptions => {
    // Checked before the repository is touched.
    if (!flags.test && flags.testCmd !== undefined)
      throw new UsageError('--no-test and --test-cmd contradict each other; pass one of them');
    return { ...flags } as RollbackOptions;
  },
  run: async (ctx, options): Promise<CommandResult> => (await import('./rollback.handlers.js')).rollbackCommand(ctx, options),
});
