/**
 * The one seam between commands and the outside world (the Factory/IOStreams idea from gh and
 * Vercel's Client): streams, TTY facts, cwd, env, clock and lazily loaded config. Commands never
 * touch `process.*` directly, so tests can run them in-process.
 */
import { setRepositoryRoot } from './fs.js';
import { maskingIo } from './secrets.js';
import type { Readable, Writable } from 'node:stream';
import { resolve } from 'node:path';
import { writeSync } from 'node:fs';
import { uniqueSuffix } from './ids.js';
import type { VpmConfig } from '../schemas/config.js';

export interface IOStreams {
  stdin: Readable;
  stdout: Writable;
  stderr: Writable;
  stdinIsTTY: boolean;
  stdoutIsTTY: boolean;
  stderrIsTTY: boolean;
}

/**
 * The global options as node's parseArgs takes them, for the hot paths that skip commander
 * (see hot-path-args.ts); src/cli.ts declares the same ones for commander.
 */
export const GLOBAL_PARSE_ARGS_OPTIONS = {
  json: { type: 'boolean' },
  cwd: { type: 'string' },
  verbose: { type: 'boolean' },
  debug: { type: 'boolean' },
} as const;

export interface GlobalOptions {
  cwd?: string;
  json?: boolean;
  verbose?: boolean;
  debug?: boolean;
}

export interface Ctx {
  readonly cwd: string;
  readonly env: NodeJS.ProcessEnv;
  readonly io: IOStreams;
  readonly json: boolean;
  readonly verbose: boolean;
  readonly debug: boolean;
  readonly reqId: string;
  /** The clock; tests may replace it. */
  now(): Date;
  config(): Promise<VpmConfig>;
  /** Prompts are allowed only with a TTY on both ends and never in --json mode. */
  canPrompt(): boolean;
  colorEnabled(): boolean;
  /** A status line on stderr (never on stdout, so --json output stays one document). */
  status(message: string): void;
  /** Extra fields for this command's `vpm.request` log line (token counts, ratios, …). */
  readonly requestFields: Record<string, unknown>;
}

export function createContext(opts: GlobalOptions, rawIo: IOStreams, env: NodeJS.ProcessEnv = process.env): Ctx {
  const io = maskingIo(rawIo, env);
  const cwd = resolve(opts.cwd ?? env.VPM_CWD ?? process.cwd());
  setRepositoryRoot(cwd);
  let configPromise: Promise<VpmConfig> | undefined;
  const json = Boolean(opts.json);
  return {
    cwd,
    env,
    io,
    json,
    verbose: Boolean(opts.verbose),
    debug: Boolean(opts.debug) || env.VPM_DEBUG === '1',
    reqId: `req_${uniqueSuffix()}`,
    now: () => new Date(),
    config() {
      configPromise ??= import('./config.js').then((m) => m.loadConfig(cwd, env));
      return configPromise;
    },
    canPrompt: () => io.stdinIsTTY && io.stdoutIsTTY && !json,
    colorEnabled: () => io.stderrIsTTY && env.NO_COLOR === undefined && env.TERM !== 'dumb',
    status(message: string) {
      io.stderr.write(`${message}\n`);
    },
    requestFields: {},
  };
}

/** isatty without importing node:tty up front (it pulls in node:net: ~8 ms of start-up). */
function isTTY(fd: number): boolean {
  const tty = process.getBuiltinModule('node:tty') as typeof import('node:tty');
  return tty.isatty(fd);
}

/**
 * The process's streams and TTY facts, each worked out only when first used: touching
 * `process.stdin` (or a piped `process.stdout`) builds a net/tty stream, which would cost the
 * chat-append hot path ~10 ms it does not need.
 */
export function processStreams(): IOStreams {
  return {
    get stdin() {
      return process.stdin;
    },
    get stdout() {
      return process.stdout;
    },
    get stderr() {
      return process.stderr;
    },
    get stdinIsTTY() {
      return isTTY(0);
    },
    get stdoutIsTTY() {
      return isTTY(1);
    },
    get stderrIsTTY() {
      return isTTY(2);
    },
  };
}

/**
 * For the hot path: stdout/stderr written synchronously to the descriptors (as node's own stdout
 * does for files and pipes) without constructing stream objects; everything else stays lazy.
 */
export function fdStreams(): IOStreams {
  const fdWriter = (fd: number) =>
    ({
      write(chunk: string | Uint8Array): boolean {
        if (typeof chunk === 'string') writeSync(fd, chunk);
        else writeSync(fd, chunk);
        return true;
      },
    }) as unknown as Writable;
  const io = processStreams();
  Object.defineProperties(io, {
    stdout: { value: fdWriter(1) },
    stderr: { value: fdWriter(2) },
  });
  return io;
}
