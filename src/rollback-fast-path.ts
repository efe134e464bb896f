/**
 * `vpm rollback` is run by hand and in CI the moment a test fails, on repositories of any size; its
 * cost over a plain `git reset --hard` is what vpm adds (issue 3 holds it to ≤ 1.3×), and loading
 * the command tree is a good part of that. So, like `chat append`, it skips commander: flags are
 * parsed with node's parseArgs and the command runs through the same executeCommand as every
 * command. Anything unusual (help, unknown or ambiguous flags) returns undefined and the full CLI,
 * with commander's parsing and messages, takes over. Its first git reads were already started by
 * rollback-prestart.ts, loaded before this file.
 */
import { createContext, processStreams } from './core/context.js';
import { executeCommand } from './core/run-command.js';
import { parseRollbackArgs } from './rollback-args.js';

export async function tryRollbackFastPath(argv: string[]): Promise<number | undefined> {
  const values = parseRollbackArgs(argv);
  if (!values) return undefined;
  // Real streams, not chat append's bare fd writers: the test command's output is piped into stderr.
  const ctx = createContext(values, processStreams());
  return executeCommand(ctx, 'rollback', async () => (await import('./commands/rollback.js')).rollbackCommand, {
    args: [],
    opts: {
      to: values.to,
      yes: values.yes,
      // commander's --no-test: `test` is false when given, true otherwise.
      test: !values['no-test'],
      testCmd: values['test-cmd'],
      summaryFile: values['summary-file'],
    },
  });
}
