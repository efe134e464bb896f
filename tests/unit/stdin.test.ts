import { describe, expect, it } from 'vitest';
import { PassThrough, Readable } from 'node:stream';
import { ExitCode, UsageError } from '../../src/core/errors.js';
import { formatByteLimit, readStdinText } from '../../src/core/stdin.js';

describe('readStdinText', () => {
  it('returns the whole text when it is within the limit, multi-byte characters split across chunks included', async () => {
    const bytes = Buffer.from('héllo — 日本語\n', 'utf8');
    const chunks = [bytes.subarray(0, 2), bytes.subarray(2, 9), bytes.subarray(9)];
    const text = await readStdinText(Readable.from(chunks), { limitBytes: bytes.length, what: 'the text on stdin' });
    expect(text).toBe('héllo — 日本語\n');
  });

  it('throws a usage error one byte past the limit, naming the input and the limit', async () => {
    const err = await readStdinText(Readable.from([Buffer.alloc(1024, 'x'), Buffer.from('y')]), {
      limitBytes: 1024,
      what: 'the chat text on stdin',
      outcome: 'nothing was appended',
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UsageError);
    expect((err as UsageError).exitCode).toBe(ExitCode.usage);
    expect((err as UsageError).message).toBe('the chat text on stdin is larger than 1 KiB; nothing was appended');
  });

  it('stops reading at the limit: the stream is destroyed and the rest is never pulled', async () => {
    let pulled = 0;
    const source = new Readable({
      highWaterMark: 16 * 1024,
      read() {
        pulled += 16 * 1024;
        this.push(Buffer.alloc(16 * 1024, 'z'));
      },
    });
    await expect(readStdinText(source, { limitBytes: 64 * 1024, what: 'stdin' })).rejects.toThrow(/larger than 64 KiB/);
    expect(source.destroyed).toBe(true);
    expect(pulled).toBeLessThan(256 * 1024); // an endless source: reading everything would never end
  });

  it('reports a failing stream as an operational error', async () => {
    const s = new PassThrough();
    setImmediate(() => s.destroy(new Error('EIO: i/o error, read')));
    const err = await readStdinText(s, { limitBytes: 10, what: 'the text on stdin' }).catch((e: unknown) => e);
    expect((err as UsageError).exitCode).toBe(ExitCode.failure);
    expect((err as Error).message).toBe('could not read the text on stdin: EIO: i/o error, read');
  });

  it('formats limits the way the spec words them', () => {
    expect(formatByteLimit(1024 * 1024)).toBe('1 MiB');
    expect(formatByteLimit(65_536)).toBe('64 KiB');
    expect(formatByteLimit(1000)).toBe('1000 bytes');
  });
});
