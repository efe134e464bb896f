/**
 * Errors no adapter mapped but whose code says the environment is at fault are named as such by the
 * one error renderer, never "internal error … a bug in vpm".
 */
import { describe, expect, it } from 'vitest';
import { PassThrough } from 'node:stream';
import { environmentErrorFrom } from '../../src/core/environment-errors.ts';
import { exitCodeFor, renderError } from '../../src/cli/execute.ts';

function render(err: unknown): { code: number; stderr: string } {
  const stderr = new PassThrough();
  let text = '';
  stderr.on('data', (c) => (text += c));
  const io = { stdin: new PassThrough(), stdout: new PassThrough(), stderr, stdinIsTTY: false, stdoutIsTTY: false, stderrIsTTY: false };
  renderError(io, err, { json: false, debug: false });
  const code = exitCodeFor({ error: err });
  return { code, stderr: text };
}

const sys = (code: string, extra: Record<string, unknown> = {}) => Object.assign(new Error(`${code}: something`), { code, ...extra });

describe('environment problems that slipped past the adapters', () => {
  it("a refused connection (undici's shape: fetch failed, caused by the socket error) names the address and the cause", () => {
    const mapped = environmentErrorFrom(
      Object.assign(new TypeError('fetch failed'), { cause: sys('ECONNREFUSED', { address: '127.0.0.1', port: 45871 }) }),
    );
    expect(mapped?.message).toBe('network failure to 127.0.0.1:45871: connection refused (ECONNREFUSED)');
    expect(mapped?.exitCode).toBe(1);
    expect(render(Object.assign(new TypeError('fetch failed'), { cause: sys('ENOTFOUND') })).stderr).toBe(
      'error: network failure: host name not found in DNS (ENOTFOUND)\nhint: the host name does not resolve: check the address and your DNS / network\n',
    );
  });

  it.each([
    ['ENOSPC', /\/repo\/memory\.json.*disk is full/],
    ['EACCES', /\/repo\/memory\.json.*permission denied/],
    ['EPERM', /\/repo\/memory\.json.*(permission denied|not permitted)/],
    ['EROFS', /\/repo\/memory\.json.*file system is read-only/],
  ])('%s names what failed and the path', (code, pattern) => {
    const mapped = environmentErrorFrom(sys(code, { syscall: 'write', path: '/repo/memory.json' }));
    expect(mapped?.message).toMatch(pattern);
    const message = mapped!.message;
    const out = render(sys(code, { syscall: 'write', path: '/repo/memory.json' }));
    expect(out.code).toBe(1);
    expect(out.stderr).toBe(`error: ${message}\nhint: ${mapped!.hint}\n`);
    expect(out.stderr).not.toMatch(/bug in vpm|internal error/);
  });

  it('anything else is still reported as an internal error', () => {
    expect(environmentErrorFrom(new TypeError('x is undefined'))).toBeUndefined();
    expect(render(new TypeError('x is undefined')).stderr).toMatch(/^error: internal error: x is undefined\nhint: this is a bug in vpm/);
  });
});
