/**
 * `vpm rollback`'s command line as its hot path reads it: shared by the prestart
 * (rollback-prestart.ts) and the fast path (rollback-fast-path.ts) so both read it the same way.
 * Undefined for anything unusual, which the full CLI then handles (see parseHotPathArgs).
 */
import { parseHotPathArgs } from './core/hot-path-args.js';

export function parseRollbackArgs(argv: string[]) {
  return parseHotPathArgs(argv, ['rollback'], {
    to: { type: 'string' },
    yes: { type: 'boolean', short: 'y' },
    'no-test': { type: 'boolean' },
    'test-cmd': { type: 'string' },
    'summary-file': { type: 'string' },
  });
}
