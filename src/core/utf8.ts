/**
 * Strict UTF-8 decoding for text vpm stores (chat turns, STATE). Node's default decoding replaces
 * invalid bytes with U+FFFD without a word, so the stored text silently differs from what was
 * given; here invalid input is a usage error (exit 2) unless the caller opts into lossy decoding.
 */
import { isUtf8 } from 'node:buffer';
import { UsageError } from './errors.js';

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
