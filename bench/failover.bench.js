// Issue 7: edge failover RTO. Two tiny HTTP backends (a, b) behind a real HAProxy; backend a starts
// answering 503 at a random moment. Measured, interleaved, `runs` times each:
//   - vpm:      `vpm failover --auto` (100 ms probes through the edge) switches a → b; RTO from its evidence
//   - baseline: no vpm, b as `backup`, HAProxy's default health checks (inter 2s fall 3 rise 2);
//               RTO from the same kind of probes through the edge (t0 = first failed probe,
//               tSteady = first of 10 consecutive 2xx).
// Needs /usr/sbin/haproxy and a built dist/ (npm run bench builds). Runnable alone:
//   node bench/failover.bench.js [runs]
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { compare, tempDir, VPM } from './lib.js';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const TARGET_MS = 1500;
const STEADY = 10;
const INTERVAL = 100;

function findHaproxy() {
  const cands = [process.env.VPM_HAPROXY_BIN, ...(process.env.PATH ?? '').split(':').map((d) => join(d, 'haproxy')), '/usr/sbin/haproxy'];
  return cands.find((p) => p && existsSync(p));
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function backend(name) {
  const state = { failing: false };
  const server = http.createServer((req, res) => {
    res.writeHead(state.failing ? 503 : 200, { 'content-type': 'text/plain', 'x-backend': name });
    res.end(state.failing ? 'down\n' : `hello from ${name}\n`);
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {
    state,
    port: server.address().port,
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(r);
      }),
  };
}

function haproxyCommand(socket, cmd) {
  return new Promise((resolve, reject) => {
    const c = net.createConnection(socket);
    let out = '';
    c.setEncoding('utf8');
    c.on('connect', () => c.write(`${cmd}\n`));
    c.on('data', (d) => (out += d));
    c.on('end', () => resolve(out));
    c.on('error', reject);
  });
}

async function startHaproxy(bin, dir, { a, b, backupB }) {
  mkdirSync(dir, { recursive: true });
  const socket = join(dir, 'admin.sock');
  const port = await freePort();
  const cfg = [
    'global',
    `  stats socket ${socket} mode 600 level admin`,
    'defaults',
    '  mode http',
    '  timeout connect 2s',
    '  timeout client 30s',
    '  timeout server 30s',
    'frontend fe',
    `  bind 127.0.0.1:${port}`,
    '  default_backend edge',
    'backend edge',
    '  option httpchk',
    '  http-check send meth GET uri / ver HTTP/1.1 hdr Host localhost',
    '  http-check expect status 200',
    '  default-server inter 2s fall 3 rise 2', // HAProxy's defaults
    `  server a 127.0.0.1:${a} check`,
    `  server b 127.0.0.1:${b} check${backupB ? ' backup' : ''}`,
    '',
  ].join('\n');
  writeFileSync(join(dir, 'haproxy.cfg'), cfg);
  const child = spawn(bin, ['-db', '-f', join(dir, 'haproxy.cfg')], { stdio: 'ignore' });
  for (let i = 0; i < 200; i++) {
    try {
      if ((await haproxyCommand(socket, 'show info')).includes('Name: HAProxy')) break;
    } catch {}
    await sleep(25);
  }
  return {
    socket,
    url: `http://127.0.0.1:${port}/`,
    async stop() {
      child.kill('SIGTERM');
      await new Promise((r) => (child.exitCode !== null ? r() : child.once('exit', r)));
    },
  };
}

function probeOnce(url) {
  return new Promise((resolve) => {
    const sent_at = Date.now();
    const req = http.get(url, { agent: false, timeout: 1000 }, (res) => {
      res.resume();
      res.on('end', () => resolve({ sent_at, done_at: Date.now(), ok: res.statusCode >= 200 && res.statusCode < 300 }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve({ sent_at, done_at: Date.now(), ok: false }));
  });
}

/** Probes every INTERVAL ms until the edge has failed and then answered STEADY times in a row. */
async function measureEdgeRto(url, deadlineMs) {
  const log = [];
  const start = Date.now();
  for (let k = 1; Date.now() - start < deadlineMs; k++) {
    void probeOnce(url).then((p) => log.push(p));
    await sleep(Math.max(0, start + k * INTERVAL - Date.now()));
    const sorted = [...log].sort((x, y) => x.sent_at - y.sent_at);
    const first = sorted.findIndex((p) => !p.ok);
    if (first < 0) continue;
    let streak = [];
    for (const p of sorted.slice(first)) {
      streak = p.ok ? [...streak, p] : [];
      if (streak.length >= STEADY) return streak[0].done_at - sorted[first].sent_at;
    }
  }
  throw new Error(`no steady recovery within ${deadlineMs} ms`);
}

async function withScenario(bin, backupB, fn) {
  const dir = tempDir('vpm-bench-failover-');
  const a = await backend('a');
  const b = await backend('b');
  const hp = await startHaproxy(bin, join(dir, 'haproxy'), { a: a.port, b: b.port, backupB });
  try {
    // Let the first health checks pass before the fault.
    await sleep(300);
    return await fn({ dir, a, b, hp });
  } finally {
    await hp.stop();
    await a.close();
    await b.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function rtoWithVpm(bin) {
  return withScenario(bin, false, async ({ dir, a, hp }) => {
    await haproxyCommand(hp.socket, 'set server edge/b state maint');
    const child = spawn(
      process.execPath,
      [
        VPM,
        '--cwd',
        dir,
        '--json',
        'failover',
        '--auto',
        '--from',
        'a',
        '--to',
        'b',
        '--socket',
        hp.socket,
        '--probe-url',
        hp.url,
        '--interval',
        `${INTERVAL}ms`,
        '--steady',
        String(STEADY),
        '--target-rto',
        `${TARGET_MS}ms`,
        '--timeout',
        '60s',
        '--yes',
      ],
      { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const exited = new Promise((r) => child.once('exit', r));
    for (let i = 0; i < 400 && !/watching/.test(stderr); i++) await sleep(25);
    await sleep(200 + Math.random() * 300);
    a.state.failing = true;
    const code = await exited;
    if (code !== 0) throw new Error(`vpm failover exited ${code}: ${stderr.trim().split('\n').pop()}`);
    const out = JSON.parse(stdout);
    const evidence = JSON.parse(readFileSync(join(dir, out.evidence), 'utf8'));
    return evidence.rto_ms;
  });
}

async function rtoHaproxyAlone(bin) {
  return withScenario(bin, true, async ({ a, hp }) => {
    const measuring = measureEdgeRto(hp.url, 30_000);
    await sleep(200 + Math.random() * 300);
    a.state.failing = true;
    return measuring;
  });
}

export async function run({ runs = Number(process.env.VPM_BENCH_FAILOVER_RUNS ?? 3) } = {}) {
  const bin = findHaproxy();
  if (!bin) throw new Error('haproxy not installed (apt-get install haproxy, or set VPM_HAPROXY_BIN)');
  const r = await compare({ runs, warmup: 0, measure: () => rtoWithVpm(bin), baseline: () => rtoHaproxyAlone(bin) });
  return [
    {
      name: 'failover RTO a→b: vpm failover --auto (100 ms probes)',
      median_ms: r.median_ms,
      baseline: 'HAProxy health checks alone (inter 2s fall 3 rise 2, b backup)',
      baseline_ms: r.baseline_ms,
      ratio: r.ratio,
      target: `≤ ${TARGET_MS} ms`,
      ok: r.median_ms <= TARGET_MS,
      samples: r.samples,
    },
  ];
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const runs = process.argv[2] ? Number(process.argv[2]) : undefined;
  console.log(JSON.stringify(await run(runs ? { runs } : {}), null, 2));
}
