/**
 * Strict UTF-8 decoding for text vpm stores (chat turns, STATE). Node's default decoding replaces
 * invalid bytes with U+FFFD without a word, so the stored text silently differs from what was
 * given; here invalid input is a usage error (exit 2) unless the caller opts into lossy decoding.
 */
import { isUtf8 } from 'node:buffer';
import { readFileSync } from 'node:fs';
import { UsageError } from './errors.js';
import { assertSafePath } from './fs.js';

export interface DecodeOptions {
  /** What the bytes are, for the message ("chat text on stdin", "STATE/current_state.md"). */
  what: string;
  /** Replace invalid sequences with U+FFFD instead of refusing. */
  lossy?: boolean;
  /** What to do instead, for the message's hint. */
  hint?: string;
}

/** Byte offset of the first invalid UTF-8 sequence (bytes known to be invalid). */
function firstInvalidOffset(bytes: Uint8Array): number {
  const decoded = new TextDecoder('utf-8').decode(bytes);
  // Re-encoding the lossy decode matches the input byte for byte up to the first replacement.
  const again = Buffer.from(decoded, 'utf8');
  let i = 0;
  while (i < bytes.length && i < again.length && bytes[i] === again[i]) i++;
  return i;
}

export function decodeUtf8(bytes: Uint8Array, opts: DecodeOptions): string {
  if (opts.lossy || isUtf8(bytes)) return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
  throw new UsageError(`${opts.what} is not valid UTF-8 (first invalid byte at offset ${firstInvalidOffset(bytes)}); nothing was written`, {
    hint: opts.hint ?? 'convert the input to UTF-8 (e.g. with iconv) and run the command again',
  });
}

/**
 * A file vpm rewrites in part (STATE, AGENTS.md): undefined when absent; refused through a link out
 * of the repository (exit 3) and when its bytes are not UTF-8 (exit 2) — decoding them with
 * replacement characters would write the file back with the original bytes gone.
 */
export function readUtf8FileIfExists(path: string, what: string): string | undefined {
  assertSafePath(path, 'read');
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    (err as NodeJS.ErrnoException).path ??= path;
    throw err;
  }
  return decodeUtf8(bytes, {
    what,
    hint: `convert ${what} to UTF-8 and run the command again; vpm does not rewrite a file whose bytes it cannot keep`,
  });
}

/** `text` (written with \n) in the line endings `before` mostly uses: a CRLF file stays CRLF. */
export function inLineEndingsOf(text: string, before: string | undefined): string {
  if (before === undefined) return text;
  const crlf = (before.match(/\r\n/g) ?? []).length;
  const lf = (before.match(/\n/g) ?? []).length;
  return crlf > 0 && crlf * 2 >= lf ? text.replace(/\n/g, '\r\n') : text;
}
