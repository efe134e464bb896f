/**
 * The project's test command (config `test.command`, `--test-cmd`), run by `vpm healthcheck` and
 * after `vpm rollback`: one parser for both. It is split into argv like a shell would, without one:
 * quotes and `$VARS` (from the environment) are understood, a `#` comment ends it; operators (`&&`,
 * `|`, `;`), redirections, globs and command substitution are refused rather than run or passed on
 * as arguments — put such pipelines in an npm script, or write `sh -c '…'` so a shell is visible.
 */
import { parse } from 'shell-quote';
import { UsageError } from './errors.js';

/** `origin` names where the command came from in messages: 'test.command' or '--test-cmd'. */
export function parseTestCommand(command: string, env: NodeJS.ProcessEnv, origin = 'test.command'): string[] {
  const hint = `put it in an npm script (e.g. "test": "${command.replace(/"/g, '\\"')}") and use "npm test", or write it as sh -c '…' explicitly`;
  if (/`|\$\(/.test(command)) {
    throw new UsageError(`${origin} "${command}" needs a shell (command substitution); vpm runs test commands without a shell`, { hint });
  }
  const argv: string[] = [];
  for (const entry of parse(command, (key: string) => env[key] ?? '')) {
    if (typeof entry === 'string') {
      argv.push(entry);
      continue;
    }
    if ('comment' in entry) break;
    const shown = entry.op === 'glob' ? `glob ${(entry as { pattern: string }).pattern}` : `operator ${entry.op}`;
    throw new UsageError(`${origin} "${command}" needs a shell (${shown}); vpm runs test commands without a shell`, { hint });
  }
  if (argv.length === 0)
    throw new UsageError(`${origin} is empty`, { hint: 'set test.command in vpm.config.yaml, pass --test-cmd CMD, or --no-test' });
  return argv;
}
