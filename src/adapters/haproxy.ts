/**
 * HAProxy Runtime API over its admin socket (`stats socket … level admin`): the only code in vpm that
 * opens that socket. One command per connection (HAProxy's non-interactive mode), names validated so
 * nothing can smuggle a second command (`;`, newlines) into a line, and every table parsed by its
 * header names — never by column position, which changes between HAProxy versions.
 */
import net from 'node:net';
import { statSync } from 'node:fs';
import { OperationalError, UsageError } from '../core/errors.js';

/** `srv_op_state` values (HAProxy `enum srv_state`). */
const OP_STATES = ['STOPPED', 'STARTING', 'RUNNING', 'STOPPING'] as const;
type OpStateName = (typeof OP_STATES)[number] | 'UNKNOWN';

/** `srv_admin_state` bits (HAProxy `enum srv_admin`). */
const ADMIN_BITS = {
  FMAINT: 0x01, // forced maintenance (set server … state maint)
  IMAINT: 0x02, // inherited from a tracked server
  CMAINT: 0x04, // `disabled` in the configuration
  FDRAIN: 0x08, // forced drain
  IDRAIN: 0x10, // inherited drain
  RMAINT: 0x20, // DNS resolution failed
  HMAINT: 0x40, // hostname changed at run time
} as const;
const MAINT_MASK = ADMIN_BITS.FMAINT | ADMIN_BITS.IMAINT | ADMIN_BITS.CMAINT | ADMIN_BITS.RMAINT | ADMIN_BITS.HMAINT;
const DRAIN_MASK = ADMIN_BITS.FDRAIN | ADMIN_BITS.IDRAIN;

export type AdminState = 'ready' | 'drain' | 'maint';

export interface ServerState {
  backend: string;
  server: string;
  address: string;
  port: number | null;
  /** Operational state from health checks / tracking. */
  op_state: OpStateName;
  /** Administrative state set by operators (what `set server … state` changes). */
  admin_state: AdminState;
  admin_bits: number;
  /** True when the server can take traffic: not in maintenance and operationally RUNNING. */
  serving: boolean;
  weight: number | null;
  check_health: number | null;
  /** The full row keyed by HAProxy's own header names, for the evidence. */
  raw: Record<string, string>;
}

export interface StatRow {
  pxname: string;
  svname: string;
  /** `UP`, `DOWN`, `MAINT`, `DRAIN`, `no check`, `UP 1/2`, … */
  status: string;
  backup: boolean;
  check_status: string;
  raw: Record<string, string>;
}

/** Backend and server names as HAProxy allows them; anything else could inject a command. */
const NAME = /^[A-Za-z0-9_.:-]{1,128}$/;

export function assertHaproxyName(value: string, what: 'backend' | 'server'): void {
  if (!NAME.test(value)) {
    throw new UsageError(`${what} name '${value}' is not a valid HAProxy ${what} name`, {
      hint: 'names may contain letters, digits and . _ : - only',
    });
  }
}

function intOrNull(value: string | undefined): number | null {
  if (value === undefined || value === '' || value === '-') return null;
  const n = Number(value);
  return Number.isFinite(n) ? n : null;
}

/**
 * Parses `show servers state [<backend>]`: a version line (`1`), a `# be_id be_name …` header, then
 * one whitespace-separated row per server. Fields are looked up by the header's names.
 */
export function parseServersState(text: string): ServerState[] {
  const lines = text
    .split('\n')
    .map((l) => l.trimEnd())
    .filter((l) => l.trim() !== '');
  const headerIdx = lines.findIndex((l) => l.startsWith('#'));
  if (headerIdx < 0) return [];
  const names = lines[headerIdx].replace(/^#\s*/, '').trim().split(/\s+/);
  const need = ['be_name', 'srv_name', 'srv_op_state', 'srv_admin_state'];
  const missing = need.filter((n) => !names.includes(n));
  if (missing.length)
    throw new OperationalError(`unexpected 'show servers state' header (missing ${missing.join(', ')}): ${lines[headerIdx]}`);
  return lines
    .slice(headerIdx + 1)
    .filter((l) => !l.startsWith('#'))
    .map((line) => {
      const values = line.trim().split(/\s+/);
      const raw = Object.fromEntries(names.map((n, i) => [n, values[i] ?? '']));
      const op = intOrNull(raw.srv_op_state);
      const bits = intOrNull(raw.srv_admin_state) ?? 0;
      const admin: AdminState = bits & MAINT_MASK ? 'maint' : bits & DRAIN_MASK ? 'drain' : 'ready';
      const opState: OpStateName = op !== null && op >= 0 && op < OP_STATES.length ? OP_STATES[op] : 'UNKNOWN';
      return {
        backend: raw.be_name,
        server: raw.srv_name,
        address: raw.srv_addr ?? '',
        port: intOrNull(raw.srv_port),
        op_state: opState,
        admin_state: admin,
        admin_bits: bits,
        serving: admin !== 'maint' && opState === 'RUNNING',
        weight: intOrNull(raw.srv_uweight),
        check_health: intOrNull(raw.srv_check_health),
        raw,
      };
    });
}

/** Parses `show stat` CSV (`# pxname,svname,…` header; trailing comma on every line). */
export function parseStatCsv(text: string): StatRow[] {
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  const headerIdx = lines.findIndex((l) => l.startsWith('#'));
  if (headerIdx < 0) return [];
  const names = lines[headerIdx]
    .replace(/^#\s*/, '')
    .split(',')
    .map((s) => s.trim());
  for (const n of ['pxname', 'svname', 'status']) {
    if (!names.includes(n)) throw new OperationalError(`unexpected 'show stat' header (missing ${n})`);
  }
  return lines
    .slice(headerIdx + 1)
    .filter((l) => !l.startsWith('#'))
    .map((line) => {
      const values = line.split(',');
      const raw = Object.fromEntries(names.map((n, i) => [n, values[i] ?? '']).filter(([n]) => n !== '' && n !== '-'));
      return {
        pxname: raw.pxname,
        svname: raw.svname,
        status: raw.status ?? '',
        backup: raw.bck === '1',
        check_status: raw.check_status ?? '',
        raw,
      };
    });
}

export interface SentCommand {
  at: number;
  command: string;
  response: string;
  ok: boolean;
}

export interface HaproxyRuntimeOptions {
  /** Per-command timeout (connect + answer), ms. */
  timeoutMs?: number;
  /** Called with every command sent and its answer (for the evidence). */
  onCommand?: (sent: SentCommand) => void;
}

/** Answers the Runtime API gives instead of an empty line when a command did not apply. */
const ERROR_ANSWER = /^(No such|Can't find|Permission denied|Unknown command|Require|Invalid|Unknown)/i;

export class HaproxyRuntime {
  readonly socketPath: string;
  private readonly timeoutMs: number;
  private readonly onCommand?: (sent: SentCommand) => void;

  constructor(socketPath: string, opts: HaproxyRuntimeOptions = {}) {
    this.socketPath = socketPath;
    this.timeoutMs = opts.timeoutMs ?? 3_000;
    this.onCommand = opts.onCommand;
  }

  /**
   * Fails fast, before any command, with a message that says what to fix: the path does not
   * exist (exit 2: wrong `failover.socket`), or is not a socket (exit 2).
   */
  checkPath(): void {
    let st;
    try {
      st = statSync(this.socketPath);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') {
        throw new UsageError(`HAProxy admin socket ${this.socketPath} does not exist`, {
          hint: "set failover.socket (or --socket / VPM_FAILOVER_SOCKET) to the path of HAProxy's `stats socket <path> level admin`, and check HAProxy is running",
        });
      }
      throw new OperationalError(`cannot access HAProxy admin socket ${this.socketPath}: ${(err as Error).message}`, {
        hint: 'run vpm as a user that may use the socket (its mode/group in `stats socket … mode … group …`)',
      });
    }
    if (!st.isSocket()) {
      throw new UsageError(`${this.socketPath} is not a unix socket`, {
        hint: "point failover.socket at the path of HAProxy's `stats socket … level admin`",
      });
    }
  }

  /** Sends one command, returns HAProxy's whole answer. Transport failures are OperationalErrors. */
  async command(cmd: string): Promise<string> {
    if (/[\n\r;]/.test(cmd))
      throw new UsageError(`refusing to send a Runtime API command containing ';' or a newline: ${JSON.stringify(cmd)}`);
    const at = Date.now();
    let response: string;
    try {
      response = await this.exchange(cmd);
    } catch (err) {
      this.onCommand?.({ at, command: cmd, response: `(${(err as Error).message})`, ok: false });
      throw this.transportError(err, cmd);
    }
    this.onCommand?.({ at, command: cmd, response: response.trim(), ok: !ERROR_ANSWER.test(response.trim()) });
    return response;
  }

  private exchange(cmd: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const socket = net.createConnection(this.socketPath);
      let out = '';
      let settled = false;
      const done = (err: Error | null) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        socket.destroy();
        if (err) reject(err);
        else resolve(out);
      };
      const timer = setTimeout(
        () => done(Object.assign(new Error(`no answer within ${this.timeoutMs} ms`), { code: 'ETIMEDOUT' })),
        this.timeoutMs,
      );
      socket.setEncoding('utf8');
      socket.on('connect', () => socket.write(`${cmd}\n`));
      socket.on('data', (d: string) => (out += d));
      socket.on('end', () => done(null));
      socket.on('error', (e) => done(e));
    });
  }

  private transportError(err: unknown, cmd: string): OperationalError {
    const code = (err as NodeJS.ErrnoException).code;
    const where = `HAProxy admin socket ${this.socketPath}`;
    if (code === 'ENOENT')
      return new UsageError(`${where} does not exist`, { hint: "set failover.socket (or --socket) to HAProxy's `stats socket` path" });
    if (code === 'EACCES' || code === 'EPERM') {
      return new OperationalError(`${where}: permission denied`, {
        hint: "run vpm as a user allowed by the socket's mode/group (stats socket … mode 660 group haproxy)",
      });
    }
    if (code === 'ECONNREFUSED')
      return new OperationalError(`${where} refused the connection: HAProxy is not listening there`, {
        hint: 'start HAProxy, or fix failover.socket',
        retryable: true,
      });
    if (code === 'ENOTSOCK') return new UsageError(`${where} is not a socket`, { hint: 'fix failover.socket' });
    return new OperationalError(`${where}: '${cmd}' failed: ${(err as Error).message}`, { retryable: true });
  }

  /** `show cli level`: admin, operator or user. `set server` needs admin. */
  async cliLevel(): Promise<string> {
    return (await this.command('show cli level')).trim().split('\n')[0]?.trim() ?? '';
  }

  async version(): Promise<string | null> {
    const info = await this.command('show info');
    return /^Version:\s*(.+)$/m.exec(info)?.[1]?.trim() ?? null;
  }

  async backends(): Promise<string[]> {
    const text = await this.command('show backend');
    return text
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
  }

  /** Servers of one backend; UsageError (exit 2) naming the known backends when it does not exist. */
  async serversState(backend: string): Promise<ServerState[]> {
    assertHaproxyName(backend, 'backend');
    const text = await this.command(`show servers state ${backend}`);
    if (/^(Can't find backend|No such backend)/im.test(text.trim())) {
      const known = await this.backends().catch(() => []);
      throw new UsageError(`HAProxy has no backend '${backend}'`, {
        hint: `known backends: ${known.join(', ') || '(none)'}; set failover.backend or --backend`,
      });
    }
    return parseServersState(text);
  }

  async stat(backend: string): Promise<StatRow[]> {
    assertHaproxyName(backend, 'backend');
    const text = await this.command(`show stat ${backend} 4 -1`);
    if (/^No such proxy/im.test(text.trim())) throw new UsageError(`HAProxy has no backend '${backend}'`);
    return parseStatCsv(text).filter((r) => r.pxname === backend);
  }

  /** `set server <backend>/<server> state ready|drain|maint`; HAProxy answers an empty line on success. */
  async setServerState(backend: string, server: string, state: AdminState): Promise<void> {
    assertHaproxyName(backend, 'backend');
    assertHaproxyName(server, 'server');
    const answer = (await this.command(`set server ${backend}/${server} state ${state}`)).trim();
    if (answer !== '') {
      throw new OperationalError(`HAProxy refused 'set server ${backend}/${server} state ${state}': ${answer}`, {
        hint: /Permission denied/i.test(answer) ? 'the socket must be declared with `level admin`' : undefined,
      });
    }
  }
}
