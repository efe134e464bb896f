/**
 * Declares the command tree, lazily imports each command's implementation, renders results and maps
 * errors to exit codes. This is the only place that decides an exit code.
 */
import { Command, CommanderError, Option } from 'commander';
import { createContext, processStreams, type IOStreams } from './core/context.js';
import { EXIT_CODES_HELP, ExitCode } from './core/errors.js';
import type { CommandHandler } from './core/command.js';
import { executeCommand, renderError } from './core/run-command.js';
import { registerMemoryCommands } from './commands/memory.cli.js';
import { registerGitCommands } from './commands/git.cli.js';
import { registerRunnerCommands } from './commands/runner.cli.js';
import { registerDeployCommands } from './commands/deploy.cli.js';
import { registerEvidenceCommands } from './commands/evidence.cli.js';
import { registerFleetCommands } from './commands/fleet.cli.js';
import { VERSION } from './version.js';

export { VERSION };

export type ActionFactory = (commandName: string, load: () => Promise<CommandHandler>) => (...params: any[]) => Promise<void>;

interface RunState {
  exitCode: number;
}

function makeActionFactory(io: IOStreams, env: NodeJS.ProcessEnv, state: RunState): ActionFactory {
  return (commandName, load) =>
    async (...params: any[]) => {
      const cmd = params[params.length - 1] as Command;
      const opts = cmd.optsWithGlobals();
      const args = (cmd.processedArgs as unknown[]).flatMap((a) => (a === undefined ? [] : Array.isArray(a) ? a : [a])) as string[];
      state.exitCode = await executeCommand(createContext(opts, io, env), commandName, load, { args, opts });
    };
}

/** The global options on every command below the program (see enablePositionalOptions in buildProgram). */
function addGlobalOptions(cmd: Command): void {
  for (const sub of cmd.commands) {
    sub
      .option('--json', 'print exactly one JSON document on stdout')
      .option('--cwd <dir>', 'repository to operate on (default: current directory)')
      .option('--verbose', 'also write structured logs to stderr')
      .option('--debug', 'show stack traces on errors (or VPM_DEBUG=1)');
    addGlobalOptions(sub);
  }
}

export function buildProgram(io: IOStreams, env: NodeJS.ProcessEnv, state: RunState): Command {
  const program = new Command('vpm')
    .description('Operations loop for AI-assisted development shipped through GitOps to Knative')
    // Not commander's .version(): its listener fires wherever -V appears, so an option value such as
    // `--session -Vx` or `--text --version` printed the version and exited 0 without doing the
    // command. main() answers -V/--version only in the command's place (see versionRequested); no
    // short flag is declared here, or commander would split a value like `-Vx` into -V and `-x`.
    .option('--version', 'output the version number (also -V)')
    .option('--json', 'print exactly one JSON document on stdout')
    .option('--cwd <dir>', 'repository to operate on (default: current directory)')
    .option('--verbose', 'also write structured logs to stderr')
    .option('--debug', 'show stack traces on errors (or VPM_DEBUG=1)')
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
    });
  // Global options are positional: the program reads them before the command only, and every leaf
  // command declares them again (below) so `vpm state show --json` works. Left to commander's
  // default, the program scanned the whole command line for them, so an option value that looks like
  // one (`--session --cwd …`) was taken as that option: the command silently ran in another folder.
  program.enablePositionalOptions();
  program.helpCommand(false);
  program.addHelpText('after', `\n${EXIT_CODES_HELP}\nRun 'vpm help exit-codes' for details, 'vpm <command> --help' for a command.`);

  const act = makeActionFactory(io, env, state);
  registerMemoryCommands(program, act);
  registerGitCommands(program, act);
  registerRunnerCommands(program, act);
  registerDeployCommands(program, act);
  registerEvidenceCommands(program, act);
  registerFleetCommands(program, act);

  addGlobalOptions(program);

  program
    .command('help [topic...]')
    .description('show help for a command, or a topic: exit-codes')
    .action((topic: string[] = []) => {
      if (topic[0] === 'exit-codes') {
        io.stdout.write(EXIT_CODES_HELP);
        return;
      }
      let target: Command = program;
      for (const name of topic) {
        const next = target.commands.find((c) => c.name() === name || c.aliases().includes(name));
        if (!next) throw new CommanderError(ExitCode.usage, 'vpm.unknownTopic', `unknown help topic '${topic.join(' ')}'`);
        target = next;
      }
      target.outputHelp();
    });
  return program;
}

export { Option };

/** `vpm [--json] [--cwd DIR] [--verbose] [--debug] -V|--version`: the version flag where a command would be. */
function versionRequested(argv: string[]): boolean {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--json' || a === '--verbose' || a === '--debug' || a.startsWith('--cwd=')) continue;
    if (a === '--cwd') {
      i++;
      continue;
    }
    return a === '-V' || a === '--version';
  }
  return false;
}

export async function main(argv: string[], io: IOStreams = processStreams(), env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const state: RunState = { exitCode: ExitCode.ok };
  if (versionRequested(argv)) {
    io.stdout.write(`${VERSION}\n`);
    return ExitCode.ok;
  }
  const program = buildProgram(io, env, state);
  if (argv.length === 0) {
    program.outputHelp();
    return ExitCode.ok;
  }
  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return ExitCode.ok;
      if (err.code === 'vpm.unknownTopic') io.stderr.write(`error: ${err.message}\n`);
      // Commander already printed its message; a parse problem is a usage error.
      return ExitCode.usage;
    }
    return renderError(undefined, io, err);
  }
  return state.exitCode;
}
