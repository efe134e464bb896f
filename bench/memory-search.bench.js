// Issue 20: `vpm memory search` over 100,000 chat entries (logs/*.jsonl, ten day files, Japanese and
// English), against reading and JSON-parsing the same files in a bare node process (the I/O + parse
// floor) measured in the same run. Two queries: an English word and a Japanese one.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { compare, tempDir, timeProcess, VPM } from './lib.js';

const TEXTS = [
  (n) => `Turn ${n}: we decided to run vpm canary start hello --weight 10 and watch p95.`,
  (n) => `ターン ${n}: カナリアを開始しました。次は reports/canary/run${n % 50}.json を確認します。`,
  (n) => `Turn ${n}: the guard window is 5m; nothing else to report.`,
  (n) => `ターン ${n}: プールサイズを 20 に上げて再デプロイします。`,
];

export async function run({ runs = 7, entries = 100_000, days = 10 } = {}) {
  const cwd = tempDir();
  mkdirSync(join(cwd, 'logs'));
  const files = [];
  const perDay = Math.ceil(entries / days);
  for (let d = 0; d < days; d++) {
    const day = `2026-01-${String(d + 1).padStart(2, '0')}`;
    const lines = [];
    for (let i = 0; i < perDay && d * perDay + i < entries; i++) {
      const n = d * perDay + i;
      lines.push(
        JSON.stringify({
          v: 1,
          id: `chat_${day.replace(/-/g, '')}T000000Z_${String(n).padStart(11, '0')}`,
          ts: new Date(Date.UTC(2026, 0, d + 1) + i * 10).toISOString(),
          session: `s${n % 7}`,
          role: n % 2 ? 'assistant' : 'user',
          text: TEXTS[n % TEXTS.length](n),
        }),
      );
    }
    const file = join(cwd, 'logs', `${day}.jsonl`);
    writeFileSync(file, `${lines.join('\n')}\n`);
    files.push(file);
  }
  const floor = `let n=0;for(const f of ${JSON.stringify(files)})for(const l of require('fs').readFileSync(f,'utf8').split('\\n'))if(l)n+=JSON.parse(l).text.length;`;
  const baseline = () => timeProcess(process.execPath, ['-e', floor]);
  const figures = [];
  for (const query of ['canary', 'カナリア']) {
    const r = await compare({
      runs,
      warmup: 1,
      measure: () => timeProcess(process.execPath, [VPM, '--cwd', cwd, 'memory', 'search', '--json', query]),
      baseline,
    });
    figures.push({
      name: `memory search '${query}' over ${entries.toLocaleString('en')} entries`,
      baseline: 'node: read + JSON.parse every log line',
      target: 'informational',
      ok: true,
      ...r,
    });
  }
  return figures;
}

if (import.meta.url === `file://${process.argv[1]}`) console.log(await run());
