import type { CommandHandler } from '../core/command.js';
import type { Ctx } from '../core/context.js';
import { UsageError } from '../core/errors.js';
import { appendChatEntry } from '../memory/chat-log.js';
import { decodeUtf8 } from '../core/utf8.js';

interface ChatAppendOptions {
  role: string;
  session?: string;
  text?: string;
  meta?: string;
  lossy?: boolean;
}

async function readStdin(ctx: Ctx, lossy = false): Promise<string> {
  if (ctx.io.stdinIsTTY) {
    throw new UsageError('no chat text given', { hint: 'pass --text "…" or pipe the text on stdin' });
  }
  const chunks: Buffer[] = [];
  for await (const chunk of ctx.io.stdin) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
  const hint = 'convert the text to UTF-8 (e.g. iconv -f latin1 -t utf-8), or pass --lossy to store it with invalid bytes replaced';
  return decodeUtf8(Buffer.concat(chunks), { what: 'chat text on stdin', lossy, hint }).replace(/\r?\n$/, '');
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
    ctx.cwd,
    { role: opts.role, session: opts.session, text, meta: parseMeta(opts.meta) },
    ctx.now(),
    ctx.env,
  );
  return { data: { id: entry.id, ts: entry.ts, session: entry.session, role: entry.role, file: `logs/${entry.ts.slice(0, 10)}.jsonl` }, human: entry.id };
};
