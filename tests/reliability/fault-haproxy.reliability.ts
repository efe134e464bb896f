/**
 * Fault injection for `vpm failover`: the HAProxy admin socket gone (missing path, renamed away, a
 * regular file, a directory, a stale socket nobody listens on, a read-only `level operator` socket),
 * before the run and in the middle of an `--auto` run. Real HAProxy in front of two tiny local
 * backends (no Kubernetes needed). Each ends in a clear error with the documented exit code and
 * HAProxy's server states exactly as they were: nothing half-switched.
 */
import { afterAll, beforeAll, describe, it } from 'vitest';
import { execa } from 'execa';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { requireTestenv } from '../support/testenv.ts';
import { haproxyCommand, parseServersState, startHaproxy, type HaproxyHandle } from '../support/haproxy.ts';
import { openCase, type Trial } from './support/ledger.ts';
import { errorProblems, integrityProblems, spawnVpm, vpmProcess } from './support/vpm.ts';
import { removeDir, tempRepo } from './support/tmp.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function backend(name: string): { server: Server; port: () => number; fail: (on: boolean) => void } {
  let failing = false;
  const server = createServer((_req, res) => {
    res.writeHead(failing ? 503 : 200, { 'content-type': 'text/plain', 'x-backend': name });
    res.end(failing ? 'down\n' : `ok from ${name}\n`);
  });
  return { server, port: () => (server.address() as AddressInfo).port, fail: (on) => (failing = on) };
}

describe.skipIf(!requireTestenv({ haproxy: true }))('fault injection: HAProxy admin socket gone', () => {
  const a = backend('a');
  const b = backend('b');
  let hp: HaproxyHandle;
  let dir: string;

  /** srv_admin_state of every server of backend edge, read through the real socket. */
  const adminStates = async () =>
    Object.fromEntries(
      parseServersState(await haproxyCommand(hp.socket, 'show servers state edge')).map((s) => [s.srv_name, s.srv_admin_state]),
    );

  beforeAll(async () => {
    await Promise.all([a, b].map((x) => new Promise<void>((r) => x.server.listen(0, '127.0.0.1', () => r()))));
    dir = tempRepo('haproxy');
    hp = await startHaproxy({
      dir: join(dir, 'haproxy'),
      servers: { a: `127.0.0.1:${a.port()}`, b: `127.0.0.1:${b.port()}` },
      backupB: true,
      check: { inter: '200ms', fall: 2, rise: 1 },
      extraSockets: [{ path: join(dir, 'haproxy', 'operator.sock'), level: 'operator' }],
    });
    // Both servers healthy before any case starts.
    for (let i = 0; i < 50; i++) {
      const st = parseServersState(await haproxyCommand(hp.socket, 'show servers state edge'));
      if (st.length === 2 && st.every((s) => s.srv_op_state === '2')) break;
      await sleep(100);
    }
  });

  afterAll(async () => {
    await hp?.stop();
    for (const x of [a, b]) x.server.close();
    if (dir) removeDir(dir);
  });

  async function unchanged(t: Trial, before: Record<string, string>): Promise<void> {
    t.same(await adminStates(), before, 'HAProxy admin states after the failed failover (nothing may change)');
  }

  it('socket missing, moved, not a socket, stale or read-only: a clear error, exit code as documented, nothing changed', async ({
    task,
  }) => {
    const c = openCase(task, 'fault', 'HAProxy socket gone');
    const stale = join(dir, 'stale.sock');
    // A socket file nobody listens on: its listener was SIGKILLed.
    const listener = execa(
      process.execPath,
      ['-e', `require('net').createServer().listen(${JSON.stringify(stale)}, () => console.log('up'))`],
      { reject: false },
    );
    for (let i = 0; i < 100 && !existsSync(stale); i++) await sleep(20);
    listener.kill('SIGKILL');
    await listener;
    writeFileSync(join(dir, 'regular.sock'), 'not a socket\n');
    mkdirSync(join(dir, 'dir.sock'), { recursive: true });

    const cases: Array<{
      name: string;
      socket: () => string;
      via: 'flag' | 'config';
      codes: number[];
      message: RegExp;
      setup?: () => void;
      teardown?: () => void;
    }> = [
      { name: 'path does not exist', socket: () => join(dir, 'nope', 'admin.sock'), via: 'flag', codes: [2], message: /does not exist/ },
      {
        name: 'socket renamed away (config)',
        socket: () => hp.socket,
        via: 'config',
        codes: [2],
        message: /does not exist/,
        setup: () => renameSync(hp.socket, `${hp.socket}.away`),
        teardown: () => renameSync(`${hp.socket}.away`, hp.socket),
      },
      { name: 'a regular file', socket: () => join(dir, 'regular.sock'), via: 'flag', codes: [2], message: /not a (unix )?socket/ },
      { name: 'a directory', socket: () => join(dir, 'dir.sock'), via: 'flag', codes: [2], message: /not a (unix )?socket/ },
      { name: 'stale socket, nobody listening', socket: () => stale, via: 'flag', codes: [1], message: /refused the connection/ },
      {
        name: 'read-only socket (level operator)',
        socket: () => join(dir, 'haproxy', 'operator.sock'),
        via: 'flag',
        codes: [1],
        message: /level 'operator'.*nothing was changed/,
      },
    ];
    for (const k of cases) {
      for (const mode of [['--yes'], ['--drill', '--yes'], ['--dry-run']]) {
        const cwd = tempRepo(
          'failover',
          k.via === 'config' ? { 'vpm.config.yaml': `failover:\n  socket: ${JSON.stringify(k.socket())}\n` } : {},
        );
        const ok = await c.trial(`${k.name}: vpm failover ${mode.join(' ')}`, async (t) => {
          t.context = { cwd };
          const before = await adminStates();
          k.setup?.();
          let r;
          try {
            r = await vpmProcess(
              ['--json', 'failover', '--from', 'a', '--to', 'b', ...mode, ...(k.via === 'flag' ? ['--socket', k.socket()] : [])],
              { cwd, timeoutMs: 60_000 },
            );
          } finally {
            k.teardown?.();
          }
          if (k.name.startsWith('read-only') && mode[0] === '--dry-run') {
            // A dry run only reads, which level operator allows; it must show the level it found.
            t.add(errorProblems(r, { codes: [0], json: true }));
            t.same(r.exitCode === 0 ? JSON.parse(r.stdout).cli_level : null, 'operator', 'cli_level reported by the dry run');
          } else {
            t.add(errorProblems(r, { codes: k.codes, json: true }));
            t.check(k.message.test(r.stderr), () => `the error does not say what is wrong with the socket: ${r.stderr.slice(0, 300)}`);
          }
          await unchanged(t, before);
          t.check(
            !existsSync(join(cwd, 'reports', 'failover')) || readdirSync(join(cwd, 'reports', 'failover')).length === 0,
            'a refused failover wrote evidence of a switch',
          );
        });
        if (ok) removeDir(cwd);
      }
    }
    c.finish();
  });

  it('socket gone in the middle of an --auto failover: the switch fails clearly, nothing is left half-switched, evidence says so', async ({
    task,
  }) => {
    const c = openCase(task, 'fault', 'HAProxy socket gone mid-run');
    for (let i = 0; i < 2; i++) {
      const cwd = tempRepo('failover-auto');
      const ok = await c.trial('vpm failover --auto: socket removed, then the active server fails', async (t) => {
        t.context = { cwd };
        const before = await adminStates();
        const child = spawnVpm(
          [
            '--json',
            'failover',
            '--from',
            'a',
            '--to',
            'b',
            '--auto',
            '--yes',
            '--socket',
            hp.socket,
            '--interval',
            '50ms',
            '--fail-after',
            '2',
            '--timeout',
            '30s',
            '--steady',
            '3',
          ],
          { cwd, timeoutMs: 60_000 },
        );
        // Wait until it watches (its preflight is done and it prints so), then take the socket away and fail a.
        const seen = Date.now();
        let err = '';
        child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
        for (let w = 0; w < 600 && !/watching edge\/a/.test(err); w++) await sleep(50);
        t.check(/watching edge\/a/.test(err), `vpm failover --auto never started watching: ${err.slice(0, 300)}`);
        await sleep(200);
        renameSync(hp.socket, `${hp.socket}.away`);
        a.fail(true);
        let r;
        try {
          r = await child;
        } finally {
          a.fail(false);
          renameSync(`${hp.socket}.away`, hp.socket);
        }
        const run = { exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr), durationMs: Date.now() - seen };
        t.add(errorProblems(run, { codes: [1], json: true, silentOk: true }));
        await unchanged(t, before);
        const files = existsSync(join(cwd, 'reports', 'failover')) ? readdirSync(join(cwd, 'reports', 'failover')) : [];
        if (t.check(files.length === 1, `expected one failover evidence file, found ${files.length}`)) {
          const ev = JSON.parse(readFileSync(join(cwd, 'reports', 'failover', files[0]), 'utf8'));
          t.check(ev.status !== 'ok' && ev.verdict !== 'ok', `evidence claims success: ${ev.verdict}`);
          t.check(
            /socket|does not exist|ENOENT/i.test(JSON.stringify(ev.message ?? ev)),
            `evidence does not say the socket failed: ${String(ev.message).slice(0, 200)}`,
          );
        }
        t.check(
          /socket|does not exist/i.test(run.stdout + run.stderr),
          () => `the output does not say the socket failed: ${(run.stdout + run.stderr).slice(0, 300)}`,
        );
        t.add(await integrityProblems(cwd));
      });
      if (ok) removeDir(cwd);
      await sleep(500);
    }
    c.finish();
  });
});
