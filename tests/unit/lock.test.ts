import { describe, expect, it } from 'vitest';
import { mkdirSync, readFileSync, rmSync, utimesSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir, hostname } from 'node:os';
import { mkdtempSync } from 'node:fs';
import { appendLines, withLock } from '../../src/core/fs.js';

const dir = () => mkdtempSync(join(tmpdir(), 'vpm-lock-'));

describe('withLock', () => {
  it('reclaims at once a lock whose owner process is dead', async () => {
    const d = dir();
    const file = join(d, 'memory.json');
    mkdirSync(`${file}.lock`);
    writeFileSync(`${file}.lock.owner`, JSON.stringify({ pid: 2 ** 22 + 12345, host: hostname() }));
    const t0 = Date.now();
    expect(await withLock(file, () => 'ran', { waitMs: 2_000 })).toBe('ran');
    expect(Date.now() - t0).toBeLessThan(2_000);
    expect(existsSync(`${file}.lock`)).toBe(false);
  });

  it('reclaims an ownerless lock left by a holder killed between mkdir and writing its owner file', async () => {
    const d = dir();
    const file = join(d, 'memory.json');
    mkdirSync(`${file}.lock`);
    const old = (Date.now() - 30_000) / 1000;
    utimesSync(`${file}.lock`, old, old);
    expect(await withLock(file, () => 'ran', { waitMs: 2_000 })).toBe('ran');
  });

  it('waits for a live holder and fails clearly after the wait', async () => {
    const d = dir();
    const file = join(d, 'memory.json');
    let release!: () => void;
    const held = withLock(file, () => new Promise<void>((r) => (release = r)));
    await new Promise((r) => setTimeout(r, 50));
    await expect(withLock(file, () => 'second', { waitMs: 300, what: 'memory.json' })).rejects.toThrow(
      /memory\.json is locked by another vpm process/,
    );
    release();
    await held;
    expect(await withLock(file, () => 'third', { waitMs: 1_000 })).toBe('third');
  });
});

describe('appendLines (the lock file of line files such as the chat log)', () => {
  const setUp = () => {
    const file = join(dir(), 'logs', '2026-01-01.jsonl');
    mkdirSync(join(file, '..'), { recursive: true });
    return file;
  };
  const age = (path: string, ms: number) => {
    const t = (Date.now() - ms) / 1000;
    utimesSync(path, t, t);
  };

  it('appends under the lock and leaves no lock behind', async () => {
    const file = setUp();
    await appendLines(file, '{"n":1}\n');
    await appendLines(file, '{"n":2}\n');
    expect(readFileSync(file, 'utf8')).toBe('{"n":1}\n{"n":2}\n');
    expect(existsSync(`${file}.lock`)).toBe(false);
  });

  it('waits for a live holder and fails clearly after the wait, appending nothing', async () => {
    const file = setUp();
    writeFileSync(`${file}.lock`, JSON.stringify({ pid: process.pid, host: hostname() }));
    await expect(appendLines(file, '{"n":1}\n', { waitMs: 300, what: 'chat log 2026-01-01.jsonl' })).rejects.toThrow(
      /chat log 2026-01-01\.jsonl is locked by another vpm process/,
    );
    expect(existsSync(file) ? readFileSync(file, 'utf8') : '').toBe('');
    // The holder's lock is untouched: only the holder removes it.
    expect(existsSync(`${file}.lock`)).toBe(true);
  });

  it('appends as soon as a waiting holder lets go', async () => {
    const file = setUp();
    writeFileSync(`${file}.lock`, JSON.stringify({ pid: process.pid, host: hostname() }));
    const waiting = appendLines(file, '{"n":1}\n', { waitMs: 10_000 });
    await new Promise((r) => setTimeout(r, 50));
    expect(existsSync(file)).toBe(false);
    rmSync(`${file}.lock`);
    await waiting;
    expect(readFileSync(file, 'utf8')).toBe('{"n":1}\n');
  });

  it('reclaims at once a lock file whose owner process is dead', async () => {
    const file = setUp();
    writeFileSync(`${file}.lock`, JSON.stringify({ pid: 2 ** 22 + 12345, host: hostname() }));
    const t0 = Date.now();
    await appendLines(file, '{"n":1}\n', { waitMs: 2_000 });
    expect(Date.now() - t0).toBeLessThan(2_000);
    expect(readFileSync(file, 'utf8')).toBe('{"n":1}\n');
    expect(existsSync(`${file}.lock`)).toBe(false);
  });

  it('reclaims an empty lock file (holder killed before naming itself) only after the grace period', async () => {
    const file = setUp();
    writeFileSync(`${file}.lock`, '');
    await expect(appendLines(file, '{"n":1}\n', { waitMs: 200 })).rejects.toThrow(/locked by another vpm process/);
    age(`${file}.lock`, 30_000);
    await appendLines(file, '{"n":1}\n', { waitMs: 2_000 });
    expect(readFileSync(file, 'utf8')).toBe('{"n":1}\n');
  });

  it("respects another host's holder for a minute, then reclaims it", async () => {
    const file = setUp();
    writeFileSync(`${file}.lock`, JSON.stringify({ pid: 1, host: `not-${hostname()}` }));
    await expect(appendLines(file, '{"n":1}\n', { waitMs: 200 })).rejects.toThrow(/locked by another vpm process/);
    age(`${file}.lock`, 120_000);
    await appendLines(file, '{"n":1}\n', { waitMs: 2_000 });
    expect(readFileSync(file, 'utf8')).toBe('{"n":1}\n');
  });

  it('reclaims a stale lock directory an earlier vpm (proper-lockfile) left behind', async () => {
    const file = setUp();
    mkdirSync(`${file}.lock`);
    age(`${file}.lock`, 30_000);
    await appendLines(file, '{"n":1}\n', { waitMs: 2_000 });
    expect(readFileSync(file, 'utf8')).toBe('{"n":1}\n');
    expect(existsSync(`${file}.lock`)).toBe(false);
  });
});
