/**
 * HAProxy Runtime API adapter: parsing by header name (never by column position), command safety,
 * transport errors mapped to clear errors. A real HAProxy is exercised in
 * tests/integration/failover.test.ts; here a strict fake socket checks what is sent.
 */
import { describe, expect, it, afterEach } from 'vitest';
import net from 'node:net';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { HaproxyRuntime, parseServersState, parseStatCsv, assertHaproxyName } from '../../src/adapters/haproxy.js';

// Verbatim from HAProxy 2.6.12 (`show servers state edge`).
const STATE_26 = `1
# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port srv_check_addr srv_agent_addr srv_agent_port
3 edge 1 a 127.0.0.1 2 0 1 1 5 15 3 4 6 0 0 0 - 18081 - 0 0 - - 0
3 edge 2 b 127.0.0.1 0 1 1 1 0 15 3 0 14 0 0 0 - 18082 - 0 0 - - 0

`;

/** The same servers with the columns in another order and an extra column, as a future HAProxy might print. */
const STATE_REORDERED = `1
# srv_name srv_port be_name srv_admin_state srv_addr srv_new_field srv_op_state srv_check_health srv_uweight be_id srv_id
a 18081 edge 0 127.0.0.1 x 2 4 1 3 1
b 18082 edge 1 127.0.0.1 y 0 0 1 3 2
`;

const STAT_HEADER =
  '# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,weight,act,bck,chkfail,chkdown,lastchg,downtime,qlimit,pid,iid,sid,throttle,lbtot,tracked,type,rate,rate_lim,rate_max,check_status,check_code,';

describe('parseServersState', () => {
  it('reads HAProxy 2.6 output by header name', () => {
    const [a, b] = parseServersState(STATE_26);
    expect(a).toMatchObject({
      backend: 'edge',
      server: 'a',
      address: '127.0.0.1',
      port: 18081,
      op_state: 'RUNNING',
      admin_state: 'ready',
      serving: true,
      check_health: 4,
    });
    expect(b).toMatchObject({ server: 'b', port: 18082, op_state: 'STOPPED', admin_state: 'maint', admin_bits: 1, serving: false });
    expect(a.raw.srv_check_state).toBe('6');
  });

  it('gives the same answer when the columns move or new ones appear', () => {
    const strip = (s: ReturnType<typeof parseServersState>) => s.map(({ raw: _raw, ...rest }) => rest);
    expect(strip(parseServersState(STATE_REORDERED))).toEqual(
      strip(parseServersState(STATE_26)).map((s) => ({ ...s, check_health: s.check_health })),
    );
  });

  it('decodes the admin-state bits: drain, config-disabled, DNS maintenance', () => {
    const row = (bits: number, op = 2) => `1\n# be_name srv_name srv_op_state srv_admin_state\nedge s ${op} ${bits}\n`;
    expect(parseServersState(row(0x08))[0]).toMatchObject({ admin_state: 'drain', serving: true });
    expect(parseServersState(row(0x04))[0]).toMatchObject({ admin_state: 'maint', serving: false });
    expect(parseServersState(row(0x20))[0]).toMatchObject({ admin_state: 'maint' });
    expect(parseServersState(row(0, 3))[0]).toMatchObject({ op_state: 'STOPPING', serving: false });
    expect(parseServersState(row(0, 9))[0]).toMatchObject({ op_state: 'UNKNOWN', serving: false });
  });

  it('rejects a header without the fields it needs instead of guessing', () => {
    expect(() => parseServersState('1\n# be_id srv_id\n3 1\n')).toThrow(/missing be_name, srv_name, srv_op_state, srv_admin_state/);
  });
});

describe('parseStatCsv', () => {
  it('reads rows by header name, including the backup flag', () => {
    const text = `${STAT_HEADER}\nedge,a,0,0,0,0,,0,0,0,,0,,0,0,0,0,UP,1,1,0,0,0,1,0,,1,3,1,,0,,2,0,,0,L7OK,200,\nedge,b,0,0,0,0,,0,0,0,,0,,0,0,0,0,MAINT,1,0,1,0,0,1,0,,1,3,2,,0,,2,0,,0,,,\n`;
    const rows = parseStatCsv(text);
    expect(rows).toHaveLength(2);
    expect(rows[0]).toMatchObject({ pxname: 'edge', svname: 'a', status: 'UP', backup: false, check_status: 'L7OK' });
    expect(rows[1]).toMatchObject({ svname: 'b', status: 'MAINT', backup: true });
  });

  it('does not depend on column order', () => {
    const text = '# status,svname,bck,pxname\nUP 1/3,a,1,edge\n';
    expect(parseStatCsv(text)[0]).toMatchObject({ pxname: 'edge', svname: 'a', status: 'UP 1/3', backup: true });
  });
});

describe('names', () => {
  it('refuses names that could smuggle a second command into the line', () => {
    for (const bad of ['a;shutdown sessions', 'a b', 'a\nshow info', '', 'x'.repeat(200)]) {
      expect(() => assertHaproxyName(bad, 'server')).toThrow(/not a valid HAProxy server name/);
    }
    for (const good of ['a', 'web-1', 'srv_2.eu:x']) expect(() => assertHaproxyName(good, 'server')).not.toThrow();
  });
});

/** A strict fake admin socket: answers only the commands it was told to expect, in order. */
function fakeSocket(script: Array<[command: string, answer: string]>) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vpm-hap-'));
  const socket = path.join(dir, 'admin.sock');
  const received: string[] = [];
  const server = net.createServer((c) => {
    let buf = '';
    c.setEncoding('utf8');
    c.on('data', (d: string) => {
      buf += d;
      if (!buf.endsWith('\n')) return;
      const cmd = buf.trimEnd();
      received.push(cmd);
      const next = script.shift();
      c.end(next && next[0] === cmd ? `${next[1]}\n` : `Unknown command: unexpected '${cmd}'\n`);
    });
  });
  return {
    socket,
    received,
    remaining: script,
    listen: () => new Promise<void>((r) => server.listen(socket, () => r())),
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

describe('HaproxyRuntime', () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0)) await c();
  });

  it('sends one command per connection and records each with its answer', async () => {
    const fake = fakeSocket([
      ['show cli level', 'admin\n'],
      ['show servers state edge', STATE_26],
      ['set server edge/b state ready', ''],
    ]);
    await fake.listen();
    cleanups.push(fake.close);
    const log: Array<{ command: string; ok: boolean }> = [];
    const rt = new HaproxyRuntime(fake.socket, { onCommand: (c) => log.push(c) });
    rt.checkPath();
    expect(await rt.cliLevel()).toBe('admin');
    expect((await rt.serversState('edge')).map((s) => s.server)).toEqual(['a', 'b']);
    await rt.setServerState('edge', 'b', 'ready');
    expect(fake.received).toEqual(['show cli level', 'show servers state edge', 'set server edge/b state ready']);
    expect(fake.remaining).toEqual([]);
    expect(log.map((l) => [l.command, l.ok])).toEqual([
      ['show cli level', true],
      ['show servers state edge', true],
      ['set server edge/b state ready', true],
    ]);
  });

  it('turns HAProxy refusals into errors that quote HAProxy', async () => {
    const fake = fakeSocket([
      ['set server edge/zz state maint', 'No such server.\n'],
      ['set server edge/a state maint', 'Permission denied\n'],
      ['show servers state nope', "Can't find backend.\n"],
      ['show backend', '# name\nedge\n'],
    ]);
    await fake.listen();
    cleanups.push(fake.close);
    const rt = new HaproxyRuntime(fake.socket);
    await expect(rt.setServerState('edge', 'zz', 'maint')).rejects.toThrow(
      /HAProxy refused 'set server edge\/zz state maint': No such server/,
    );
    await expect(rt.setServerState('edge', 'a', 'maint')).rejects.toMatchObject({
      message: expect.stringMatching(/Permission denied/),
      hint: expect.stringMatching(/level admin/),
    });
    await expect(rt.serversState('nope')).rejects.toMatchObject({
      exitCode: 2,
      message: "HAProxy has no backend 'nope'",
      hint: expect.stringMatching(/known backends: edge/),
    });
  });

  it('refuses to send a line with a command separator, before connecting', async () => {
    const rt = new HaproxyRuntime('/nonexistent/admin.sock');
    await expect(rt.command('show info; shutdown frontend fe')).rejects.toMatchObject({ exitCode: 2 });
    await expect(rt.setServerState('edge', 'a;b', 'maint')).rejects.toMatchObject({ exitCode: 2 });
  });

  it('explains a missing path (exit 2), a non-socket (exit 2) and a dead socket (exit 1)', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vpm-hap-'));
    expect(() => new HaproxyRuntime(path.join(dir, 'none.sock')).checkPath()).toThrow(
      expect.objectContaining({ exitCode: 2, message: expect.stringMatching(/does not exist/) }),
    );
    fs.writeFileSync(path.join(dir, 'file'), '');
    expect(() => new HaproxyRuntime(path.join(dir, 'file')).checkPath()).toThrow(
      expect.objectContaining({ exitCode: 2, message: expect.stringMatching(/not a unix socket/) }),
    );
    // A socket file nobody listens on any more (HAProxy stopped without removing it).
    const stale = path.join(dir, 'stale.sock');
    const s = net.createServer();
    await new Promise<void>((r) => s.listen(stale, () => r()));
    s.close();
    await new Promise((r) => setTimeout(r, 20));
    if (fs.existsSync(stale)) {
      await expect(new HaproxyRuntime(stale).command('show info')).rejects.toMatchObject({
        exitCode: 1,
        message: expect.stringMatching(/refused the connection/),
      });
    } else {
      await expect(new HaproxyRuntime(stale).command('show info')).rejects.toMatchObject({ exitCode: 2 });
    }
  });

  it('gives up on a socket that never answers, within its timeout', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vpm-hap-'));
    const socket = path.join(dir, 'mute.sock');
    const conns: net.Socket[] = [];
    const server = net.createServer((c) => void conns.push(c));
    await new Promise<void>((r) => server.listen(socket, () => r()));
    cleanups.push(
      () =>
        new Promise<void>((r) => {
          for (const c of conns) c.destroy();
          server.close(() => r());
        }),
    );
    const t0 = Date.now();
    await expect(new HaproxyRuntime(socket, { timeoutMs: 200 }).command('show info')).rejects.toThrow(/no answer within 200 ms/);
    expect(Date.now() - t0).toBeLessThan(2_000);
  });
});
