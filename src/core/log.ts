/**
 * Structured logs: pino JSON lines appended to `logs/vpm.log.jsonl` (and to stderr with
 * --verbose). Each command writes one `vpm.request` line at its end. Everything logged is
 * secret-masked first.
 */
import { join } from 'node:path';
import { mkdirSync } from 'node:fs';
import type { Ctx } from './context.js';
import { maskDeep } from './secrets.js';
import { isSafePath } from './fs.js';

export const LOG_FILE = join('logs', 'vpm.log.jsonl');

export interface RequestLine {
  command: string;
  step_latency_ms: number;
  ok: boolean;
  retryable: boolean;
  exit_code: number;
  error?: string;
  [field: string]: unknown;
}

export async function logRequest(ctx: Ctx, line: RequestLine): Promise<void> {
  const { pino, destination, multistream } = await import('pino');
  const dir = join(ctx.cwd, 'logs');
  if (!isSafePath(join(ctx.cwd, LOG_FILE))) return; // never written through a link out of the repository
  mkdirSync(dir, { recursive: true });
  // O_APPEND + sync writes: lines from concurrent vpm processes never interleave.
  const file = destination({ dest: join(ctx.cwd, LOG_FILE), sync: true, append: true });
  const streams = ctx.verbose ? multistream([{ stream: file }, { stream: destination({ fd: 2, sync: true }) }]) : file;
  const logger = pino({ base: { pid: process.pid }, timestamp: () => `,"time":"${ctx.now().toISOString()}"` }, streams);
  logger.info(maskDeep({ req_id: ctx.reqId, ...line }, ctx.env), 'vpm.request');
}
