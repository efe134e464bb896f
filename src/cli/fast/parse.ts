/**
 * Command lines as the start-up fast paths read them, configured from the same command spec as the
 * commander tree, instead of loading commander and every spec. Strict, and narrower than commander:
 * anything a fast path is not sure of — help, an unknown, ambiguous or repeated flag, a bad choice,
 * other words, `--`, grouped short flags — gives undefined, and the full CLI then handles it with
 * its own parsing and messages.
 *
 * A small scanner rather than node's util.parseArgs: the forms accepted here are few (`--name`,
 * `--name value`, `--name=value`, `-x`, `-x value`, words), and parseArgs's generality cost about a
 * millisecond of `vpm chat append`'s start-up. tests/unit/fast-parse.test.ts checks that whatever is
 * accepted here, parseArgs (strict) accepts too, with the same values.
 */
import {
  type AnyCommandSpec,
  type FlagDecl,
  type FlagDecls,
  GLOBAL_FLAGS,
  type GlobalFlags,
  type ParsedInput,
  flagDefault,
  flagLongName,
} from '../spec.js';

export interface FastInput {
  globals: GlobalFlags;
  input: ParsedInput<FlagDecls>;
}

interface Option {
  /** The long name, `--<name>`, as parseArgs reports it. */
  name: string;
  decl: FlagDecl;
}

function optionTable(flagSets: FlagDecls[]): { long: Map<string, Option>; short: Map<string, Option> } {
  const long = new Map<string, Option>();
  const short = new Map<string, Option>();
  for (const flags of flagSets) {
    for (const [key, decl] of Object.entries(flags)) {
      const option = { name: flagLongName(key, decl), decl };
      long.set(option.name, option);
      if (decl.short) short.set(decl.short, option);
    }
  }
  return { long, short };
}

/** A value that reads as an option (`-x`, `--x`): parseArgs refuses it after a string flag, as ambiguous. */
const optionLike = (value: string) => value.length > 1 && value[0] === '-';

/** Option values by long name and the positional words; undefined for anything outside the accepted forms. */
function scan(spec: AnyCommandSpec, argv: string[]): { values: Map<string, string | boolean>; positionals: string[] } | undefined {
  const { long, short } = optionTable([spec.flags, GLOBAL_FLAGS]);
  const values = new Map<string, string | boolean>();
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg.length < 2 || arg[0] !== '-') {
      positionals.push(arg);
      continue;
    }
    let option: Option | undefined;
    let inline: string | undefined;
    if (arg[1] === '-') {
      const eq = arg.indexOf('=');
      option = long.get(eq === -1 ? arg.slice(2) : arg.slice(2, eq));
      if (eq !== -1) inline = arg.slice(eq + 1);
    } else if (arg.length === 2) {
      option = short.get(arg[1]!);
    }
    // Unknown, `--`, `-abc` — and a flag given twice: commander takes the last, but leave it to commander.
    if (!option || values.has(option.name)) return undefined;
    if (option.decl.type === 'boolean') {
      if (inline !== undefined) return undefined;
      values.set(option.name, true);
      continue;
    }
    if (inline === undefined) {
      const next = argv[i + 1];
      if (next === undefined || optionLike(next)) return undefined;
      inline = next;
      i++;
    }
    values.set(option.name, inline);
  }
  return { values, positionals };
}

/** The spec's typed input when `argv` is exactly its words plus flags it declares; else undefined. */
export function parseFast(spec: AnyCommandSpec, argv: string[]): FastInput | undefined {
  const scanned = scan(spec, argv);
  if (!scanned) return undefined;
  const { positionals, values } = scanned;
  const words = spec.path.length;
  if (positionals.length < words || !spec.path.every((w, i) => positionals[i] === w)) return undefined;
  const args = positionals.slice(words);
  const declared = spec.args ?? [];
  const variadic = declared.some((a) => a.variadic);
  if (args.length > declared.length && !variadic) return undefined;
  if (args.length < declared.filter((a) => a.required).length) return undefined;
  const flags: Record<string, unknown> = {};
  for (const [key, decl] of Object.entries(spec.flags)) {
    const given = values.get(flagLongName(key, decl));
    if (decl.negatable) flags[key] = given === undefined;
    else flags[key] = given ?? flagDefault(decl);
    if (decl.choices && flags[key] !== undefined && !decl.choices.includes(flags[key] as string)) return undefined;
    if (decl.required && flags[key] === undefined) return undefined;
  }
  return {
    globals: {
      json: values.get('json') === true,
      cwd: values.get('cwd') as string | undefined,
      verbose: values.get('verbose') === true,
      debug: values.get('debug') === true,
    },
    input: { args, flags: flags as ParsedInput<FlagDecls>['flags'] },
  };
}
