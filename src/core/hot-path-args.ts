/**
 * Command lines as the hot paths read them (src/fast-path.ts, src/rollback-args.ts): node's
 * parseArgs instead of commander's command tree, which costs more to load than those commands take
 * to run. Strict: anything a hot path does not know — help, an unknown or ambiguous flag, another
 * command — gives undefined, and the full CLI then handles it with commander's parsing and messages.
 */
import { parseArgs, type ParseArgsOptionsConfig } from 'node:util';
import { GLOBAL_PARSE_ARGS_OPTIONS } from './context.js';

/** The flag values when `argv` is exactly the words of `command` plus known flags; else undefined. */
export function parseHotPathArgs<const O extends ParseArgsOptionsConfig>(argv: string[], command: readonly string[], options: O) {
  const config = { args: argv, allowPositionals: true, strict: true, options: { ...options, ...GLOBAL_PARSE_ARGS_OPTIONS } } as const;
  let parsed;
  try {
    parsed = parseArgs(config);
  } catch {
    return undefined;
  }
  const { positionals, values } = parsed;
  const sameWords = positionals.length === command.length && positionals.every((word, i) => word === command[i]);
  return sameWords ? values : undefined;
}
