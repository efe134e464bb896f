/**
 * The `vpm.request` line (src/core/log.ts): written through pino's light build, or directly on
 * `chat append`'s fast path — byte for byte the same line either way, masked the same way, so a
 * reader of logs/vpm.log.jsonl cannot tell which path wrote it.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createContext, type IOStreams } from '../../src/core/context.js';
import { LOG_FILE, logRequest, type RequestLine } from '../../src/core/log.js';
import { tempDir } from '../helpers/cli.js';

const NOW = new Date('2026-03-04T05:06:07.089Z');
const GITHUB_TOKEN = 'ghp_abcdefghijklmnopqrstuvwxyz0123456789';

function run(direct: boolean, line: RequestLine) {
  const root = tempDir();
  let stderr = '';
  const sink = new Writable({
    write(chunk, _enc, done) {
      stderr += String(chunk);
      done();
    },
  });
  const io: IOStreams = { stdin: process.stdin, stdout: sink, stderr: sink, stdinIsTTY: false, stdoutIsTTY: false, stderrIsTTY: false };
  const ctx = createContext({ processCwd: root, verbose: true }, io, { GITHUB_TOKEN });
  ctx.now = () => NOW;
  Object.assign(ctx, { reqId: 'req_fixed' });
  return logRequest(ctx, line, { direct }).then(() => ({ file: readFileSync(join(root, LOG_FILE), 'utf8'), stderr }));
}

describe('the vpm.request line', () => {
  it.each([
    ['a successful chat append', { command: 'chat append', step_latency_ms: 3, ok: true, retryable: false, exit_code: 0 }],
    [
      'a failure whose message holds a secret, with command fields that shadow pino’s own keys',
      {
        command: 'summary',
        step_latency_ms: 120,
        ok: false,
        retryable: true,
        exit_code: 1,
        error: `push rejected for ${GITHUB_TOKEN}`,
        token_in: 812,
        password: 'hunter22',
        nested: { list: [1, 'two', { authorization: 'Bearer abcdefghijklmnop' }] },
        msg: 'not the message',
        level: 'not the level',
      },
    ],
  ] as const)('is the same written directly as through pino: %s', async (_name, line) => {
    const viaPino = await run(false, line as RequestLine);
    const direct = await run(true, line as RequestLine);
    expect(direct.file).toBe(viaPino.file);
    expect(direct.stderr).toBe(viaPino.stderr);
    const record = JSON.parse(direct.file);
    expect(record).toMatchObject({ time: NOW.toISOString(), req_id: 'req_fixed', msg: 'vpm.request', pid: process.pid });
    expect(direct.file).not.toContain(GITHUB_TOKEN);
    expect(direct.file).not.toContain('hunter22');
    expect(direct.file).not.toContain('abcdefghijklmnop');
  });
});
