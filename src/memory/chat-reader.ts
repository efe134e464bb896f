/**
 * Reads chat entries after a cursor. Only the bytes after the cursor are read, so the cost of a
 * summary depends on the new entries, not on the size of the history.
 */
import { openSync, readSync, closeSync, fstatSync } from 'node:fs';
import { join } from 'node:path';
import { ChatEntrySchema } from '../schemas/chat.js';
import type { ChatEntry } from './chat-log.js';
import { listChatFiles } from './chat-log.js';

export { listChatFiles };
import type { MemoryCursor } from '../schemas/memory.js';

export interface InvalidChatLine {
  file: string;
  offset: number;
  reason: string;
}

export interface ChatReadResult {
  entries: ChatEntry[];
  invalid: InvalidChatLine[];
  cursor: MemoryCursor | null;
}

function readFrom(path: string, offset: number): Buffer {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    if (size <= offset) return Buffer.alloc(0);
    const buf = Buffer.allocUnsafe(size - offset);
    let read = 0;
    while (read < buf.length) {
      const n = readSync(fd, buf, read, buf.length - read, offset + read);
      if (n === 0) break;
      read += n;
    }
    return buf.subarray(0, read);
  } finally {
    closeSync(fd);
  }
}

/** Parses complete lines of a chunk; a trailing line without newline is left for the next read. */
function parseLines(file: string, base: number, chunk: Buffer, out: ChatReadResult): number {
  let start = 0;
  for (;;) {
    const nl = chunk.indexOf(0x0a, start);
    if (nl === -1) break;
    const line = chunk.subarray(start, nl).toString('utf8').trim();
    if (line !== '') {
      try {
        const parsed = ChatEntrySchema.safeParse(JSON.parse(line));
        if (parsed.success) out.entries.push(parsed.data as ChatEntry);
        else out.invalid.push({ file, offset: base + start, reason: parsed.error.issues[0]?.message ?? 'schema mismatch' });
      } catch (err) {
        out.invalid.push({ file, offset: base + start, reason: (err as Error).message });
      }
    }
    start = nl + 1;
  }
  return base + start;
}

export function readChatSince(cwd: string, cursor: MemoryCursor | null): ChatReadResult {
  const out: ChatReadResult = { entries: [], invalid: [], cursor };
  for (const file of listChatFiles(cwd)) {
    if (cursor && file < cursor.file) continue;
    const base = cursor && file === cursor.file ? cursor.offset : 0;
    const end = parseLines(file, base, readFrom(join(cwd, 'logs', file), base), out);
    const lastId = out.entries[out.entries.length - 1]?.id ?? out.cursor?.last_id;
    out.cursor = { file, offset: end, ...(lastId ? { last_id: lastId } : {}) };
  }
  return out;
}

/** Every entry of one day's file (digest input). */
export function readChatDay(cwd: string, date: string): ChatReadResult {
  const out: ChatReadResult = { entries: [], invalid: [], cursor: null };
  try {
    parseLines(`${date}.jsonl`, 0, readFrom(join(cwd, 'logs', `${date}.jsonl`), 0), out);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  return out;
}
