// Issue 9: `vpm digest` of a day with 100,000 chat entries, against reading and JSON-parsing the
// same day file in a bare node process (the I/O + parse floor) measured in the same run.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { compare, tempDir, timeProcess, VPM } from './lib.js';

export async function run({ runs = 5, entries = 100_000 } = {}) {
  const cwd = tempDir();
  mkdirSync(join(cwd, 'logs'));
  const day = '2026-01-02';
  const lines = [];
  for (let n = 0; n < entries; n++) {
    lines.push(
      JSON.stringify({
        v: 1,
        id: `chat_20260102T000000Z_${String(n).padStart(11, '0')}`,
        ts: new Date(Date.UTC(2026, 0, 2, 0, 0, 0) + n * 10).toISOString(),
        session: `s${n % 7}`,
        role: n % 2 ? 'assistant' : 'user',
        text: `Turn ${n}: we decided to run \`vpm canary start hello\`. 次に reports/canary/run${n % 50}.json を確認します。 TODO: guard?`,
      }),
    );
  }
  writeFileSync(join(cwd, 'logs', `${day}.jsonl`), `${lines.join('\n')}\n`);
  const file = join(cwd, 'logs', `${day}.jsonl`);
  const floor = `const t=require('fs').readFileSync(${JSON.stringify(file)},'utf8').split('\\n');let n=0;for(const l of t)if(l)n+=JSON.parse(l).text.length;`;
  const r = await compare({
    runs,
    warmup: 1,
    measure: () => timeProcess(process.execPath, [VPM, '--cwd', cwd, 'digest', '--date', day]),
    baseline: () => timeProcess(process.execPath, ['-e', floor]),
  });
  return [
    {
      name: `digest of a ${entries.toLocaleString('en')}-entry day`,
      baseline: 'node: read + JSON.parse the day file',
      target: 'informational',
      ok: true,
      ...r,
    },
  ];
}

if (import.meta.url === `file://${process.argv[1]}`) console.log(await run());
