/**
 * `vpm chat append` runs on every agent turn, so it skips the command tree: its flags are parsed
 * with node's built-in parseArgs and it runs through the same executeCommand as every command.
 * Anything unusual (help, unknown flags, other commands) returns undefined and the full CLI,
 * with commander's parsing and messages, takes over.
 */
import { createContext, fdStreams } from './core/context.js';
import { parseHotPathArgs } from './core/hot-path-args.js';
import { executeCommand } from './core/run-command.js';
import { CHAT_ROLES } from './memory/chat-log.js';

export async function tryFastPath(argv: string[]): Promise<number | undefined> {
  const values = parseHotPathArgs(argv, ['chat', 'append'], {
    role: { type: 'string', default: 'user' },
    session: { type: 'string' },
    text: { type: 'string' },
    meta: { type: 'string' },
  });
  if (!values) return undefined;
  if (!(CHAT_ROLES as readonly string[]).includes(values.role)) return undefined; // commander words this error
  const ctx = createContext(values, fdStreams());
  return executeCommand(ctx, 'chat append', async () => (await import('./commands/chat-append.js')).chatAppendCommand, {
    args: [],
    opts: values,
  });
}
