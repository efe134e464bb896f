/**
 * `vpm chat append` runs on every agent turn, so it skips the command tree: its flags are parsed
 * with node's built-in parseArgs and it runs through the same executeCommand as every command.
 * Anything unusual (help, unknown flags, other commands) returns undefined and the full CLI,
 * with commander's parsing and messages, takes over.
 */
import { parseArgs } from 'node:util';
import { createContext, fdStreams, GLOBAL_PARSE_ARGS_OPTIONS } from './core/context.js';
import { executeCommand } from './core/run-command.js';
import { CHAT_ROLES } from './memory/chat-log.js';

export async function tryFastPath(argv: string[]): Promise<number | undefined> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        role: { type: 'string', default: 'user' },
        session: { type: 'string' },
        text: { type: 'string' },
        meta: { type: 'string' },
        ...GLOBAL_PARSE_ARGS_OPTIONS,
      },
    });
  } catch {
    return undefined;
  }
  const { positionals, values } = parsed;
  if (positionals.length !== 2 || positionals[0] !== 'chat' || positionals[1] !== 'append') return undefined;
  if (!(CHAT_ROLES as readonly string[]).includes(values.role)) return undefined; // commander words this error
  const ctx = createContext(values, fdStreams());
  return executeCommand(ctx, 'chat append', async () => (await import('./commands/chat-append.js')).chatAppendCommand, {
    args: [],
    opts: values,
  });
}
