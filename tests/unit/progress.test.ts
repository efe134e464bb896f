/** withProgress: nothing for short waits; a spinner on a TTY, plain periodic lines without one; never stdout. */
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createContext, type IOStreams } from '../../src/core/context.ts';
import { withProgress } from '../../src/core/progress.ts';

function ctxWith(stderrIsTTY: boolean) {
  let stdout = '';
  let stderr = '';
  const out = new PassThrough();
  const err = new PassThrough();
  out.on('data', (d) => (stdout += d));
  err.on('data', (d) => (stderr += d));
  const io: IOStreams = { stdin: new PassThrough(), stdout: out, stderr: err, stdinIsTTY: false, stdoutIsTTY: false, stderrIsTTY };
  const ctx = createContext({ repo: 'none' }, io, { TERM: 'xterm' });
  return { ctx, output: () => ({ stdout, stderr }) };
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('withProgress', () => {
  it('shows nothing for a wait shorter than the delay', async () => {
    const { ctx, output } = ctxWith(false);
    expect(await withProgress(ctx, 'waiting', async () => 42, { delayMs: 200 })).toBe(42);
    await sleep(300);
    expect(output()).toEqual({ stdout: '', stderr: '' });
  });

  it('without a TTY: one line after the delay, then periodic "still waiting" lines, and nothing after the end', async () => {
    const { ctx, output } = ctxWith(false);
    await withProgress(ctx, 'syncing', () => sleep(420), { delayMs: 50, intervalMs: 100 });
    const lines = output().stderr.trim().split('\n');
    expect(lines[0]).toBe('syncing …');
    expect(lines.length).toBeGreaterThanOrEqual(3);
    expect(lines.slice(1).every((l) => /^syncing … still waiting \(\d+ s\)$/.test(l))).toBe(true);
    const count = lines.length;
    await sleep(250);
    expect(output().stderr.trim().split('\n')).toHaveLength(count);
    expect(output().stdout).toBe('');
  });

  it('on a TTY: an animated spinner on stderr, stopped when the work ends (also when it throws)', async () => {
    const { ctx, output } = ctxWith(true);
    await expect(
      withProgress(
        ctx,
        'rendering',
        async () => {
          await sleep(400);
          throw new Error('boom');
        },
        { delayMs: 50 },
      ),
    ).rejects.toThrow('boom');
    const { stderr, stdout } = output();
    expect(stdout).toBe('');
    // yocto-spinner animates on a terminal and prints one plain frame in CI (CI=true): either way a
    // spinner frame, never the non-TTY "still waiting" lines.
    expect(stderr.replace(/\u001b\[[0-9;]*[A-Za-z]/g, '')).toMatch(/[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] rendering/);
    expect(stderr).not.toContain('still waiting');
    const length = stderr.length;
    await sleep(300);
    expect(output().stderr.length).toBe(length);
  });
});
