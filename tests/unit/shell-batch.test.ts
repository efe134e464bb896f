/**
 * The shell batch that starts the rollback's first git reads (src/adapters/shell-batch.ts), run for
 * real through /bin/sh: outputs and exit statuses per command, arguments passed through untouched,
 * and each result arriving when its own command ends.
 */
import { describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { batchScript, MAX_BATCH, runBatch } from '../../src/adapters/shell-batch.ts';

const env = { PATH: process.env.PATH ?? '/usr/bin:/bin' };

describe('runBatch', () => {
  it('returns each command its own stdout and exit status, in order', async () => {
    const results = await Promise.all(
      runBatch(
        'sh',
        [
          ['-c', 'printf "one\\n"'],
          ['-c', 'printf "two\\0bytes"; exit 3'],
          ['-c', 'echo to-stderr >&2; printf three'],
        ],
        { cwd: tmpdir(), env },
      ),
    );
    expect(results).toEqual([
      { exitCode: 0, stdout: 'one\n' },
      { exitCode: 3, stdout: 'two\0bytes' },
      { exitCode: 0, stdout: 'three' },
    ]);
  });

  it('passes arguments through exactly: quotes, $, ;, newlines and globs are not the shell’s', async () => {
    const tricky = [`it's`, '$HOME', 'a;b', 'x\ny', '*', '"q"', '\\n', '--', ''];
    const [result] = runBatch('printf', [['%s|', ...tricky]], { cwd: tmpdir(), env });
    expect(await result).toEqual({ exitCode: 0, stdout: tricky.map((a) => `${a}|`).join('') });
  });

  it('runs in the given directory and reports a missing program as 127', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vpm-batch-'));
    try {
      writeFileSync(join(dir, 'marker.txt'), 'here\n');
      const [cat, missing] = runBatch('cat', [['marker.txt'], ['no-such-file']], { cwd: dir, env });
      expect(await cat).toEqual({ exitCode: 0, stdout: 'here\n' });
      expect((await missing).exitCode).not.toBe(0);
      const [absent] = runBatch('vpm-no-such-program', [[]], { cwd: dir, env });
      expect((await absent).exitCode).toBe(127);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('hands over a quick command’s result while a slow one is still running', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vpm-batch-'));
    try {
      // The slow command runs until the test lets it finish, which it does only after the quick
      // result has arrived: were the quick command's pipe held open by the slow one (a leaked
      // descriptor), that result would never come and the race below would go to the timer.
      const [slow, quick] = runBatch(
        'sh',
        [
          ['-c', 'while [ ! -e go ]; do sleep 0.02; done; echo slow'],
          ['-c', 'echo quick'],
        ],
        { cwd: dir, env },
      );
      const first = await Promise.race([quick, new Promise((r) => setTimeout(() => r('still waiting after 10 s'), 10_000))]);
      writeFileSync(join(dir, 'go'), '');
      expect(first).toEqual({ exitCode: 0, stdout: 'quick\n' });
      expect(await slow).toEqual({ exitCode: 0, stdout: 'slow\n' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('gives -1 for every command when the shell cannot start', async () => {
    const results = await Promise.all(runBatch('true', [[], []], { cwd: join(tmpdir(), 'vpm-no-such-dir', String(process.pid)), env }));
    expect(results).toEqual([
      { exitCode: -1, stdout: '' },
      { exitCode: -1, stdout: '' },
    ]);
  });

  it(`takes at most ${MAX_BATCH} commands (the descriptors POSIX sh can redirect)`, () => {
    expect(() =>
      batchScript(
        'git',
        Array.from({ length: MAX_BATCH + 1 }, () => ['status']),
      ),
    ).toThrow(RangeError);
    expect(
      batchScript(
        'git',
        Array.from({ length: MAX_BATCH }, () => ['status']),
      ),
    ).toContain(`>&${2 + MAX_BATCH}`);
  });
});
