/**
 * testenv CLI (npm scripts testenv:up / testenv:down / testenv:status / testenv:build).
 *
 *   npm run testenv:up [-- --clusters 2 --prometheus --haproxy [--no-sim] [--argocd-real] [--dir DIR]]
 *   npm run testenv:status [-- --json]
 *   npm run testenv:down
 *   node tests/support/cli.ts restart-apiserver [cluster-a]
 *
 * `up` starts a detached supervisor (`cli.ts serve`) that owns etcd, the kube-apiservers, the
 * simulators and optionally Prometheus/HAProxy, waits until everything is ready, prints how to use
 * it and exits. Running `up` again with more options adds to the live environment. `down` asks the
 * supervisor to stop, then verifies that no process of the environment is left (kills leftovers).
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Testenv, testenvDir, pidAlive, killPid, cmdlineMentions, findAssets, type EnsureRequest, type TestenvInfo } from './testenv.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    clusters: { type: 'string' },
    prometheus: { type: 'boolean', default: false },
    haproxy: { type: 'boolean', default: false },
    'argocd-real': { type: 'boolean', default: false },
    'no-sim': { type: 'boolean', default: false },
    dir: { type: 'string' },
    json: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
const cmd = positionals[0] ?? 'help';
if (values.dir) process.env.VPM_TESTENV_DIR = path.resolve(values.dir);
const dir = testenvDir();
const statePath = path.join(dir, 'state.json');

function readState(): any | undefined {
  try {
    return JSON.parse(fs.readFileSync(statePath, 'utf8'));
  } catch {
    return undefined;
  }
}

function ensureRequest(): EnsureRequest {
  const clusters = values.clusters ? Number(values.clusters) : values.haproxy ? 2 : 1;
  if (!Number.isInteger(clusters) || clusters < 1 || clusters > 2) {
    process.stderr.write('testenv: --clusters must be 1 or 2\n');
    process.exit(2);
  }
  return {
    clusters,
    prometheus: values.prometheus,
    haproxy: values.haproxy,
    sim: !values['no-sim'],
    argocd: values['argocd-real'] ? ('real' as const) : ('sim' as const),
  };
}

function usage(info: TestenvInfo, ms?: number): string {
  const names = Object.keys(info.clusters).sort();
  const lines = [
    `vpm test environment is up${ms !== undefined ? ` (${(ms / 1000).toFixed(1)}s)` : ''}: ${names.join(', ')}`,
    '',
    `  export KUBECONFIG=${info.kubeconfig}`,
    `  contexts: ${names.map((n) => (n === info.defaultContext ? `${n} (current; alias vpm-test)` : n)).join(', ')}`,
    '  kubectl get --raw /version',
    '  kubectl apply -f infra/k8s/overlays/dev/hello-ksvc.yaml && kubectl get ksvc hello',
    '  curl "$(kubectl get ksvc hello -o jsonpath={.status.url})"',
    '',
  ];
  for (const n of names) {
    const c = info.clusters[n];
    lines.push(`  ${n}: ${c.server} (kube-apiserver pid ${c.apiserverPid})`);
    if (c.knative)
      lines.push(`    knative ingress ${c.knative.ingressUrl} (Host: <ksvc>.<ns>.${c.knative.domain}), metrics ${c.knative.metricsUrl}`);
  }
  if (info.argocd)
    lines.push(
      `  argocd: Applications in namespace ${info.argocd.namespace} on ${info.argocd.cluster}; manifests from ${info.argocd.repoDir}`,
    );
  if (info.argocd?.real) lines.push(`  argocd: real v3.6.2, repo ${info.argocd.real.repoURL}, started in ${info.argocd.real.startupMs} ms`);
  if (info.prometheus) lines.push(`  prometheus: ${info.prometheus.url}`);
  if (info.haproxy)
    lines.push(
      `  haproxy: frontend ${info.haproxy.frontendUrl}, runtime API socket ${info.haproxy.socket}, backend ${info.haproxy.backend} (${Object.entries(
        info.haproxy.servers,
      )
        .map(([k, v]) => `${k}=${v}`)
        .join(' ')})`,
    );
  lines.push(`  logs: ${path.join(info.dir, 'logs')}`, '', '  stop: npm run testenv:down', '');
  return lines.join('\n');
}

async function post(url: string, p: string, body: unknown): Promise<any> {
  const r = await fetch(url + p, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(300_000),
  });
  const j = await r.json();
  if (!r.ok) throw new Error((j as any).error ?? `HTTP ${r.status}`);
  return j;
}

async function up(): Promise<void> {
  const t0 = Date.now();
  const req = ensureRequest();
  const st = readState();
  if (st?.info?.controlUrl && pidAlive(st.supervisorPid)) {
    const info = await post(st.info.controlUrl, '/ensure', req);
    process.stdout.write(values.json ? JSON.stringify(info, null, 2) + '\n' : usage(info, Date.now() - t0));
    return;
  }
  const assets = findAssets();
  if ('missing' in assets) {
    process.stderr.write(`testenv: ${assets.missing}\n`);
    process.exit(1);
  }
  fs.mkdirSync(path.join(dir, 'logs'), { recursive: true });
  fs.rmSync(statePath, { force: true });
  const log = fs.openSync(path.join(dir, 'logs', 'supervisor.log'), 'a');
  const child = spawn(process.execPath, [...process.execArgv, new URL(import.meta.url).pathname, 'serve', '--dir', dir], {
    detached: true,
    stdio: ['ignore', log, log],
    env: { ...process.env, VPM_TESTENV_REQUEST: JSON.stringify(req) },
  });
  child.unref();
  fs.closeSync(log);
  const deadline = Date.now() + 180_000;
  for (;;) {
    const s = readState();
    if (s?.ready && s.supervisorPid === child.pid) {
      process.stdout.write(values.json ? JSON.stringify(s.info, null, 2) + '\n' : usage(s.info, Date.now() - t0));
      return;
    }
    if (s?.error || !pidAlive(child.pid) || Date.now() > deadline) {
      const tail = fs
        .readFileSync(path.join(dir, 'logs', 'supervisor.log'), 'utf8')
        .split('\n')
        .slice(-30)
        .join('\n');
      process.stderr.write(`testenv: failed to start: ${s?.error ?? (Date.now() > deadline ? 'timeout' : 'supervisor exited')}\n${tail}\n`);
      if (pidAlive(child.pid)) await killPid(child.pid!);
      process.exit(1);
    }
    await sleep(100);
  }
}

async function serve(): Promise<void> {
  const env = new Testenv({ dir, log: (m) => process.stderr.write(`${new Date().toISOString()} ${m}\n`) });
  let stopping = false;
  const shutdown = async (code = 0) => {
    if (stopping) return;
    stopping = true;
    await env.stop().catch((e) => process.stderr.write(`stop: ${e.message}\n`));
    process.exit(code);
  };
  process.on('SIGTERM', () => void shutdown());
  process.on('SIGINT', () => void shutdown());
  env.onShutdown = () => process.exit(0);
  await env.serveControl();
  env.writeState({ ready: false });
  try {
    await env.ensure(JSON.parse(process.env.VPM_TESTENV_REQUEST ?? '{}'));
    env.writeState({ ready: true });
  } catch (e) {
    process.stderr.write(`${(e as Error).stack}\n`);
    env.writeState({ ready: false, error: (e as Error).message });
    await shutdown(1);
  }
}

async function down(): Promise<void> {
  const st = readState();
  if (!st) {
    process.stdout.write(`testenv: nothing running in ${dir}\n`);
    return;
  }
  const pids: number[] = [...(st.info?.pids ?? [])];
  if (st.supervisorPid && st.supervisorPid !== process.pid) pids.unshift(st.supervisorPid);
  if (st.info?.controlUrl && pidAlive(st.supervisorPid)) {
    try {
      await post(st.info.controlUrl, '/shutdown', {});
    } catch {
      /* fall back to signals */
    }
    for (let i = 0; i < 300 && pidAlive(st.supervisorPid); i++) await sleep(100);
  }
  let killed = 0;
  for (const pid of pids) {
    if (pidAlive(pid) && (pid === st.supervisorPid || cmdlineMentions(pid, dir))) {
      await killPid(pid);
      killed++;
    }
  }
  const left = pids.filter((p) => pidAlive(p) && (p === st.supervisorPid || cmdlineMentions(p, dir)));
  fs.rmSync(statePath, { force: true });
  fs.rmSync(path.join(dir, 'etcd'), { recursive: true, force: true });
  if (left.length) {
    process.stderr.write(`testenv: processes still alive: ${left.join(', ')}\n`);
    process.exit(1);
  }
  process.stdout.write(`testenv: stopped (${pids.length} processes${killed ? `, ${killed} killed after the graceful stop` : ''})\n`);
}

async function status(): Promise<void> {
  const st = readState();
  const live = !!st && pidAlive(st.supervisorPid);
  if (values.json) {
    process.stdout.write(JSON.stringify({ running: live, ...(live ? { info: st.info } : {}) }, null, 2) + '\n');
  } else {
    process.stdout.write(live ? usage(st.info) : `testenv: not running (${dir})\n`);
  }
  if (!live) process.exitCode = 1;
}

async function restart(): Promise<void> {
  const st = readState();
  if (!st || !pidAlive(st.supervisorPid)) throw new Error('testenv not running');
  const t0 = Date.now();
  await post(st.info.controlUrl, '/restart-apiserver', { cluster: positionals[1] ?? 'cluster-a' });
  process.stdout.write(`restarted kube-apiserver ${positionals[1] ?? 'cluster-a'} in ${Date.now() - t0}ms\n`);
}

const commands: Record<string, () => Promise<void>> = { up, down, status, serve, 'restart-apiserver': restart };
if (values.help || !commands[cmd]) {
  process.stdout.write(
    'usage: node tests/support/cli.ts up [--clusters 1|2] [--prometheus] [--haproxy] [--no-sim] [--argocd-real] [--dir DIR] [--json] | down | status [--json] | restart-apiserver [CLUSTER]\n',
  );
  process.exit(values.help ? 0 : 2);
}
commands[cmd]().catch((e) => {
  process.stderr.write(`testenv: ${(e as Error).message}\n`);
  process.exit(1);
});
