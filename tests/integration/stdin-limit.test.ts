/**
 * A huge stdin is refused while it is read, not after: `vpm chat append` stops at the 1 MiB line
 * limit, so piping 300 MB into it costs a few MB of memory, exits 2 with a clear message and appends
 * nothing. The input is generated as a stream (one reused 1 MiB buffer), never held by the test.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { tempDir, VPM_BIN } from '../helpers/cli.ts';

const MiB = 1024 * 1024;
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/**
 * The larger of `VmHWM` (peak resident set) and `VmRSS` of a live process, in bytes; undefined once
 * it is gone or a zombie (whose status has no Vm* lines).
 */
function memoryOf(pid: number): number | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1]) * 1024;
    const value = Math.max(kb('VmHWM'), kb('VmRSS'));
    return Number.isFinite(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

describe.runIf(process.platform === 'linux')('stdin size limit', () => {
  it('refuses 300 MB piped into chat append after reading at most the limit: peak RSS < 100 MB, exit 2, nothing appended', async () => {
    const dir = tempDir('vpm-stdin-');
    dirs.push(dir);
    const total = 300 * MiB;
    const block = Buffer.alloc(MiB, 'a');
    let produced = 0;
    const source = Readable.from(
      (function* () {
        while (produced < total) {
          produced += block.length;
          yield block;
        }
      })(),
      { objectMode: false },
    );

    const child = execa(process.execPath, [VPM_BIN, '--cwd', dir, 'chat', 'append', '--role', 'user'], {
      cwd: dir,
      env: { VPM_SESSION: undefined, GITHUB_TOKEN: undefined },
      stdin: 'pipe',
      reject: false,
      timeout: 120_000,
    });
    const pid = child.pid!;
    let peak = 0;
    const sample = () => {
      const m = memoryOf(pid);
      if (m !== undefined) peak = Math.max(peak, m);
    };
    const poll = setInterval(sample, 5);
    // vpm closes its end early, so the writer is expected to fail with EPIPE (or be destroyed).
    const writing = pipeline(source, child.stdin!).then(
      () => 'finished',
      (err: NodeJS.ErrnoException) => err.code ?? err.message,
    );
    const result = await child;
    clearInterval(poll);
    const writerOutcome = await writing;

    expect(peak, 'no memory sample was taken while vpm ran').toBeGreaterThan(0);
    expect(peak).toBeLessThan(100 * MiB);
    expect(result.exitCode, String(result.stderr)).toBe(2);
    expect(result.stderr).toContain('the chat text on stdin is larger than 1 MiB');
    expect(result.stderr).toContain('nothing was appended');
    expect(result.stderr).not.toMatch(/\n\s+at /); // no stack trace
    // vpm stopped reading: the generator was asked for far less than the 300 MB.
    expect(writerOutcome).not.toBe('finished');
    expect(produced).toBeLessThan(64 * MiB);
    const chatFiles = existsSync(join(dir, 'logs'))
      ? readdirSync(join(dir, 'logs')).filter((f) => /^\d{4}-\d{2}-\d{2}\.jsonl$/.test(f))
      : [];
    expect(chatFiles).toEqual([]);
    console.log(
      `stdin-limit: peak RSS ${(peak / MiB).toFixed(1)} MiB; ${(produced / MiB).toFixed(0)} MiB generated before vpm closed stdin (${writerOutcome})`,
    );
  }, 180_000);

  it('still appends text just under the limit read from stdin', async () => {
    const dir = tempDir('vpm-stdin-');
    dirs.push(dir);
    const text = 'b'.repeat(MiB - 4096);
    const result = await execa(process.execPath, [VPM_BIN, '--cwd', dir, '--json', 'chat', 'append'], {
      cwd: dir,
      env: { VPM_SESSION: undefined, GITHUB_TOKEN: undefined },
      input: `${text}\n`,
      reject: false,
    });
    expect(result.exitCode, String(result.stderr)).toBe(0);
    const file = JSON.parse(String(result.stdout)).file as string;
    const line = JSON.parse(readFileSync(join(dir, file), 'utf8').trim());
    expect(line.text).toBe(text);
  }, 60_000);
});
