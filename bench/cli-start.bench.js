// CLI start-up — `vpm --version` whole-process wall time against `node -e 0` (target ≤ 1.3×, issue 14)
// and `kubectl version --client`, measured in the same run.
import { compare, timeProcess, VPM } from './lib.js';
import { spawnSync } from 'node:child_process';

function kubectlPath() {
  const r = spawnSync('sh', ['-c', 'command -v kubectl'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

export async function run({ runs = 25 } = {}) {
  const vpmStart = () => timeProcess(process.execPath, [VPM, '--version']);
  const out = [];
  const vsNode = await compare({ runs, warmup: 3, measure: vpmStart, baseline: () => timeProcess(process.execPath, ['-e', '0']) });
  out.push({ name: 'vpm --version (CLI start)', baseline: 'node -e 0', target: '≤ 1.3×', ok: vsNode.ratio <= 1.3, ...vsNode });
  const kubectl = kubectlPath();
  if (kubectl) {
    const vsKubectl = await compare({ runs, warmup: 3, measure: vpmStart, baseline: () => timeProcess(kubectl, ['version', '--client']) });
    out.push({ name: 'vpm --version (CLI start)', baseline: 'kubectl version --client', target: 'informational', ok: true, ...vsKubectl });
  } else {
    out.push({ name: 'vpm --version vs kubectl', error: 'kubectl not installed (apt-get install kubernetes-client)', ok: false });
  }
  return out;
}

if (import.meta.url === `file://${process.argv[1]}`) console.log(await run());
