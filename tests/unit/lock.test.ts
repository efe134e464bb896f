import { describe, expect, it } from 'vitest';
import { mkdirSync, utimesSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir, hostname } from 'node:os';
import { mkdtempSync } from 'node:fs';
import { withLock } from '../../src/core/fs.js';

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
