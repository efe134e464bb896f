/**
 * `vpm rollback` is run by hand and in CI the moment a test fails, on repositories of any size; its
 * cost over a plain `git reset --hard` is what vpm adds, and loading the command tree is a good part
 * of that. So, like `chat append`, it runs from its own bundle with its spec, without commander.
 * The git reads started by rollback-prestart.ts (loaded before this bundle) are handed in explicitly.
 */
import type { PrefetchedReads } from '../../adapters/git.js';
import { processStreams } from '../../core/context.js';
import { rollback } from '../../commands/git/rollback.js';
import { executeSpec } from '../execute.js';
import { parseFast } from './parse.js';

export async function runFast(argv: string[], prefetched?: PrefetchedReads): Promise<number | undefined> {
  const parsed = parseFast(rollback, argv);
  if (!parsed) return undefined;
  // Real streams, not chat append's bare fd writers: the test command's output is piped into stderr.
  return executeSpec(rollback, parsed.input, {
    io: processStreams(),
    env: process.env,
    globals: parsed.globals,
    extraOptions: prefetched ? { prefetched } : undefined,
  });
}
