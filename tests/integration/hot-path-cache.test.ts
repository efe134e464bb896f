/**
 * `vpm chat append`'s warm code cache (bin/vpm.js loadHotPath): written once to the user's cache
 * directory after a run, reused as is afterwards, replaced when it no longer fits (another build,
 * or bytes V8 turns down), never written with NODE_DISABLE_COMPILE_CACHE — and the command does the
 * same in every case: the same entry masked the same way, the same output.
 */
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir, vpm } from '../helpers/cli.ts';

const SECRET = 'ghp_abcdefghijklmnopqrstuvwxyz0123456789';

async function append(cwd: string, cacheHome: string, text: string, env: Record<string, string> = {}) {
  const r = await vpm(['chat', 'append', '--text', text], { cwd, env: { XDG_CACHE_HOME: cacheHome, ...env } });
  expect(r.exitCode, String(r.stderr)).toBe(0);
  expect(r.stderr).toBe('');
  expect(r.stdout).toMatch(/^chat_\d{8}T\d{6}Z_[0-9a-f]+$/);
  return r;
}

function lastEntry(cwd: string) {
  const day = readdirSync(join(cwd, 'logs')).find((f) => /^\d{4}-\d{2}-\d{2}\.jsonl$/.test(f))!;
  const lines = readFileSync(join(cwd, 'logs', day), 'utf8')
    .trim()
    .split('\n');
  return JSON.parse(lines.at(-1)!);
}

function cacheFiles(cacheHome: string): string[] {
  const dir = join(cacheHome, 'vpm', 'code-cache');
  return existsSync(dir) ? readdirSync(dir).map((f) => join(dir, f)) : [];
}

describe("chat append's warm code cache", () => {
  it('is written after the first run, reused unchanged, and the command behaves the same with it', async () => {
    const cwd = tempDir();
    const cacheHome = tempDir('vpm-cache-');
    await append(cwd, cacheHome, `first ${SECRET}`);
    const [file, ...others] = cacheFiles(cacheHome);
    expect(others).toEqual([]);
    expect(file).toMatch(/chat-append-[0-9a-f]+\.v8$/);
    // Keyed by the Node.js version and the bundle it was made from.
    expect(readFileSync(file!, 'utf8').split('\n')[0]).toContain(`${process.version} ${process.arch} `);
    const written = statSync(file!).mtimeMs;

    await append(cwd, cacheHome, `second ${SECRET}`);
    expect(statSync(file!).mtimeMs).toBe(written);
    expect(lastEntry(cwd).text).toBe('second ***');
    // The request log is written on the cached path too.
    const log = readFileSync(join(cwd, 'logs', 'vpm.log.jsonl'), 'utf8')
      .trim()
      .split('\n');
    expect(log).toHaveLength(2);
    expect(JSON.parse(log[1]!)).toMatchObject({ msg: 'vpm.request', command: 'chat append', ok: true, exit_code: 0 });
  });

  it('replaces a cache V8 turns down (same key, bytes of another build) and one made for another build', async () => {
    const cwd = tempDir();
    const cacheHome = tempDir('vpm-cache-');
    await append(cwd, cacheHome, 'warm up');
    const [file] = cacheFiles(cacheHome);
    const key = readFileSync(file!, 'utf8').split('\n')[0];
    writeFileSync(file!, `${key}\n${'x'.repeat(4096)}`);
    await append(cwd, cacheHome, `after garbage ${SECRET}`);
    expect(lastEntry(cwd).text).toBe('after garbage ***');
    expect(statSync(file!).size).toBeGreaterThan(4096 + key!.length + 1);

    writeFileSync(file!, `v0.0.0 ${key!.split(' ').slice(1).join(' ')}\n${'x'.repeat(4096)}`);
    await append(cwd, cacheHome, 'after another build');
    expect(readFileSync(file!, 'utf8').split('\n')[0]).toBe(key);
  });

  it('is neither read nor written with NODE_DISABLE_COMPILE_CACHE set', async () => {
    const cwd = tempDir();
    const cacheHome = tempDir('vpm-cache-');
    await append(cwd, cacheHome, `plain ${SECRET}`, { NODE_DISABLE_COMPILE_CACHE: '1' });
    expect(cacheFiles(cacheHome)).toEqual([]);
    expect(lastEntry(cwd).text).toBe('plain ***');
  });
});
