/**
 * Reading text piped on stdin with a size limit that holds while reading: chunks are counted as
 * they arrive and the stream is destroyed as soon as the total passes the limit, so a 300 MB pipe
 * costs at most the limit plus one chunk of memory, never the whole input. Used on the chat-append
 * hot path, so it imports nothing heavy.
 */
import type { Readable } from 'node:stream';
import { OperationalError, UsageError } from './errors.js';

export interface StdinLimit {
  /** Most bytes accepted; one byte more is a usage error. */
  limitBytes: number;
  /** What the text is, for the message: e.g. "the chat text on stdin". */
  what: string;
  /** What this means for the command, after "…is larger than N; ": default "vpm stopped reading it". */
  outcome?: string;
  /** What to do instead, when the input is too large. */
  hint?: string;
}

/** 1048576 → "1 MiB", 65536 → "64 KiB", 1000 → "1000 bytes". */
export function formatByteLimit(bytes: number): string {
  if (bytes >= 1024 * 1024 && bytes % (1024 * 1024) === 0) return `${bytes / (1024 * 1024)} MiB`;
  if (bytes >= 1024 && bytes % 1024 === 0) return `${bytes / 1024} KiB`;
  return `${bytes} bytes`;
}

/**
 * Reads the whole stream as UTF-8 text, or throws a UsageError (exit 2) once it passes
 * `limitBytes`, without reading the rest: the stream is destroyed, so the writer on the other end
 * of a pipe gets EPIPE instead of vpm draining it.
 */
export async function readStdinBytes(stream: Readable, limit: StdinLimit): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    for await (const chunk of stream) {
      const buf = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : (chunk as Buffer);
      total += buf.length;
      if (total > limit.limitBytes) {
        chunks.length = 0;
        stream.destroy();
        throw new UsageError(
          `${limit.what} is larger than ${formatByteLimit(limit.limitBytes)}; ${limit.outcome ?? 'vpm stopped reading it'}`,
          {
            hint: limit.hint ?? 'pass a smaller input, or store it as a file and reference its path',
            details: { limit_bytes: limit.limitBytes, read_bytes: total },
          },
        );
      }
      chunks.push(buf);
    }
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new OperationalError(`could not read ${limit.what}: ${(err as Error).message}`, {
      hint: 'check the command that pipes into vpm',
      cause: err,
    });
  }
  return Buffer.concat(chunks, total);
}

/** readStdinBytes decoded as UTF-8 (invalid bytes replaced; see core/utf8.ts to refuse them instead). */
export async function readStdinText(stream: Readable, limit: StdinLimit): Promise<string> {
  return (await readStdinBytes(stream, limit)).toString('utf8');
}
