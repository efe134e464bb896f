// `vpm chat import` (issue 20): importing a generated 100 MB Codex rollout file (MB/s), and a
// re-import with nothing new vs `node -e 0` (goal: at most 50 ms over Node's start-up — the
// cursor, not a re-read).
import { closeSync, openSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { compare, round, tempDir, timeProcess, VPM } from './lib.js';

/** A rollout file of `mb` MB in the shape Codex CLI writes (session_meta, then turns with a shell call each). */
function writeRollout(path, cwd, mb) {
  const fd = openSync(path, 'w');
  const session = '01a24542-0cc3-7d70-9328-250d71da8b3e';
  const line = (o) => `${JSON.stringify(o)}\n`;
  writeSync(
    fd,
    line({ timestamp: '2026-01-01T00:00:00.000Z', type: 'session_meta', payload: { id: session, cwd, cli_version: '0.171.0' } }),
  );
  const filler = 'The canary for hello ran at 10% for five minutes; p95 stayed at 180 ms, error rate 0.1%. '.repeat(4);
  let bytes = 0;
  for (let i = 0; bytes < mb * 1_000_000; i++) {
    const ts = new Date(Date.UTC(2026, 0, 1) + i * 1000).toISOString();
    const chunk =
      line({
        timestamp: ts,
        type: 'response_item',
        payload: { type: 'message', id: `msg_u${i}`, role: 'user', content: [{ type: 'input_text', text: `turn ${i}: ${filler}` }] },
      }) +
      line({
        timestamp: ts,
        type: 'response_item',
        payload: {
          type: 'function_call',
          id: `fc_${i}`,
          call_id: `call_${i}`,
          name: 'exec_command',
          arguments: JSON.stringify({ cmd: `vpm canary status hello --run ${i}` }),
        },
      }) +
      line({
        timestamp: ts,
        type: 'event_msg',
        payload: {
          type: 'exec_command_end',
          call_id: `call_${i}`,
          command: ['bash', '-lc', `vpm canary status hello --run ${i}`],
          exit_code: i % 7 === 0 ? 1 : 0,
          aggregated_output: filler,
        },
      }) +
      line({
        timestamp: ts,
        type: 'response_item',
        payload: { type: 'function_call_output', call_id: `call_${i}`, output: `Process exited with code 0\nOutput:\n${filler}` },
      }) +
      line({ timestamp: ts, type: 'event_msg', payload: { type: 'token_count', info: null } }) +
      line({
        timestamp: ts,
        type: 'response_item',
        payload: { type: 'message', id: `msg_a${i}`, role: 'assistant', content: [{ type: 'output_text', text: `done ${i}. ${filler}` }] },
      });
    writeSync(fd, chunk);
    bytes += Buffer.byteLength(chunk);
  }
  closeSync(fd);
  return statSync(path).size;
}

export async function run({ mb = 100, runs = 15 } = {}) {
  const cwd = tempDir();
  const src = join(tempDir(), 'rollout-2026-01-01T00-00-00-bench.jsonl');
  const size = writeRollout(src, cwd, mb);
  const args = [VPM, '--cwd', cwd, 'chat', 'import', '--from', 'codex', src];
  const ms = timeProcess(process.execPath, args, { cwd });
  const mbps = size / 1e6 / (ms / 1000);
  const noop = await compare({
    runs,
    warmup: 2,
    measure: () => timeProcess(process.execPath, args, { cwd }),
    baseline: () => timeProcess(process.execPath, ['-e', '0']),
  });
  const over = round(noop.median_ms - noop.baseline_ms);
  return [
    {
      name: `chat import: ${round(size / 1e6, 1)} MB Codex rollout`,
      median_ms: round(ms),
      mb_per_s: round(mbps, 1),
      target: 'MB/s (reported)',
      ok: true,
    },
    {
      name: 'chat import: re-import, nothing new',
      baseline: 'node -e 0',
      target: '≤ 50 ms over node start-up',
      over_node_ms: over,
      ok: over <= 50,
      ...noop,
    },
  ];
}

if (import.meta.url === `file://${process.argv[1]}`) console.log(await run());
