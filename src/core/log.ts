/**
 * Structured logs: pino JSON lines appended to `logs/vpm.log.jsonl` (and to stderr with
 * --verbose). Each command writes one `vpm.request` line at its end. Everything logged is
 * secret-masked first.
 */
import { join } from 'node:path';
import { appendFileSync, mkdirSync } from 'node:fs';
import type { Ctx } from './context.js';
import { maskDeep } from './secrets.js';
import { isSafePath } from './fs.js';

export const LOG_FILE = join('logs', 'vpm.log.jsonl');
const REQUEST_MSG = 'vpm.request';

export interface RequestLine {
  command: string;
  step_latency_ms: number;
  ok: boolean;
  retryable: boolean;
  exit_code: number;
  error?: string;
  [field: string]: unknown;
}

/**
 * pino's own lightweight build (`pino/browser.js`: the same levels, API and line fields, without
 * sonic-boom, thread-stream and the transports machinery) writing each line synchronously with
 * O_APPEND, so lines from concurrent vpm processes never interleave. The full build costs ~10 ms of
 * start-up for a line every command writes once, and `chat append` runs on every agent turn.
 *
 * `direct` writes the same line without loading pino at all, for `chat append`'s start-up fast
 * path: loading and setting up even the light build is about a tenth of what that command costs
 * beyond Node's own start. tests/unit/request-log.test.ts holds the two lines byte for byte equal.
 */
export async function logRequest(ctx: Ctx, line: RequestLine, opts: { direct?: boolean } = {}): Promise<void> {
  const dir = join(ctx.root, 'logs');
  if (!isSafePath(join(ctx.root, LOG_FILE))) return; // never written through a link out of the repository
  mkdirSync(dir, { recursive: true });
  const file = join(ctx.root, LOG_FILE);
  const write = (record: object) => {
    const text = `${JSON.stringify(record)}\n`;
    appendFileSync(file, text);
    if (ctx.verbose) ctx.io.stderr.write(text);
  };
  const fields = maskDeep({ pid: process.pid, req_id: ctx.reqId, ...line }, ctx.env);
  const time = ctx.now().toISOString();
  if (opts.direct) {
    // What pino's logger.info(fields, msg) makes with asObject: time and level, the fields over them, the message.
    write({ time, level: 30, ...fields, msg: REQUEST_MSG });
    return;
  }
  const { default: pino } = await import('pino/browser.js');
  pino({ browser: { asObject: true, write }, timestamp: () => time }).info(fields, REQUEST_MSG);
}
