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
  let protoKey = false;
  try {
    // A "__proto__" key would not survive being copied into the entry: refuse it rather than drop it.
    const value: unknown = JSON.parse(meta, (key, v) => {
      if (key === '__proto__') protoKey = true;
      return v;
    });
    if (protoKey) throw new UsageError('--meta may not use the key "__proto__"', { hint: 'rename the key' });
    if (value && typeof value === 'object' && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch (err) {
    if (err instanceof UsageError) throw err;
    // not JSON: the usage error below
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
