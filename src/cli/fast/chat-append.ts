/**
 * `vpm chat append` runs on every agent turn, so its start-up is kept to what it needs: this file is
 * bundled on its own (scripts/bundle-hot-path.mjs) with the command's spec and code, and run
 * without commander or the other specs. Anything unusual returns undefined and the full CLI takes over.
 */
import { fdStreams } from '../../core/context.js';
import { chatAppend } from '../../commands/memory/chat-append.js';
import { executeSpec } from '../execute.js';
import { parseFast } from './parse.js';

export async function runFast(argv: string[]): Promise<number | undefined> {
  const parsed = parseFast(chatAppend, argv);
  if (!parsed) return undefined;
  return executeSpec(chatAppend, parsed.input, { io: fdStreams(), env: process.env, globals: parsed.globals, directRequestLog: true });
}
