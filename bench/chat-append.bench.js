// `vpm chat append` whole-process median wall time vs `node -e 0` (target ≤ 1.3×, issue 14).
import { compare, tempDir, timeProcess, VPM } from './lib.js';

export async function run({ runs = 30 } = {}) {
  const cwd = tempDir();
  const r = await compare({
    runs,
    warmup: 3,
    measure: () => timeProcess(process.execPath, [VPM, '--cwd', cwd, 'chat', 'append', '--text', 'benchmark turn'], { cwd }),
    baseline: () => timeProcess(process.execPath, ['-e', '0']),
  });
  return [{ name: 'chat append (whole process)', baseline: 'node -e 0', target: '≤ 1.3×', ok: r.ratio <= 1.3, ...r }];
}

if (import.meta.url === `file://${process.argv[1]}`) console.log(await run());
