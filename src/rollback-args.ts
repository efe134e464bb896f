/**
 * `vpm rollback`'s command line as its hot path reads it (node's parseArgs, no commander): shared by
 * the prestart (rollback-prestart.ts) and the fast path (rollback-fast-path.ts) so both read it the
 * same way. Undefined for anything unusual — help, unknown or ambiguous flags, another command —
 * which the full CLI then handles, with commander's parsing and messages.
 */
import { parseArgs } from 'node:util';
import { GLOBAL_PARSE_ARGS_OPTIONS } from './core/context.js';

const ROLLBACK_OPTIONS = {
  to: { type: 'string' },
  yes: { type: 'boolean', short: 'y' },
  'no-test': { type: 'boolean' },
  'test-cmd': { type: 'string' },
  'summary-file': { type: 'string' },
  ...GLOBAL_PARSE_ARGS_OPTIONS,
} as const;

export type RollbackArgs = ReturnType<typeof parseArgs<{ args: string[]; allowPositionals: true; strict: true; options: typeof ROLLBACK_OPTIONS }>>['values'];

export function parseRollbackArgs(argv: string[]): RollbackArgs | undefined {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, strict: true, options: ROLLBACK_OPTIONS });
  } catch {
    return undefined;
  }
  const { positionals, values } = parsed;
  return positionals.length === 1 && positionals[0] === 'rollback' ? values : undefined;
}
