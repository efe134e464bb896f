// Issue 2 / 9: `vpm summary` of 100 new entries over histories of 1k, 100k and 1M lines.
// The cursor in memory.json points past the history, so only the new entries should be read:
// the ratio against the 1k-line history is the figure (target ≤ 1.3× for 1M).
import { appendFileSync, mkdirSync, writeFileSync, statSync, createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { compare, tempDir, timeProcess, VPM } from './lib.js';

function line(n) {
  return JSON.stringify({
    v: 1,
    id: `chat_20260101T000000Z_${String(n).padStart(11, '0')}`,
    ts: '2026-01-01T00:00:00.000Z',
    session: 'bench',
    role: n % 2 ? 'assistant' : 'user',
    text: `Turn ${n}: we decided to ship build ${n % 97}. 次に canary を確認します。 See reports/run${n % 13}.json.`,
  });
}

async function historyRepo(lines) {
  const cwd = tempDir();
  mkdirSync(join(cwd, 'logs'));
  const file = join(cwd, 'logs', '2026-01-01.jsonl');
  const out = createWriteStream(file);
  const chunk = 10_000;
  for (let i = 0; i < lines; i += chunk) {
    const part = [];
    for (let j = i; j < Math.min(lines, i + chunk); j++) part.push(line(j));
    if (!out.write(`${part.join('\n')}\n`)) await new Promise((r) => out.once('drain', r));
  }
  await new Promise((r) => out.end(r));
  // Everything so far counts as already summarised.
  writeFileSync(
    join(cwd, 'memory.json'),
    JSON.stringify({ version: 1, cursor: { file: '2026-01-01.jsonl', offset: statSync(file).size }, entries: [] }),
  );
  return { cwd, file, next: lines };
}

function addNew(repo, count) {
  const part = [];
  for (let j = 0; j < count; j++) part.push(line(repo.next++));
  appendFileSync(repo.file, `${part.join('\n')}\n`);
}

export async function run({ runs = 9, sizes = [100_000, 1_000_000] } = {}) {
  const small = await historyRepo(1_000);
  const results = [];
  for (const size of sizes) {
    const big = await historyRepo(size);
    const r = await compare({
      runs,
      measure: () => {
        addNew(big, 100);
        return timeProcess(process.execPath, [VPM, '--cwd', big.cwd, 'summary'], { cwd: big.cwd });
      },
      baseline: () => {
        addNew(small, 100);
        return timeProcess(process.execPath, [VPM, '--cwd', small.cwd, 'summary'], { cwd: small.cwd });
      },
    });
    results.push({
      name: `summary of 100 new entries over ${size.toLocaleString('en')} lines`,
      baseline: 'same over 1,000 lines',
      target: size === 1_000_000 ? '≤ 1.3×' : 'informational',
      ok: size === 1_000_000 ? r.ratio <= 1.3 : true,
      ...r,
    });
  }
  return results;
}

if (import.meta.url === `file://${process.argv[1]}`) console.log(await run());
