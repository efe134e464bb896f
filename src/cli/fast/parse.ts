/**
 * Command lines as the start-up fast paths read them: node's parseArgs, configured from the same
 * command spec as the commander tree, instead of loading commander and every spec. Strict: anything
 * a fast path is not sure of — help, an unknown, ambiguous or repeated flag, a bad choice, other
 * words — gives undefined, and the full CLI then handles it with its own parsing and messages.
 */
import { type ParseArgsOptionsConfig, parseArgs } from 'node:util';
import {
  type AnyCommandSpec,
  type FlagDecls,
  GLOBAL_FLAGS,
  type GlobalFlags,
  type ParsedInput,
  flagDefault,
  flagLongName,
} from '../spec.js';

function parseArgsOptions(flags: FlagDecls): ParseArgsOptionsConfig {
  const options: ParseArgsOptionsConfig = {};
  for (const [key, decl] of Object.entries(flags)) {
    options[flagLongName(key, decl)] = { type: decl.type, ...(decl.short ? { short: decl.short } : {}) };
  }
  return options;
}

export interface FastInput {
  globals: GlobalFlags;
  input: ParsedInput<FlagDecls>;
}

/** The spec's typed input when `argv` is exactly its words plus flags it declares; else undefined. */
export function parseFast(spec: AnyCommandSpec, argv: string[]): FastInput | undefined {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      tokens: true,
      options: { ...parseArgsOptions(spec.flags), ...parseArgsOptions(GLOBAL_FLAGS) },
    });
  } catch {
    return undefined;
  }
  const { positionals, values, tokens } = parsed;
  // commander takes the last of a repeated flag; parseArgs too, but say nothing clever: let commander decide.
  const names = tokens.filter((t) => t.kind === 'option').map((t) => t.name);
  if (new Set(names).size !== names.length) return undefined;
  const words = spec.path.length;
  if (positionals.length < words || !spec.path.every((w, i) => positionals[i] === w)) return undefined;
  const args = positionals.slice(words);
  const declared = spec.args ?? [];
  const variadic = declared.some((a) => a.variadic);
  if (args.length > declared.length && !variadic) return undefined;
  if (args.length < declared.filter((a) => a.required).length) return undefined;
  const flags: Record<string, unknown> = {};
  for (const [key, decl] of Object.entries(spec.flags)) {
    const given = values[flagLongName(key, decl)];
    if (decl.negatable) flags[key] = given === undefined;
    else flags[key] = given ?? flagDefault(decl);
    if (decl.choices && flags[key] !== undefined && !decl.choices.includes(flags[key] as string)) return undefined;
    if (decl.required && flags[key] === undefined) return undefined;
  }
  const g = values as Record<string, unknown>;
  return {
    globals: { json: Boolean(g.json), cwd: g.cwd as string | undefined, verbose: Boolean(g.verbose), debug: Boolean(g.debug) },
    input: { args, flags: flags as ParsedInput<FlagDecls>['flags'] },
  };
}
