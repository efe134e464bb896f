/**
 * The full command line: a commander tree generated from the command specs (src/commands/), with
 * the global options, help with examples, and the one error → exit code path (execute.ts). Parse
 * errors (unknown command or option, missing argument) are usage errors, exit 2, and with --json
 * they are the same `{ok:false,error}` document as any other error.
 */
import { Argument, Command, CommanderError, Option } from 'commander';
import { processStreams, type IOStreams } from '../core/context.js';
import { maskingIo } from '../core/secrets.js';
import { EXIT_CODES, EXIT_CODES_HELP, ExitCode, UsageError } from '../core/errors.js';
import { VERSION } from '../version.js';
import { COMMANDS, GROUPS } from '../commands/index.js';
import { executeSpec, exitCodeFor, renderError } from './execute.js';
import { type AnyCommandSpec, type FlagDecl, type FlagDecls, GLOBAL_FLAGS, flagDefault, flagLongName } from './spec.js';

function toOption(key: string, decl: FlagDecl): Option {
  const long = `--${flagLongName(key, decl)}`;
  const flags = `${decl.short ? `-${decl.short}, ` : ''}${long}${decl.type === 'string' ? ` ${decl.placeholder ?? '<value>'}` : ''}`;
  const option = new Option(flags, decl.description);
  if (decl.choices) option.choices(decl.choices);
  if (decl.type === 'string' && decl.default !== undefined) option.default(decl.default);
  if (decl.required) option.makeOptionMandatory(true);
  return option;
}

/** The help section every command has: what to type, and what it does. */
function examplesHelp(spec: AnyCommandSpec): string {
  const width = Math.max(...spec.examples.map((e) => e.command.length));
  return `\nExamples:\n${spec.examples.map((e) => `  $ ${e.command.padEnd(width)}  # ${e.description}`).join('\n')}\n`;
}

/** Each leaf's examples, for the JSON form of its help. */
const EXAMPLES = new WeakMap<Command, AnyCommandSpec['examples']>();

/** What `--help` prints for `cmd`, as one JSON document (help asked for with --json). */
function helpDocument(cmd: Command): Record<string, unknown> {
  const help = cmd.createHelp();
  return {
    usage: help.commandUsage(cmd),
    description: help.commandDescription(cmd),
    arguments: help
      .visibleArguments(cmd)
      .map((a) => ({ name: a.name(), required: a.required, variadic: a.variadic, description: a.description })),
    options: help.visibleOptions(cmd).map((o) => ({
      flags: o.flags,
      description: o.description,
      ...(o.defaultValue !== undefined ? { default: o.defaultValue } : {}),
      ...(o.argChoices ? { choices: o.argChoices } : {}),
    })),
    commands: help.visibleCommands(cmd).map((c) => ({ name: c.name(), description: c.description() })),
    examples: EXAMPLES.get(cmd) ?? [],
    ...(cmd.parent ? {} : { exit_codes: EXIT_CODES }),
  };
}

const writeJson = (io: IOStreams, doc: unknown) => io.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);

/** Commander's values → the typed flag record a spec's parse takes (defaults applied, keys as declared). */
function flagValues(flags: FlagDecls, opts: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, decl] of Object.entries(flags)) out[key] = opts[key] ?? flagDefault(decl);
  return out;
}

function addLeaf(parent: Command, spec: AnyCommandSpec, io: IOStreams, env: NodeJS.ProcessEnv, state: { exitCode: number }): void {
  const name = spec.path[spec.path.length - 1];
  const existing = parent.commands.find((c) => c.name() === name);
  const cmd = existing ?? parent.command(name);
  cmd.description(spec.summary);
  for (const arg of spec.args ?? []) {
    const label = `${arg.name}${arg.variadic ? '...' : ''}`;
    const argument = new Argument(arg.required ? `<${label}>` : `[${label}]`, arg.description);
    if (arg.choices) argument.choices(arg.choices);
    cmd.addArgument(argument);
  }
  for (const [key, decl] of Object.entries(spec.flags)) cmd.addOption(toOption(key, decl));
  for (const [key, decl] of Object.entries(GLOBAL_FLAGS)) cmd.addOption(toOption(key, decl));
  cmd.addHelpText('after', `${spec.details ? `\n${spec.details.trimEnd()}\n` : ''}${examplesHelp(spec)}`);
  EXAMPLES.set(cmd, spec.examples);
  cmd.action(async (...params: unknown[]) => {
    const command = params[params.length - 1] as Command;
    const opts = command.opts();
    // Global options given before the command (`vpm --json --cwd X run`) belong to the program.
    const withGlobals = command.optsWithGlobals();
    const args = (command.processedArgs as unknown[]).flatMap((a) => (a === undefined ? [] : Array.isArray(a) ? a : [a])) as string[];
    const globals = {
      json: Boolean(withGlobals.json),
      cwd: withGlobals.cwd as string | undefined,
      verbose: Boolean(withGlobals.verbose),
      debug: Boolean(withGlobals.debug),
    };
    // biome-ignore lint/suspicious/noExplicitAny: the flag record is typed by each spec's declaration
    state.exitCode = await executeSpec(spec, { args, flags: flagValues(spec.flags, opts) as any }, { io, env, globals });
  });
}

function buildProgram(io: IOStreams, env: NodeJS.ProcessEnv, state: { exitCode: number }): Command {
  const program = new Command('vpm')
    .description('Operations loop for AI-assisted development shipped through GitOps to Knative')
    .usage('[options] <command>')
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) });
  // The global options are positional: the program reads them before the command only, and every
  // leaf declares them again so `vpm state show --json` works. Left to commander's default, the
  // program scanned the whole command line, so an option value that looks like one (`--session
  // --cwd`) was taken as that option and the command silently ran in another folder.
  program.enablePositionalOptions();
  for (const [key, decl] of Object.entries(GLOBAL_FLAGS)) program.addOption(toOption(key, decl));
  // Not commander's .version(): its listener fires wherever -V appears, so an option value such as
  // `--session -Vx` printed the version and exited 0 without doing the command (see versionRequested).
  program.option('-V, --version', 'print the version (same as: vpm version)');
  program.helpCommand(false);
  program.addHelpText('after', `\n${EXIT_CODES_HELP}\nRun 'vpm help exit-codes' for details, 'vpm <command> --help' for a command.`);

  for (const spec of COMMANDS) {
    let parent = program;
    for (const word of spec.path.slice(0, -1)) {
      parent = parent.commands.find((c) => c.name() === word) ?? parent.command(word).description(GROUPS[word] ?? '');
    }
    addLeaf(parent, spec, io, env, state);
  }

  const helpCommand = program.command('help [topic...]').description('show help for a command, or a topic: exit-codes');
  for (const [key, decl] of Object.entries(GLOBAL_FLAGS)) helpCommand.addOption(toOption(key, decl));
  helpCommand.action((topic: string[], _opts: unknown, command: Command) => {
    const json = Boolean(command.optsWithGlobals().json);
    if (topic[0] === 'exit-codes') {
      if (json) writeJson(io, { exit_codes: EXIT_CODES });
      else io.stdout.write(EXIT_CODES_HELP);
      return;
    }
    let target: Command = program;
    for (const word of topic) {
      const next = target.commands.find((c) => c.name() === word);
      if (!next) throw new UsageError(`unknown help topic '${topic.join(' ')}'`, { hint: "run 'vpm --help' for the commands" });
      target = next;
    }
    if (json) writeJson(io, helpDocument(target));
    else target.outputHelp();
  });
  return program;
}

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

/** --json anywhere before a `--` separator: parse errors must answer in JSON too. */
function jsonRequested(argv: string[]): boolean {
  const end = argv.indexOf('--');
  return (end === -1 ? argv : argv.slice(0, end)).includes('--json');
}

/**
 * The command whose help `vpm … --help --json` (or a bare `vpm --json`) asks for: the command words
 * before the first argument. Undefined when no help is asked for.
 */
function helpTarget(program: Command, argv: string[]): Command | undefined {
  const end = argv.indexOf('--');
  const words = end === -1 ? argv : argv.slice(0, end);
  const positional: string[] = [];
  for (let i = 0; i < words.length; i++) {
    if (words[i] === '--cwd') i++;
    else if (!words[i].startsWith('-')) positional.push(words[i]);
  }
  const asked = words.includes('--help') || words.includes('-h') || positional.length === 0;
  if (!asked) return undefined;
  let target = program;
  for (const word of positional) {
    const next = target.commands.find((c) => c.name() === word);
    if (!next) break;
    target = next;
  }
  return target;
}

export async function main(argv: string[], rawIo: IOStreams = processStreams(), env: NodeJS.ProcessEnv = process.env): Promise<number> {
  // Parse errors echo what was typed, a secret included: they pass the same masking sink as commands.
  const io = maskingIo(rawIo, env);
  const state = { exitCode: ExitCode.ok as number };
  const json = jsonRequested(argv);
  if (versionRequested(argv)) {
    // With --json, the same document as `vpm version --json`.
    if (json) argv = [...argv.filter((a) => a !== '-V' && a !== '--version'), 'version'];
    else {
      io.stdout.write(`${VERSION}\n`);
      return ExitCode.ok;
    }
  }
  const program = buildProgram(io, env, state);
  if (argv.length === 0) {
    program.outputHelp();
    return ExitCode.ok;
  }
  const asked = json ? helpTarget(program, argv) : undefined;
  if (asked) {
    writeJson(io, helpDocument(asked));
    return ExitCode.ok;
  }
  const debug = argv.includes('--debug') || env.VPM_DEBUG === '1';
  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return ExitCode.ok;
      // Commander printed its message on stderr already; with --json, stdout gets the error document.
      const usage = new UsageError(err.message.replace(/^error: /, ''));
      if (json) renderError({ ...io, stderr: { write: () => true } as unknown as IOStreams['stderr'] }, usage, { json, debug: false });
      return exitCodeFor({ error: usage });
    }
    renderError(io, err, { json, debug });
    return exitCodeFor({ error: err });
  }
  return state.exitCode;
}
