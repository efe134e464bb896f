/** Notifications: which failures are retried (no answer, 5xx, 408/429) and which are not (a refusal). */
import { mkdtempSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createContext } from '../../src/core/context.ts';
import { notifier } from '../../src/deploy/notify.ts';

describe('notification retries', () => {
  const hits = new Map<string, number>();
  let server: http.Server;
  let base: string;

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      req.resume();
      const path = req.url ?? '';
      hits.set(path, (hits.get(path) ?? 0) + 1);
      res.writeHead(Number(path.slice(1))).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => server.close());

  it.each([
    [400, 1],
    [404, 1],
    [429, 3],
    [503, 3],
  ])('a target answering %i is tried %i time(s), recorded, and never throws', async (status, attempts) => {
    const dir = mkdtempSync(join(tmpdir(), 'vpm-notify-'));
    writeFileSync(join(dir, 'vpm.config.yaml'), `notify:\n  - url: ${base}/${status}\n    format: json\n`);
    const io = {
      stdin: new PassThrough(),
      stdout: new PassThrough(),
      stderr: new PassThrough(),
      stdinIsTTY: false,
      stdoutIsTTY: false,
      stderrIsTTY: false,
    };
    const ctx = createContext({ repo: 'none', cwd: dir }, io, {});
    const n = await notifier(ctx);
    await n.notify('aborted', { ksvc: 'hello', namespace: 'default', run_id: 'r', revision: 'hello-2', previous: 'hello-1', reason: 'x' });
    expect(hits.get(`/${status}`)).toBe(attempts);
    expect(n.sent[0]).toMatchObject({ ok: false, attempts, status, error: `HTTP ${status}` });
  });
});
