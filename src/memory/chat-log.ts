/**
 * The chat log: one JSON line per turn in `logs/<YYYY-MM-DD>.jsonl`. Appending is the hot path
 * (run on every agent turn), so this module avoids heavy imports: entries are built and checked by
 * hand here; the zod schema in schemas/chat.ts validates them when they are read back.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { appendLines } from '../core/fs.js';
import { UsageError } from '../core/errors.js';
import { makeId, utcDate } from '../core/ids.js';
import { maskDeep, maskSecrets } from '../core/secrets.js';
import { readStdinBytes } from '../core/stdin.js';
import { decodeUtf8 } from '../core/utf8.js';

const CHAT_ROLES = ['user', 'assistant', 'system', 'tool'] as const;
type ChatRole = (typeof CHAT_ROLES)[number];
const MAX_LINE_BYTES = 1024 * 1024;
const CHAT_FILE_RE = /^\d{4}-\d{2}-\d{2}\.jsonl$/;

export interface ChatEntry {
  v: 1;
  id: string;
  ts: string;
  session: string;
  role: ChatRole;
  text: string;
  meta?: Record<string, unknown>;
}

export interface AppendChatInput {
  role: string;
  text: string;
  session?: string;
  meta?: Record<string, unknown>;
}

function chatLogPath(cwd: string, date: string): string {
  return join(cwd, 'logs', `${date}.jsonl`);
}

/**
 * The chat text piped on stdin, one trailing newline dropped. Text over the line limit could never
 * be stored, so reading stops there: a huge pipe is refused without being held in memory. Invalid
 * UTF-8 is refused (exit 2) unless `lossy`.
 */
export async function readChatText(stdin: Readable, opts: { lossy?: boolean } = {}): Promise<string> {
  const bytes = await readStdinBytes(stdin, {
    limitBytes: MAX_LINE_BYTES,
    what: 'the chat text on stdin',
    outcome: 'a chat line holds at most 1 MiB, so nothing was appended',
    hint: 'split the text into several turns, or store it as a file and append its path',
  });
  const hint = 'convert the text to UTF-8 (e.g. iconv -f latin1 -t utf-8), or pass --lossy to store it with invalid bytes replaced';
  return decodeUtf8(bytes, { what: 'chat text on stdin', lossy: opts.lossy ?? false, hint }).replace(/\r?\n$/, '');
}

function buildChatEntry(input: AppendChatInput, now: Date, env: NodeJS.ProcessEnv): ChatEntry {
  if (!(CHAT_ROLES as readonly string[]).includes(input.role)) {
    throw new UsageError(`unknown role '${input.role}'`, { hint: `use one of: ${CHAT_ROLES.join(', ')}` });
  }
  if (input.text.trim() === '') {
    throw new UsageError('chat text is empty', { hint: 'pass --text "…" or pipe the text on stdin' });
  }
  const session = (input.session ?? env.VPM_SESSION ?? utcDate(now)).trim();
  if (!/^[\w.:-]{1,128}$/.test(session)) {
    throw new UsageError(`invalid session id '${session.slice(0, 40)}'`, {
      hint: 'a session id is 1-128 letters, digits, dots, colons, dashes or underscores',
    });
  }
  const entry: ChatEntry = {
    v: 1,
    id: makeId('chat', now),
    ts: now.toISOString(),
    session,
    role: input.role as ChatRole,
    text: maskSecrets(input.text, env),
  };
  if (input.meta !== undefined) entry.meta = maskDeep(input.meta, env);
  return entry;
}

/** Appends one entry under the day file's lock: concurrent appenders never lose or interleave lines. */
export async function appendChatEntry(cwd: string, input: AppendChatInput, now: Date, env: NodeJS.ProcessEnv): Promise<ChatEntry> {
  const entry = buildChatEntry(input, now, env);
  const line = `${JSON.stringify(entry)}\n`;
  const bytes = Buffer.byteLength(line);
  if (bytes > MAX_LINE_BYTES) {
    throw new UsageError(`chat entry is ${bytes} bytes; the limit is ${MAX_LINE_BYTES} bytes (1 MiB) per line`, {
      hint: 'split the text into several turns or store it as a file and reference its path',
    });
  }
  const path = chatLogPath(cwd, entry.ts.slice(0, 10));
  await appendLines(path, line, { what: `chat log ${entry.ts.slice(0, 10)}.jsonl` });
  return entry;
}

/** A turn for {@link appendChatEntries}: an id chosen by the caller (stable, for dedupe) and the rest as for one append. */
export interface AppendChatBatchInput extends AppendChatInput {
  id: string;
}

/**
 * Appends many entries with one write under the day file's lock — the same checks and masking as
 * {@link appendChatEntry}, for callers that bring their own stable ids (`vpm chat import`). An entry
 * over the line limit is not written: it is returned in `tooLong` so the caller can report it.
 */
export async function appendChatEntries(
  cwd: string,
  inputs: readonly AppendChatBatchInput[],
  now: Date,
  env: NodeJS.ProcessEnv,
): Promise<{ written: ChatEntry[]; tooLong: AppendChatBatchInput[]; file: string }> {
  const written: ChatEntry[] = [];
  const tooLong: AppendChatBatchInput[] = [];
  const lines: string[] = [];
  for (const input of inputs) {
    const entry = { ...buildChatEntry(input, now, env), id: input.id };
    const line = `${JSON.stringify(entry)}\n`;
    if (Buffer.byteLength(line) > MAX_LINE_BYTES) {
      tooLong.push(input);
      continue;
    }
    written.push(entry);
    lines.push(line);
  }
  const date = utcDate(now);
  const path = chatLogPath(cwd, date);
  if (lines.length > 0) {
    await appendLines(path, lines.join(''), { what: `chat log ${date}.jsonl` });
  }
  return { written, tooLong, file: `${date}.jsonl` };
}

/** The chat day files under logs/, oldest first (here rather than in chat-reader.ts: no schema to load). */
export function listChatFiles(cwd: string): string[] {
  try {
    return readdirSync(join(cwd, 'logs'))
      .filter((f) => CHAT_FILE_RE.test(f))
      .sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}
