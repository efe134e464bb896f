/**
 * `vpm chat import` runs after every agent session (and in `vpm loop --import`), mostly finding
 * nothing new; that case should cost little more than Node's start-up (bench/chat-import.bench.js).
 * So, like `chat append`, it runs from its own bundle (scripts/bundle-hot-path.mjs) with its spec,
 * without commander or the other specs. Anything unusual returns undefined and the full CLI takes over.
 */
import { fdStreams } from '../../core/context.js';
import { chatImport } from '../../commands/memory/chat-import.js';
import { executeSpec } from '../execute.js';
import { parseFast } from './parse.js';

export async function runFast(argv: string[]): Promise<number | undefined> {
  const parsed = parseFast(chatImport, argv);
  if (!parsed) return undefined;
  return executeSpec(chatImport, parsed.input, { io: fdStreams(), env: process.env, globals: parsed.globals });
}
