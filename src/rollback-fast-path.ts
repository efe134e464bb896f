/**
 * `vpm rollback` is run by hand and in CI the moment a test fails, on repositories of any size; its
 * cost over a plain `git reset --hard` is what vpm adds (issue 3 holds it to ≤ 1.3×), and loading
 * the command tree is a good part of that. So, like `chat append`, it skips commander: flags are
 * parsed with node's parseArgs and the command runs through the same executeCommand as every
 * command. Anything unusual (help, unknown or ambiguous flags) returns undefined and the full CLI,
 * with commander's parsing and messages, takes over.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { prestartGitProbes } from './adapters/git.js';
import { createContext, GLOBAL_PARSE_ARGS_OPTIONS, processStreams } from './core/context.js';
import { executeCommand } from './core/run-command.js';
import { locateRepoArgs } from './git/repo.js';
import { fastTargetRevParse, planProbeArgs, preflightCheckArgs, rollbackTargetSpec } from './git/rollback.js';

/**
 * The rollback's first git commands — the working-tree check (a walk over the whole tree) and the
 * repository lookup — started before anything else loads; the command then takes their results
 * (same argv, same directory). Only with --yes: without it nothing may be looked at before the
 * confirmation rules are checked. Anything odd (no such directory, no recorded target) just skips it.
 */
function prestartRollbackProbes(cwdOption: string | undefined, to: string | undefined, env: NodeJS.ProcessEnv): void {
  const cwd = resolve(cwdOption ?? env.VPM_CWD ?? process.cwd());
  if (!existsSync(cwd)) return;
  let extra: string[] | undefined;
  try {
    extra = fastTargetRevParse(rollbackTargetSpec(cwd, to));
  } catch {
    return;
  }
  // The plan's reads too, when the target is the recorded checkpoint (a full hash, as vpm writes it).
  const recorded = extra?.[0]?.replace(/\^\{commit\}$/, '');
  const plan = recorded && /^[0-9a-f]{40}$/.test(recorded) ? planProbeArgs(recorded) : [];
  prestartGitProbes(cwd, env, [...preflightCheckArgs(), locateRepoArgs(extra), ...plan]);
}

export async function tryRollbackFastPath(argv: string[]): Promise<number | undefined> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        to: { type: 'string' },
        yes: { type: 'boolean', short: 'y' },
        'no-test': { type: 'boolean' },
        'test-cmd': { type: 'string' },
        'summary-file': { type: 'string' },
        ...GLOBAL_PARSE_ARGS_OPTIONS,
      },
    });
  } catch {
    return undefined;
  }
  const { positionals, values } = parsed;
  if (positionals.length !== 1 || positionals[0] !== 'rollback') return undefined;
  if (values.yes) prestartRollbackProbes(values.cwd, values.to, process.env);
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
