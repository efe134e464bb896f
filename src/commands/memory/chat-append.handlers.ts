import type { CommandHandler } from '../../core/command.js';
import type { Ctx } from '../../core/context.js';
import { UsageError } from '../../core/errors.js';
import { appendChatEntry, readChatText } from '../../memory/chat-log.js';
import type { FlagsOf } from '../../cli/spec.js';
import type { chatAppend } from './chat-append.js';

type ChatAppendOptions = FlagsOf<typeof chatAppend>;

async function readStdin(ctx: Ctx, lossy = false): Promise<string> {
  if (ctx.io.stdinIsTTY) {
    throw new UsageError('no chat text given', { hint: 'pass --text "…" or pipe the text on stdin' });
  }
  return readChatText(ctx.io.stdin, { lossy });
}

function parseMeta(meta: string | undefined): Record<string, unknown> | undefined {
  if (meta === undefined) return undefined;
  try {
    const value: unknown = JSON.parse(meta);
    if (value && typeof value === 'object' && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {
    // fall through to the usage error
  }
  throw new UsageError('--meta must be a JSON object', { hint: `e.g. --meta '{"tool":"codex"}'` });
}

export const chatAppendCommand: CommandHandler<ChatAppendOptions> = async (ctx, { opts }) => {
  const text = opts.text ?? (await readStdin(ctx, opts.lossy));
  const entry = await appendChatEntry(
    ctx.root,
    { role: opts.role, session: opts.session, text, meta: parseMeta(opts.meta) },
    ctx.now(),
    ctx.env,
  );
  return {
    data: { id: entry.id, ts: entry.ts, session: entry.session, role: entry.role, file: `logs/${entry.ts.slice(0, 10)}.jsonl` },
    human: entry.id,
  };
};
