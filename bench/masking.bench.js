// Issue 16: masking throughput (MB/s) on 1 MiB of chat-like text and on 1 MiB of adversarial text
// (repeated secret-like prefixes that made the old regexes quadratic), and `chat append` of a
// 200 KB entry vs a 1 KB entry (target ≤ 3×; the masker used to make it ≈ 100×).
import { compare, median, round, tempDir, timeProcess, VPM } from './lib.js';
import { maskText } from '../dist/core/secrets.js';

const MiB = 1024 * 1024;

function chatLike() {
  const turns = [
    'Can you check why the deploy failed? The log says connection refused on port 5432.',
    'I looked at apply.log: kubectl returned 422 because the label value is too long.',
    'Set DATABASE_URL=postgres://app:s3cr3t-pass@db:5432/app and retry, token is ghp_ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef0123',
    '```ts\nconst client = new Client({ password: process.env.PGPASSWORD, host: "db" });\n```',
    'Authorization: Bearer abcdefghijklmnopqrstuvwxyz012345 was rejected; rotate it and rerun `vpm apply`.',
    'The canary held at 10% for 5 minutes, p95 latency 180 ms, error rate 0.2%: promoting.',
  ];
  let s = '';
  for (let i = 0; s.length < MiB; i++) s += `${turns[i % turns.length]}\n`;
  return s.slice(0, MiB);
}

function adversarial() {
  const parts = ['token', 'ghp_', 'eyJ', 'sk-', 'password=', '-----BEGIN PRIVATE KEY-----', 'a://', 'Bearer  '];
  let s = '';
  for (let i = 0; s.length < MiB; i++) s += parts[i % parts.length].repeat(512);
  return s.slice(0, MiB);
}

function throughput(text, runs = 7) {
  maskText(text, {});
  const ms = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    maskText(text, {});
    ms.push(performance.now() - t0);
  }
  const m = median(ms);
  return { median_ms: round(m), value: round(text.length / MiB / (m / 1000), 1), unit: 'MB/s' };
}

export async function run({ runs = 15 } = {}) {
  const chat = throughput(chatLike());
  const adv = throughput(adversarial());
  const cwd = tempDir();
  const big = 'word '.repeat(40_000); // 200 KB
  const small = 'word '.repeat(200); // 1 KB
  const append = await compare({
    runs,
    warmup: 2,
    measure: () =>
      timeProcess(process.execPath, [VPM, '--cwd', cwd, 'chat', 'append', '--role', 'user'], {
        cwd,
        input: big,
        stdio: ['pipe', 'ignore', 'pipe'],
      }),
    baseline: () =>
      timeProcess(process.execPath, [VPM, '--cwd', cwd, 'chat', 'append', '--role', 'user'], {
        cwd,
        input: small,
        stdio: ['pipe', 'ignore', 'pipe'],
      }),
  });
  return [
    {
      name: 'masking 1 MiB chat-like text',
      value: chat.value,
      unit: 'MB/s',
      median_ms: undefined,
      baseline: `${chat.median_ms} ms per MiB`,
      target: '1 MiB < 1 s',
      ok: chat.median_ms < 1000,
    },
    {
      name: 'masking 1 MiB adversarial text',
      value: adv.value,
      unit: 'MB/s',
      median_ms: undefined,
      baseline: `${adv.median_ms} ms per MiB`,
      target: '1 MiB < 1 s',
      ok: adv.median_ms < 1000,
    },
    { name: 'chat append 200 KB vs 1 KB (whole process)', baseline: 'chat append 1 KB', target: '≤ 3×', ok: append.ratio <= 3, ...append },
  ];
}

if (import.meta.url === `file://${process.argv[1]}`) console.log(await run());
