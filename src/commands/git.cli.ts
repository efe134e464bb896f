import { Option, type Command } from 'commander';
import type { ActionFactory } from '../cli.js';

/** The git safety net: checkpoints before risky work, rollback (then the tests) when it fails. */
export function registerGitCommands(program: Command, act: ActionFactory): void {
  const checkpoint = program
    .command('checkpoint')
    .description('commit everything as "CHECKPOINT <NAME>", keep refs/vpm/checkpoints/<NAME> and logs/last_checkpoint.txt')
    .argument('[name]', 'checkpoint name, one ref component (e.g. S4_before_big_change)')
    .option('--summary-file <path>', 'also write a run summary: PATH (JSON) and PATH with .txt (one line)')
    .action(act('checkpoint', async () => (await import('./checkpoint.js')).checkpointCommand));
  checkpoint
    .command('list')
    .description('list checkpoints (refs/vpm/checkpoints/*), newest first')
    .action(act('checkpoint list', async () => (await import('./checkpoint.js')).checkpointListCommand));

  program
    .command('rollback')
    .description(
      'reset to a checkpoint (default: logs/last_checkpoint.txt) after saving HEAD as refs/vpm/pre-rollback/<ts>, then run the tests',
    )
    .option('--to <checkpoint|hash>', 'roll back to this checkpoint name or commit (an ancestor of HEAD or a checkpoint)')
    .option('-y, --yes', 'do not ask for confirmation (required when stdin is not a terminal)')
    .option('--no-test', 'do not run the test command after the rollback')
    .addOption(new Option('--test-cmd <command>', 'test command to run after the rollback (default: config test.command, "npm test")'))
    .option('--summary-file <path>', 'also write a run summary: PATH (JSON) and PATH with .txt (one line)')
    .addHelpText(
      'after',
      '\nRefuses (exit 3) on uncommitted changes outside logs/, memory.json, .ops/ and reports/, during a merge/rebase,\n' +
        'or when the target is neither an ancestor of HEAD nor a checkpoint. Exit 1 when the tests fail after the rollback.\n' +
        'Undo a rollback with: git reset --hard refs/vpm/pre-rollback/<ts> (printed by the command).',
    )
    .action(act('rollback', async () => (await import('./rollback.js')).rollbackCommand));
}
