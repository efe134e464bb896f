/**
 * The one seam between commands and the outside world (the Factory/IOStreams idea from gh and
 * Vercel's Client): streams, TTY facts, cwd, env, clock and lazily loaded config. Commands never
 * touch `process.*` directly or build their own clients, so tests can run them in-process.
 */
import { setRepositoryRoot } from './fs.js';
import { maskingIo } from './secrets.js';
import { writeSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import type { GithubClient } from '../adapters/github.js';
import type { HaproxyRuntime, HaproxyRuntimeOptions } from '../adapters/haproxy.js';
import type { KubeClient } from '../adapters/kube.js';
import type { Executor } from '../adapters/exec.js';
import type { RepoNeed, GlobalFlags } from '../cli/spec.js';
import type { SloProvider } from '../deploy/providers/types.js';
import type { RepoSession, SessionOptions } from '../git/session.js';
import type { VpmConfig } from '../schemas/config.js';
import { uniqueSuffix } from './ids.js';
import { findRepoRoot, NotInRepositoryError, processDirectory, startDirectory } from './repo-root.js';

export interface IOStreams {
  stdin: Readable;
  stdout: Writable;
  stderr: Writable;
  stdinIsTTY: boolean;
  stdoutIsTTY: boolean;
  stderrIsTTY: boolean;
}

export interface ContextOptions extends GlobalFlags {
  /** Whether the command needs a repository (see RepoNeed). */
  repo?: RepoNeed;
  /** The process's working directory (tests pass their own). */
  processCwd?: string;
}

export interface KubeFlags {
  context?: string;
  namespace?: string;
  kubeconfig?: string;
}

export interface Ctx {
  /** The repository root: every state path (logs/, memory.json, STATE/, .ops/, reports/, codex/) is relative to it. */
  readonly root: string;
  /** Where vpm was started (or --cwd): user-given relative paths are resolved from here. */
  readonly startDir: string;
  readonly env: NodeJS.ProcessEnv;
  readonly io: IOStreams;
  readonly json: boolean;
  readonly verbose: boolean;
  readonly debug: boolean;
  readonly reqId: string;
  /** The clock; tests may replace it. */
  now(): Date;
  config(): Promise<VpmConfig>;
  /** A path the user gave (argument or flag), resolved as their shell would: from startDir. */
  userPath(path: string): string;
  /** Prompts are allowed only with a TTY on both ends and never in --json mode. */
  canPrompt(): boolean;
  colorEnabled(): boolean;
  /** A status line on stderr (never on stdout, so --json output stays one document). */
  status(message: string): void;
  /** Extra fields for this command's `vpm.request` log line (token counts, ratios, …). */
  readonly requestFields: Record<string, unknown>;

  // The factory: the only way commands reach the outside. Each client is built on first use.
  /** git at the repository's top level (simple-git); options for hot paths (see SessionOptions). */
  git(opts?: SessionOptions): Promise<RepoSession>;
  /** A Kubernetes client for one context: flag > VPM_* env / config > the kubeconfig's own default. */
  kube(flags: KubeFlags): Promise<KubeClient>;
  /** The GitHub REST client (repo: explicit owner/name from a --repo flag). */
  github(opts?: { repo?: string; timeoutMs?: number }): Promise<GithubClient>;
  /** HAProxy's Runtime API on an admin socket. */
  haproxy(socket: string, opts?: HaproxyRuntimeOptions): Promise<HaproxyRuntime>;
  /** The SLO provider reading Knative's queue-proxy metrics from Prometheus at `url`. */
  prometheus(url: string, opts?: { scrapeIntervalMs?: number }): Promise<SloProvider>;
  /** Runs programs (argv, never a shell) with a filtered environment. */
  exec(): Promise<Executor>;
}

export function createContext(opts: ContextOptions, rawIo: IOStreams, env: NodeJS.ProcessEnv = process.env): Ctx {
  // The one masking sink for what vpm prints: every byte to stdout/stderr passes it.
  const io = maskingIo(rawIo, env);
  const startDir = startDirectory(opts.cwd, env, opts.processCwd ?? processDirectory());
  const need = opts.repo ?? 'optional';
  const found = need === 'none' ? undefined : findRepoRoot(startDir);
  if (need === 'required' && found === undefined) throw new NotInRepositoryError(startDir);
  const root = found ?? startDir;
  setRepositoryRoot(root);
  let configPromise: Promise<VpmConfig> | undefined;
  const json = Boolean(opts.json);
  const debug = Boolean(opts.debug) || env.VPM_DEBUG === '1';
  const ctx: Ctx = {
    root,
    startDir,
    env,
    io,
    json,
    verbose: Boolean(opts.verbose),
    debug,
    reqId: `req_${uniqueSuffix()}`,
    now: () => new Date(),
    config() {
      configPromise ??= import('./config.js').then((m) => m.loadConfig(root, env));
      return configPromise;
    },
    userPath: (path) => resolve(startDir, path),
    canPrompt: () => io.stdinIsTTY && io.stdoutIsTTY && !json,
    colorEnabled: () => io.stderrIsTTY && env.NO_COLOR === undefined && env.TERM !== 'dumb',
    status(message: string) {
      io.stderr.write(`${message}\n`);
    },
    requestFields: {},
    async git(o = {}) {
      const { openRepoSession } = await import('../git/session.js');
      return openRepoSession(root, env, { trace: debug ? (l) => ctx.status(`debug: ${l}`) : undefined, ...o });
    },
    async kube(flags) {
      const [config, { KubeClient }] = await Promise.all([ctx.config(), import('../adapters/kube.js')]);
      return KubeClient.connect({
        context: flags.context ?? config.kube?.context,
        namespace: flags.namespace ?? config.kube?.namespace,
        kubeconfig: flags.kubeconfig === undefined ? undefined : ctx.userPath(flags.kubeconfig),
        env,
      });
    },
    async github(o = {}) {
      const [config, { createGithubClient }] = await Promise.all([ctx.config(), import('../adapters/github.js')]);
      return createGithubClient({ env, config, repo: o.repo, timeoutMs: o.timeoutMs });
    },
    async haproxy(socket, o) {
      const { HaproxyRuntime } = await import('../adapters/haproxy.js');
      return new HaproxyRuntime(socket, o);
    },
    async prometheus(url, o = {}) {
      const { prometheusProvider } = await import('../deploy/providers/prometheus.js');
      return prometheusProvider({ url, ...o });
    },
    async exec() {
      return (await import('../adapters/exec.js')).execaExecutor;
    },
  };
  return ctx;
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
