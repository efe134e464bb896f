/**
 * Real HAProxy (Debian package `haproxy`, /usr/sbin/haproxy) in front of the clusters' ingress, with
 * the Runtime API on a unix socket — what `vpm failover` drives.
 *
 *   const hp = await startHaproxy({ dir, servers: { a: '127.0.0.1:8081', b: '127.0.0.1:8082' } });
 *   hp.frontendUrl   // http://127.0.0.1:<port>  → backend `edge`
 *   hp.socket        // <dir>/admin.sock  ("stats socket … mode 600 level admin")
 *   hp.statsUrl      // http://127.0.0.1:<port>/stats (CSV: /stats;csv)
 *   await haproxyCommand(hp.socket, 'show servers state edge')
 *   await haproxyCommand(hp.socket, 'set server edge/a state maint')
 *
 * Config (written to `<dir>/haproxy.cfg`): `backend edge` with `server a` and `server b` (b is
 * `backup` when `backupB: true`), `option httpchk` + `http-check send meth GET uri <path>` (+ Host
 * header `checkHost`) and `http-check expect status 200`; `default-server inter 2s fall 3 rise 2` by
 * default (HAProxy's defaults, for comparison) — pass `check: { inter: '200ms', fall: 2, rise: 1 }`
 * for fast tests. `hostHeader` rewrites the Host of forwarded requests (e.g. hello.default.example.com).
 * The ingress of the Knative simulator serves `defaultRoute` (hello.default) for unknown Hosts.
 *
 * Isolation: tests that change server state (maint/ready) should start their own instance with
 * startHaproxy() pointing at their own KServices' `status.url` hosts (see
 * tests/integration/testenv-haproxy.test.ts); `useTestenv({ haproxy: true })` gives one shared
 * instance in front of both clusters' ingress (options of the first request win).
 */
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { freePort } from './net.ts';

export type HaproxyOptions = {
  dir: string;
  logDir?: string;
  /** Server name → host:port. Default names: a, b. */
  servers: Record<string, string>;
  backend?: string;
  backupB?: boolean;
  check?: { inter?: string; fall?: number; rise?: number; path?: string; fastinter?: string; downinter?: string };
  checkHost?: string;
  hostHeader?: string;
  timeouts?: { connect?: string; client?: string; server?: string };
  bin?: string;
  port?: number;
  /** More Runtime API sockets, e.g. a read-only one (`level operator`) to test refusals. */
  extraSockets?: Array<{ path: string; level: 'user' | 'operator' | 'admin' }>;
};

export type HaproxyHandle = {
  frontendUrl: string;
  socket: string;
  statsUrl: string;
  backend: string;
  servers: Record<string, string>;
  pid: number;
  configFile: string;
  command(cmd: string): Promise<string>;
  stop(): Promise<void>;
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function findHaproxy(): string | undefined {
  const cands = [
    process.env.VPM_HAPROXY_BIN,
    ...(process.env.PATH ?? '')
      .split(':')
      .filter(Boolean)
      .map((d) => path.join(d, 'haproxy')),
    '/usr/sbin/haproxy',
  ];
  return cands.find((p): p is string => !!p && fs.existsSync(p));
}

/** Sends one Runtime API command over the admin socket and returns the full answer. */
export function haproxyCommand(socket: string, cmd: string, timeoutMs = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = net.createConnection(socket);
    let out = '';
    c.setEncoding('utf8');
    c.setTimeout(timeoutMs, () => c.destroy(new Error(`haproxy socket timeout: ${cmd}`)));
    c.on('connect', () => c.write(cmd.trim() + '\n'));
    c.on('data', (d) => (out += d));
    c.on('end', () => resolve(out));
    c.on('error', reject);
  });
}

/** Parses `show servers state <backend>` into objects keyed by the header's field names. */
export function parseServersState(text: string): Array<Record<string, string>> {
  const lines = text.split('\n').filter((l) => l.trim());
  const header = lines.find((l) => l.startsWith('# be_id'));
  if (!header) return [];
  const names = header.slice(2).trim().split(/\s+/);
  // The first line is the format version ("1"); data lines follow the "# be_id …" header.
  return lines
    .slice(lines.indexOf(header) + 1)
    .filter((l) => !l.startsWith('#'))
    .map((l) => {
      const v = l.trim().split(/\s+/);
      return Object.fromEntries(names.map((n, i) => [n, v[i] ?? '']));
    });
}

export function haproxyConfig(o: HaproxyOptions & { socket: string; port: number; statsPort: number }): string {
  const backend = o.backend ?? 'edge';
  const ck = { inter: '2s', fall: 3, rise: 2, path: '/', ...(o.check ?? {}) };
  const t = { connect: '2s', client: '30s', server: '30s', ...(o.timeouts ?? {}) };
  const serverLines = Object.entries(o.servers).map(
    ([name, addr]) => `  server ${name} ${addr} check${o.backupB && name === 'b' ? ' backup' : ''}`,
  );
  const dflt = [
    `inter ${ck.inter}`,
    `fall ${ck.fall}`,
    `rise ${ck.rise}`,
    ck.fastinter ? `fastinter ${ck.fastinter}` : '',
    ck.downinter ? `downinter ${ck.downinter}` : '',
  ]
    .filter(Boolean)
    .join(' ');
  return [
    '# Generated by tests/support/haproxy.ts (vpm test environment)',
    'global',
    `  stats socket ${o.socket} mode 600 level admin`,
    ...(o.extraSockets ?? []).map((x) => `  stats socket ${x.path} mode 600 level ${x.level}`),
    '  stats timeout 30s',
    '  log stderr format raw local0 notice',
    '',
    'defaults',
    '  mode http',
    '  log global',
    '  option dontlognull',
    `  timeout connect ${t.connect}`,
    `  timeout client ${t.client}`,
    `  timeout server ${t.server}`,
    '',
    'frontend fe_edge',
    `  bind 127.0.0.1:${o.port}`,
    `  default_backend ${backend}`,
    '',
    `backend ${backend}`,
    '  option httpchk',
    `  http-check send meth GET uri ${ck.path} ver HTTP/1.1${o.checkHost ? ` hdr Host ${o.checkHost}` : ' hdr Host localhost'}`,
    '  http-check expect status 200',
    ...(o.hostHeader ? [`  http-request set-header Host ${o.hostHeader}`] : []),
    '  option redispatch',
    '  retries 1',
    `  default-server ${dflt}`,
    ...serverLines,
    '',
    'listen stats',
    `  bind 127.0.0.1:${o.statsPort}`,
    '  stats enable',
    '  stats uri /stats',
    '  stats refresh 5s',
    '',
  ].join('\n');
}

export async function startHaproxy(o: HaproxyOptions): Promise<HaproxyHandle> {
  const bin = o.bin ?? findHaproxy();
  if (!bin) throw new Error('haproxy binary not found (apt-get install haproxy, or set VPM_HAPROXY_BIN)');
  fs.mkdirSync(o.dir, { recursive: true });
  const socket = path.join(o.dir, 'admin.sock');
  fs.rmSync(socket, { force: true });
  const port = o.port ?? (await freePort());
  const statsPort = await freePort();
  const configFile = path.join(o.dir, 'haproxy.cfg');
  fs.writeFileSync(configFile, haproxyConfig({ ...o, socket, port, statsPort }));
  execCheck(bin, configFile);
  const logDir = o.logDir ?? o.dir;
  fs.mkdirSync(logDir, { recursive: true });
  const fd = fs.openSync(path.join(logDir, 'haproxy.log'), 'a');
  const child = spawn(bin, ['-db', '-f', configFile], { stdio: ['ignore', fd, fd] });
  fs.closeSync(fd);
  let exited = false;
  const exitP = new Promise<void>((r) => child.once('exit', () => ((exited = true), r())));
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (exited) throw new Error(`haproxy exited during start; see ${path.join(logDir, 'haproxy.log')}`);
    try {
      if ((await haproxyCommand(socket, 'show info', 1000)).includes('Name: HAProxy')) break;
    } catch {
      /* not yet */
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error('haproxy not ready after 15s');
    }
    await sleep(50);
  }
  const backend = o.backend ?? 'edge';
  return {
    frontendUrl: `http://127.0.0.1:${port}`,
    socket,
    statsUrl: `http://127.0.0.1:${statsPort}/stats`,
    backend,
    servers: { ...o.servers },
    pid: child.pid!,
    configFile,
    command: (cmd) => haproxyCommand(socket, cmd),
    async stop() {
      if (exited) return;
      child.kill('SIGTERM');
      await Promise.race([exitP, sleep(3000)]);
      if (!exited) {
        child.kill('SIGKILL');
        await exitP;
      }
      fs.rmSync(socket, { force: true });
    },
  };
}

function execCheck(bin: string, cfg: string): void {
  try {
    execFileSync(bin, ['-c', '-q', '-f', cfg], { stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e: any) {
    throw new Error(`haproxy config invalid: ${e.stderr?.toString() ?? e.message}`);
  }
}
