/**
 * vpm test environment: real etcd + kube-apiserver(s) started the way controller-runtime's envtest
 * does, the project's minimal Knative/Argo CD CRDs, the Knative and Argo CD simulators, and on
 * request real Prometheus and HAProxy.
 *
 * Two ways to get one:
 *  - `npm run testenv:up [-- --clusters 2 --prometheus --haproxy]` starts a detached supervisor
 *    (tests/support/cli.ts) and prints `export KUBECONFIG=…`; `npm run testenv:down` stops it.
 *  - vitest: tests/support/global-setup.ts runs a supervisor inside vitest's main process. It starts
 *    nothing until a suite asks: suites call `requireTestenv()` (skip/fail decision, synchronous)
 *    and `await useTestenv({...})` in `beforeAll`, which asks the supervisor (over a loopback HTTP
 *    control API) to start what is missing, once, shared by every test file. Teardown stops it all.
 *    If `.testenv/` already holds a live `testenv:up` environment, the tests reuse it (and leave it).
 *
 * Layout of `.testenv/` (override with VPM_TESTENV_DIR): kubeconfig, state.json (pids, ports,
 * control URL), pki/, logs/<process>.log, etcd/, prometheus/, haproxy/.
 *
 * Clusters and contexts: the first cluster is `cluster-a` (current-context; alias context
 * `vpm-test` points at it too), the second `cluster-b`. Each cluster is its own kube-apiserver
 * (own port, own admin token, own Knative simulator) on one shared etcd (separate key prefixes).
 * Argo CD simulator: on cluster-a, namespace `argocd`, destinations `cluster-a`/`cluster-b` (by
 * `spec.destination.name`, or `server`: the cluster's URL or https://kubernetes.default.svc = a).
 *
 * Binaries: VPM_TESTENV_ASSETS or KUBEBUILDER_ASSETS (dir with kube-apiserver + etcd), else
 * ~/.cache/vpm-testenv/<k8s-version>/ (built by tests/testenv/install.sh; VPM_TESTENV_CACHE).
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { randomBytes, generateKeyPairSync } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments, stringify } from 'yaml';
import { KubeConfig } from '@kubernetes/client-node';
import { Kube, type KObj } from './kube.ts';
import { KnativeSim } from './knative-sim.ts';
import { ArgoCdSim } from './argocd-sim.ts';
import { RealArgoCd } from './argocd-real.ts';
import { RealKnative } from './knative-real.ts';
import { startPrometheus, type PrometheusHandle } from './prometheus.ts';
import { startHaproxy, type HaproxyHandle, type HaproxyOptions } from './haproxy.ts';
import { freePort } from './net.ts';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const K8S_VERSION = (() => {
  try {
    const m = /\tk8s\.io\/kubernetes v(\S+)/.exec(fs.readFileSync(path.join(REPO_ROOT, 'tests/testenv/go.mod'), 'utf8'));
    return m?.[1] ?? '1.34.4';
  } catch {
    return '1.34.4';
  }
})();
const CLUSTER_NAMES = ['cluster-a', 'cluster-b'] as const;
const DEFAULT_CONTEXT = 'cluster-a';
const ALIAS_CONTEXT = 'vpm-test';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------
// Binaries

export type Assets = { dir: string; kubeApiserver: string; etcd: string; source: string };

function cacheDir(): string {
  return path.join(process.env.VPM_TESTENV_CACHE ?? path.join(os.homedir(), '.cache', 'vpm-testenv'), K8S_VERSION);
}

/** Finds kube-apiserver + etcd, or returns a reason why they are missing. */
export function findAssets(): Assets | { missing: string } {
  const candidates: Array<[string | undefined, string]> = [
    [process.env.VPM_TESTENV_ASSETS, 'VPM_TESTENV_ASSETS'],
    [process.env.KUBEBUILDER_ASSETS, 'KUBEBUILDER_ASSETS'],
    [cacheDir(), 'cache'],
  ];
  const tried: string[] = [];
  for (const [dir, source] of candidates) {
    if (!dir) continue;
    const kubeApiserver = path.join(dir, 'kube-apiserver');
    const etcd = path.join(dir, 'etcd');
    if (isExecutable(kubeApiserver) && isExecutable(etcd)) return { dir, kubeApiserver, etcd, source };
    tried.push(`${source}=${dir}`);
  }
  return { missing: `kube-apiserver/etcd not found (looked in ${tried.join(', ')}); run: bash tests/testenv/install.sh` };
}

function isExecutable(p: string): boolean {
  try {
    fs.accessSync(p, fs.constants.X_OK);
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}

export function testenvDir(): string {
  return path.resolve(process.env.VPM_TESTENV_DIR ?? path.join(REPO_ROOT, '.testenv'));
}

// ---------------------------------------------------------------------------------------------
// Public shapes

type ClusterInfo = {
  name: string;
  context: string;
  server: string;
  /** Bearer token of the admin user (group system:masters). Secret: do not log. */
  token: string;
  caFile: string;
  apiserverPid: number;
  /** Knative of this cluster: the simulator's (absent with sim: false) or the real stack's (no metricsUrl). */
  knative?: { ingressUrl: string; metricsUrl?: string; domain: string; real?: boolean };
};

export type TestenvInfo = {
  dir: string;
  kubeconfig: string;
  repoDir: string;
  defaultContext: string;
  contexts: string[];
  clusters: Record<string, ClusterInfo>;
  etcd: { url: string; pid: number };
  argocd?: {
    namespace: string;
    cluster: string;
    repoDir: string;
    /** Set when the real Argo CD runs (EnsureRequest.argocd 'real'), not the simulator. */
    real?: { repoURL: string; gitDir: string; kubeconfig: string; startupMs: number; pids: number[] };
  };
  prometheus?: { url: string; pid: number };
  haproxy?: {
    frontendUrl: string;
    socket: string;
    statsUrl: string;
    backend: string;
    servers: Record<string, string>;
    pid: number;
    configFile: string;
  };
  controlUrl?: string;
  pids: number[];
};

export type EnsureRequest = {
  /** Number of clusters (1 → cluster-a, 2 → cluster-a + cluster-b) or explicit names. Default 1. */
  clusters?: number | string[];
  /** Start Prometheus scraping every Knative simulator's /metrics every 1s. */
  prometheus?: boolean;
  /** Start HAProxy in front of cluster-a/cluster-b ingress (needs 2 clusters; implied). */
  haproxy?: boolean | Partial<HaproxyOptions>;
  /** Knative + Argo CD simulators (default true). */
  sim?: boolean;
  /**
   * 'real': the real Argo CD (tests/support/argocd-real.ts) instead of the Argo CD simulator; decided by the
   * first request of an environment (the two cannot share a cluster: same CRD names). Default 'sim'.
   */
  argocd?: 'sim' | 'real';
  /**
   * 'real': each cluster is a real Knative Serving stack (tests/support/knative-real.ts: its own API
   * server, controllers, kubelet, Traefik) instead of a kube-apiserver with the Knative simulator; decided
   * by the first request of an environment. Needs the stack built and root. Default 'sim'.
   */
  knative?: 'sim' | 'real';
};

// ---------------------------------------------------------------------------------------------
// Small process helpers

export function pidAlive(pid: number | undefined): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
  // A zombie (exited, not reaped) is not alive.
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true;
  }
}

export async function killPid(pid: number, graceMs = 5000): Promise<void> {
  if (!pidAlive(pid)) return;
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!pidAlive(pid)) return;
    await sleep(50);
  }
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    /* gone */
  }
  for (let i = 0; i < 100 && pidAlive(pid); i++) await sleep(20);
}

export type Proc = { name: string; child: ChildProcess; args: string[]; bin: string; exited: Promise<number | null> };

export function spawnLogged(name: string, bin: string, args: string[], logDir: string): Proc {
  fs.mkdirSync(logDir, { recursive: true });
  const fd = fs.openSync(path.join(logDir, `${name}.log`), 'a');
  const child = spawn(bin, args, { stdio: ['ignore', fd, fd], env: { ...process.env, GODEBUG: process.env.GODEBUG ?? '' } });
  fs.closeSync(fd);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  child.once('error', () => undefined);
  return { name, child, args, bin, exited };
}

function tailLog(logDir: string, name: string, lines = 30): string {
  try {
    return fs
      .readFileSync(path.join(logDir, `${name}.log`), 'utf8')
      .trim()
      .split('\n')
      .slice(-lines)
      .join('\n');
  } catch {
    return '(no log)';
  }
}

export async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs: number, proc?: Proc, logDir?: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exited = false;
  proc?.exited.then(() => (exited = true));
  while (Date.now() < deadline) {
    if (exited) throw new Error(`${what}: process exited early. Log tail:\n${logDir && proc ? tailLog(logDir, proc.name) : ''}`);
    try {
      if (await check()) return;
    } catch {
      /* not yet */
    }
    await sleep(100);
  }
  throw new Error(`${what}: not ready after ${timeoutMs}ms${logDir && proc ? '. Log tail:\n' + tailLog(logDir, proc.name) : ''}`);
}

export function httpGet(
  url: string,
  opts: { ca?: Buffer; token?: string; timeoutMs?: number } = {},
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const mod = u.protocol === 'https:' ? https : http;
    const req = mod.request(
      u,
      { method: 'GET', ca: opts.ca, headers: opts.token ? { authorization: `Bearer ${opts.token}` } : {}, agent: false } as any,
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.setTimeout(opts.timeoutMs ?? 2000, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

// ---------------------------------------------------------------------------------------------
// PKI

type Pki = { dir: string; caCrt: string; caKey: string; servingCrt: string; servingKey: string; saKey: string; saPub: string };

/** The CA, API server serving cert (loopback SANs plus `extraSans`, e.g. `IP:10.0.0.1`) and SA keys under dir/pki. */
export function ensurePki(dir: string, extraSans: string[] = []): Pki {
  const d = path.join(dir, 'pki');
  fs.mkdirSync(d, { recursive: true, mode: 0o700 });
  const p: Pki = {
    dir: d,
    caCrt: path.join(d, 'ca.crt'),
    caKey: path.join(d, 'ca.key'),
    servingCrt: path.join(d, 'apiserver.crt'),
    servingKey: path.join(d, 'apiserver.key'),
    saKey: path.join(d, 'sa.key'),
    saPub: path.join(d, 'sa.pub'),
  };
  if (![p.caCrt, p.servingCrt, p.servingKey, p.saKey, p.saPub].every((f) => fs.existsSync(f))) {
    const ossl = (...args: string[]) => execFileSync('openssl', args, { cwd: d, stdio: ['ignore', 'ignore', 'pipe'] });
    const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
    ossl('req', '-x509', ...ec, '-keyout', p.caKey, '-out', p.caCrt, '-days', '3650', '-subj', '/CN=vpm-testenv-ca');
    ossl('req', ...ec, '-keyout', p.servingKey, '-out', 'apiserver.csr', '-subj', '/CN=kube-apiserver');
    fs.writeFileSync(
      path.join(d, 'apiserver.ext'),
      `subjectAltName=${['IP:127.0.0.1', 'DNS:localhost', 'DNS:kubernetes', 'DNS:kubernetes.default', 'DNS:kubernetes.default.svc', ...extraSans].join(',')}\nextendedKeyUsage=serverAuth\n`,
    );
    ossl(
      'x509',
      '-req',
      '-in',
      'apiserver.csr',
      '-CA',
      p.caCrt,
      '-CAkey',
      p.caKey,
      '-CAcreateserial',
      '-out',
      p.servingCrt,
      '-days',
      '3650',
      '-extfile',
      'apiserver.ext',
    );
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    fs.writeFileSync(p.saKey, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    fs.writeFileSync(p.saPub, publicKey.export({ type: 'spki', format: 'pem' }));
  }
  return p;
}

// ---------------------------------------------------------------------------------------------
// CRDs

const CRD_FILES = [path.join(REPO_ROOT, 'tests/testenv/crds/knative-serving.yaml'), path.join(REPO_ROOT, 'tests/testenv/crds/argocd.yaml')];

export function loadYamlObjects(file: string): KObj[] {
  return parseAllDocuments(fs.readFileSync(file, 'utf8'))
    .map((d) => d.toJSON())
    .filter((o): o is KObj => !!o && typeof o === 'object' && !!o.kind);
}

async function installCrds(kube: Kube, files = CRD_FILES): Promise<void> {
  const crds = files.flatMap(loadYamlObjects);
  await Promise.all(crds.map((c) => kube.apply(c, 'vpm-testenv')));
  for (const c of crds) {
    const p = `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${c.metadata.name}`;
    await waitFor(
      `CRD ${c.metadata.name} established`,
      async () => {
        const got = await kube.get(p);
        return (got.status?.conditions ?? []).some((x: any) => x.type === 'Established' && x.status === 'True');
      },
      30_000,
    );
  }
  // Discovery must serve the new groups before clients (and the simulators) use them.
  const gvs = [...new Set(crds.map((c) => `/apis/${c.spec.group}/${c.spec.versions[0].name}`))];
  for (const gv of gvs) await waitFor(`discovery ${gv}`, async () => ((await kube.get(gv)).resources ?? []).length > 0, 30_000);
  // The watch cache of a new resource initialises in the background: lists answer 429 and the
  // first write blocks until it is ready. Wait here so the first test request is fast.
  await Promise.all(
    crds.map((c) =>
      waitFor(
        `storage of ${c.metadata.name}`,
        async () => {
          await kube.get(`/apis/${c.spec.group}/${c.spec.versions[0].name}/${c.spec.names.plural}`, { limit: 1 });
          return true;
        },
        30_000,
      ),
    ),
  );
}

// ---------------------------------------------------------------------------------------------
// Supervisor: owns the processes and simulators of one environment.

type ClusterRuntime = {
  info: ClusterInfo;
  /** The kube-apiserver this supervisor runs (absent for a real Knative stack, which runs its own). */
  proc?: Proc;
  kube: Kube;
  sim?: KnativeSim;
  real?: RealKnative;
  port: number;
};

export type Logger = (msg: string) => void;

export class Testenv {
  readonly dir: string;
  readonly repoDir: string;
  readonly logDir: string;
  private readonly log: Logger;
  private assets: Assets | undefined;
  private pki: Pki | undefined;
  private etcd: { proc: Proc; url: string } | undefined;
  private readonly clusters = new Map<string, ClusterRuntime>();
  private argocd: ArgoCdSim | undefined;
  private realArgocd: RealArgoCd | undefined;
  private argocdMode: 'sim' | 'real' = 'sim';
  private knativeMode: 'sim' | 'real' = 'sim';
  private prometheus: PrometheusHandle | undefined;
  private haproxy: HaproxyHandle | undefined;
  private control: http.Server | undefined;
  controlUrl: string | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private stopped = false;
  private simWanted = true;

  constructor(opts: { dir?: string; repoDir?: string; log?: Logger } = {}) {
    this.dir = path.resolve(opts.dir ?? testenvDir());
    this.repoDir = path.resolve(opts.repoDir ?? process.env.VPM_TESTENV_REPO ?? REPO_ROOT);
    this.logDir = path.join(this.dir, 'logs');
    this.log = opts.log ?? ((m) => process.stderr.write(`[testenv] ${m}\n`));
  }

  get kubeconfigPath(): string {
    return path.join(this.dir, 'kubeconfig');
  }
  get statePath(): string {
    return path.join(this.dir, 'state.json');
  }

  /** Serialises supervisor operations (ensure/restart/stop may arrive concurrently). */
  private serial<T>(f: () => Promise<T>): Promise<T> {
    const p = this.queue.then(f, f);
    this.queue = p.catch(() => undefined);
    return p;
  }

  ensure(req: EnsureRequest = {}): Promise<TestenvInfo> {
    return this.serial(() => this.doEnsure(req));
  }

  restartApiServer(cluster: string): Promise<void> {
    return this.serial(() => this.doRestart(cluster));
  }

  stop(): Promise<void> {
    return this.serial(() => this.doStop());
  }

  /** Stops one kube-apiserver (SIGTERM, SIGKILL after 2 s) and leaves it down until startApiServer. */
  stopApiServer(cluster: string): Promise<void> {
    return this.serial(async () => {
      const c = this.clusters.get(cluster);
      if (!c) throw new Error(`no cluster ${cluster}`);
      if (c.real) return c.real.stopApiServer();
      if (!c.proc) throw new Error(`cluster ${cluster} has no API server of this supervisor`);
      c.proc.child.kill('SIGTERM');
      const code = await Promise.race([c.proc.exited, sleep(2_000).then(() => 'timeout' as const)]);
      if (code === 'timeout') {
        c.proc.child.kill('SIGKILL');
        await c.proc.exited;
      }
    });
  }

  /** Starts a kube-apiserver stopped by stopApiServer again (same port, same etcd data). */
  startApiServer(cluster: string): Promise<void> {
    return this.serial(async () => {
      const c = this.clusters.get(cluster);
      if (!c) throw new Error(`no cluster ${cluster}`);
      if (c.real) {
        await c.real.startApiServer();
        c.info.apiserverPid = c.real.apiserverPid;
        this.writeState();
        return;
      }
      if (!c.proc) throw new Error(`cluster ${cluster} has no API server of this supervisor`);
      const proc = spawnLogged(`kube-apiserver-${cluster}`, c.proc.bin, c.proc.args, this.logDir);
      c.proc = proc;
      await this.waitApiserver(cluster, c.port, c.info.token, proc);
      c.info.apiserverPid = proc.child.pid ?? 0;
      this.writeState();
    });
  }

  /** The real Argo CD of this environment (EnsureRequest.argocd 'real'). */
  get realArgoCd(): RealArgoCd | undefined {
    return this.realArgocd;
  }

  private async doEnsure(req: EnsureRequest): Promise<TestenvInfo> {
    if (this.stopped) throw new Error('testenv stopped');
    const t0 = Date.now();
    let names: string[] =
      typeof req.clusters === 'number' ? CLUSTER_NAMES.slice(0, Math.max(1, Math.min(req.clusters, 2))) : (req.clusters ?? ['cluster-a']);
    if (req.haproxy && !names.includes('cluster-b')) names = [...new Set([...names, 'cluster-a', 'cluster-b'])];
    if (!names.includes('cluster-a')) names = ['cluster-a', ...names];
    if (req.sim === false && this.clusters.size === 0) this.simWanted = false;
    if (req.argocd === 'real' && this.clusters.size === 0) this.argocdMode = 'real';
    if (req.knative === 'real' && this.clusters.size === 0) this.knativeMode = 'real';
    await this.startEtcd();
    const missing = names.filter((n) => !this.clusters.has(n));
    if (missing.length) {
      await Promise.all(missing.map((n) => this.startCluster(n)));
      this.writeKubeconfig();
      if (this.simWanted) {
        if (this.knativeMode === 'sim') await Promise.all(missing.map((n) => this.startKnativeSim(n)));
        await this.startOrUpdateArgoCd();
        await this.prometheus?.setTargets(this.scrapeTargets());
      }
    }
    if (req.prometheus && !this.prometheus) await this.startPrometheus();
    if (req.haproxy && !this.haproxy) await this.startHaproxy(req.haproxy === true ? {} : req.haproxy);
    this.writeState();
    if (missing.length || (req.prometheus && Date.now() - t0 > 50))
      this.log(`ready in ${Date.now() - t0}ms: ${[...this.clusters.keys()].join(', ')}`);
    return this.info();
  }

  info(): TestenvInfo {
    const clusters: Record<string, ClusterInfo> = {};
    for (const [n, c] of this.clusters) clusters[n] = { ...c.info, apiserverPid: c.real?.apiserverPid ?? c.proc?.child.pid ?? 0 };
    const contexts = [...this.clusters.keys()];
    if (this.clusters.has(DEFAULT_CONTEXT)) contexts.push(ALIAS_CONTEXT);
    return {
      dir: this.dir,
      kubeconfig: this.kubeconfigPath,
      repoDir: this.repoDir,
      defaultContext: DEFAULT_CONTEXT,
      contexts,
      clusters,
      etcd: { url: this.etcd?.url ?? '', pid: this.etcd?.proc.child.pid ?? 0 },
      argocd: this.realArgocd
        ? {
            namespace: 'argocd',
            cluster: DEFAULT_CONTEXT,
            repoDir: this.repoDir,
            real: {
              repoURL: this.realArgocd.repoURL,
              gitDir: this.realArgocd.gitDir,
              kubeconfig: this.realArgocd.kubeconfig,
              startupMs: this.realArgocd.startupMs,
              pids: this.realArgocd.pids(),
            },
          }
        : this.argocd
          ? { namespace: 'argocd', cluster: DEFAULT_CONTEXT, repoDir: this.repoDir }
          : undefined,
      prometheus: this.prometheus ? { url: this.prometheus.url, pid: this.prometheus.pid } : undefined,
      haproxy: this.haproxy
        ? {
            frontendUrl: this.haproxy.frontendUrl,
            socket: this.haproxy.socket,
            statsUrl: this.haproxy.statsUrl,
            backend: this.haproxy.backend,
            servers: this.haproxy.servers,
            pid: this.haproxy.pid,
            configFile: this.haproxy.configFile,
          }
        : undefined,
      controlUrl: this.controlUrl,
      pids: this.pids(),
    };
  }

  pids(): number[] {
    const out: number[] = [];
    if (this.etcd?.proc.child.pid) out.push(this.etcd.proc.child.pid);
    for (const c of this.clusters.values()) {
      if (c.proc?.child.pid) out.push(c.proc.child.pid);
      if (c.real) out.push(...c.real.pids());
    }
    if (this.prometheus) out.push(this.prometheus.pid);
    if (this.haproxy) out.push(this.haproxy.pid);
    if (this.realArgocd) out.push(...this.realArgocd.pids());
    return out;
  }

  private async startEtcd(): Promise<void> {
    if (this.etcd) return;
    const assets = findAssets();
    if ('missing' in assets) throw new Error(assets.missing);
    this.assets = assets;
    fs.mkdirSync(this.dir, { recursive: true });
    await killStale(this.dir, this.log);
    this.pki = ensurePki(this.dir);
    const data = path.join(this.dir, 'etcd');
    fs.rmSync(data, { recursive: true, force: true });
    const [client, peer] = [await freePort(), await freePort()];
    const url = `http://127.0.0.1:${client}`;
    const proc = spawnLogged(
      'etcd',
      assets.etcd,
      [
        '--name=vpm-testenv',
        `--data-dir=${data}`,
        `--listen-client-urls=${url}`,
        `--advertise-client-urls=${url}`,
        `--listen-peer-urls=http://127.0.0.1:${peer}`,
        `--initial-advertise-peer-urls=http://127.0.0.1:${peer}`,
        `--initial-cluster=vpm-testenv=http://127.0.0.1:${peer}`,
        '--unsafe-no-fsync=true',
        '--log-level=warn',
        '--quota-backend-bytes=4294967296',
      ],
      this.logDir,
    );
    await waitFor('etcd', async () => (await httpGet(`${url}/health`)).body.includes('"health":"true"'), 20_000, proc, this.logDir);
    this.etcd = { proc, url };
  }

  private apiserverArgs(name: string, port: number, token: string): string[] {
    const pki = this.pki!;
    const cdir = path.join(this.dir, name);
    fs.mkdirSync(cdir, { recursive: true });
    const tokens = path.join(cdir, 'tokens.csv');
    fs.writeFileSync(tokens, `${token},admin,admin-uid,"system:masters"\n`, { mode: 0o600 });
    return [
      `--etcd-servers=${this.etcd!.url}`,
      `--etcd-prefix=/registry/${name}`,
      '--bind-address=127.0.0.1',
      '--advertise-address=127.0.0.1',
      `--secure-port=${port}`,
      `--cert-dir=${path.join(cdir, 'certs')}`,
      `--tls-cert-file=${pki.servingCrt}`,
      `--tls-private-key-file=${pki.servingKey}`,
      `--client-ca-file=${pki.caCrt}`,
      `--token-auth-file=${tokens}`,
      '--authorization-mode=RBAC',
      `--service-account-issuer=https://127.0.0.1:${port}`,
      `--service-account-key-file=${pki.saPub}`,
      `--service-account-signing-key-file=${pki.saKey}`,
      '--service-cluster-ip-range=10.96.0.0/16',
      '--allow-privileged=true',
      '--disable-admission-plugins=ServiceAccount,ResourceQuota',
      '--enable-priority-and-fairness=false',
      '--profiling=false',
      '--endpoint-reconciler-type=none',
      '--v=1',
    ];
  }

  private async waitApiserver(name: string, port: number, token: string, proc: Proc): Promise<void> {
    const ca = fs.readFileSync(this.pki!.caCrt);
    await waitFor(
      `kube-apiserver ${name}`,
      async () => (await httpGet(`https://127.0.0.1:${port}/readyz`, { ca, token })).status === 200,
      60_000,
      proc,
      this.logDir,
    );
  }

  private async startCluster(name: string): Promise<void> {
    if (this.knativeMode === 'real') return this.startRealKnativeCluster(name);
    const port = await freePort();
    const token = randomBytes(24).toString('hex');
    const args = this.apiserverArgs(name, port, token);
    const proc = spawnLogged(`kube-apiserver-${name}`, this.assets!.kubeApiserver, args, this.logDir);
    await this.waitApiserver(name, port, token, proc);
    const info: ClusterInfo = {
      name,
      context: name,
      server: `https://127.0.0.1:${port}`,
      token,
      caFile: this.pki!.caCrt,
      apiserverPid: proc.child.pid ?? 0,
    };
    const kube = await Kube.fromKubeConfig(kubeConfigFor([info]), name);
    // The real Argo CD brings its own CRDs (tests/support/argocd-real.ts); the simulator's would clash.
    await installCrds(kube, this.argocdMode === 'real' ? CRD_FILES.filter((f) => !f.endsWith('argocd.yaml')) : CRD_FILES);
    // Note: for ~2 s after the CRDs are created, the first POST of a custom resource blocks inside
    // kube-apiserver until the new types are fully initialised (PATCH/apply does not). Harmless, so
    // it is not waited for here: startup stays fast.
    await waitFor(`namespace default on ${name}`, async () => !!(await kube.getOrNull('/api/v1/namespaces/default')), 30_000);
    await kube.ensureNamespace('argocd');
    this.clusters.set(name, { info, proc, kube, port });
  }

  /** A cluster that is a real Knative stack: its own API server, so the simulator's CRDs stay out. */
  private async startRealKnativeCluster(name: string): Promise<void> {
    const real = new RealKnative({
      dir: path.join(this.dir, `knative-${name}`),
      index: CLUSTER_NAMES.indexOf(name as (typeof CLUSTER_NAMES)[number]),
      log: (m) => this.log(`knative[${name}] ${m}`),
    });
    await real.start();
    const info: ClusterInfo = {
      name,
      context: name,
      server: real.server,
      token: real.adminToken,
      caFile: real.caFile,
      apiserverPid: real.apiserverPid,
      knative: { ingressUrl: real.ingressUrl, domain: real.domain, real: true },
    };
    const kube = await Kube.fromKubeConfig(kubeConfigFor([info]), name);
    if (this.argocdMode === 'sim')
      await installCrds(
        kube,
        CRD_FILES.filter((f) => f.endsWith('argocd.yaml')),
      );
    await kube.ensureNamespace('argocd');
    this.clusters.set(name, { info, kube, real, port: Number(new URL(real.server).port) });
  }

  private async doRestart(name: string): Promise<void> {
    const c = this.clusters.get(name);
    if (!c) throw new Error(`no cluster ${name}`);
    const t0 = Date.now();
    if (c.real) {
      await c.real.restartApiServer();
      c.info.apiserverPid = c.real.apiserverPid;
      this.writeState();
      this.log(`restarted the real stack's kube-apiserver ${name} in ${Date.now() - t0}ms`);
      return;
    }
    if (!c.proc) throw new Error(`cluster ${name} has no API server of this supervisor`);
    const pid = c.proc.child.pid!;
    // SIGTERM first; kube-apiserver then waits for open watch connections to go idle (which the
    // simulators' never do), so after 2 s it is killed — like a crashed/evicted API server.
    c.proc.child.kill('SIGTERM');
    const code = await Promise.race([c.proc.exited, sleep(2_000).then(() => 'timeout' as const)]);
    if (code === 'timeout') {
      c.proc.child.kill('SIGKILL');
      await c.proc.exited;
    }
    const proc = spawnLogged(`kube-apiserver-${name}`, c.proc.bin, c.proc.args, this.logDir);
    c.proc = proc;
    await this.waitApiserver(name, c.port, c.info.token, proc);
    c.info.apiserverPid = proc.child.pid ?? 0;
    this.writeState();
    this.log(`restarted kube-apiserver ${name} (pid ${pid} -> ${proc.child.pid}) in ${Date.now() - t0}ms`);
  }

  private async startKnativeSim(name: string): Promise<void> {
    const c = this.clusters.get(name)!;
    const sim = new KnativeSim({ kube: c.kube, cluster: name, log: (m) => this.log(`knative-sim[${name}] ${m}`) });
    await sim.start();
    c.sim = sim;
    c.info.knative = { ingressUrl: sim.ingressUrl, metricsUrl: sim.metricsUrl, domain: sim.domain };
  }

  private async startOrUpdateArgoCd(): Promise<void> {
    const mgmt = this.clusters.get(DEFAULT_CONTEXT)!;
    if (this.argocdMode === 'real') {
      if (this.realArgocd) throw new Error('the real Argo CD does not take clusters added after it started: ask for all clusters at once');
      const order = [DEFAULT_CONTEXT, ...[...this.clusters.keys()].filter((n) => n !== DEFAULT_CONTEXT)];
      const real = new RealArgoCd({
        dir: this.dir,
        logDir: this.logDir,
        mgmt: mgmt.kube,
        clusters: order.map((n) => {
          const c = this.clusters.get(n)!.info;
          return { name: n, server: c.server, token: c.token, caFile: c.caFile, kubeconfigContext: n };
        }),
        envKubeconfig: this.kubeconfigPath,
        repoDir: this.repoDir,
        // real pods cannot pull the project's image here: the test app stands in for it
        images: this.knativeMode === 'real' ? { 'ghcr.io/knative/helloworld-go:latest': 'dev.local/vpm-testapp:v1' } : undefined,
        log: (m) => this.log(`argocd ${m}`),
      });
      this.realArgocd = real;
      await real.start();
      return;
    }
    const clusters: Record<string, { kube: Kube; server: string }> = {};
    for (const [n, c] of this.clusters) clusters[n] = { kube: c.kube, server: c.info.server };
    if (this.argocd) return this.argocd.setClusters(clusters);
    this.argocd = new ArgoCdSim({
      kube: mgmt.kube,
      namespace: 'argocd',
      clusters,
      inCluster: DEFAULT_CONTEXT,
      repoDir: this.repoDir,
      log: (m) => this.log(`argocd-sim ${m}`),
    });
    await this.argocd.start();
  }

  private async startPrometheus(): Promise<void> {
    this.prometheus = await startPrometheus({ dir: path.join(this.dir, 'prometheus'), logDir: this.logDir, targets: this.scrapeTargets() });
  }

  private scrapeTargets() {
    return [...this.clusters.values()]
      .filter((c) => c.sim)
      .map((c) => ({ job: 'knative-queue-proxy', url: c.sim!.metricsUrl, labels: { cluster: c.info.name } }));
  }

  private async startHaproxy(opts: Partial<HaproxyOptions>): Promise<void> {
    const a = this.clusters.get('cluster-a');
    const b = this.clusters.get('cluster-b');
    const servers = opts.servers ?? {
      a: new URL(a?.sim?.ingressUrl ?? 'http://127.0.0.1:1').host,
      b: new URL(b?.sim?.ingressUrl ?? 'http://127.0.0.1:1').host,
    };
    this.haproxy = await startHaproxy({ dir: path.join(this.dir, 'haproxy'), logDir: this.logDir, ...opts, servers });
  }

  writeKubeconfig(): void {
    fs.mkdirSync(this.dir, { recursive: true });
    const kc = kubeconfigYaml([...this.clusters.values()].map((c) => c.info));
    const tmp = `${this.kubeconfigPath}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, kc, { mode: 0o600 });
    fs.renameSync(tmp, this.kubeconfigPath);
  }

  writeState(extra: Record<string, unknown> = {}): void {
    fs.mkdirSync(this.dir, { recursive: true });
    const state = { version: 1, supervisorPid: process.pid, updatedAt: new Date().toISOString(), info: this.info(), ...extra };
    const tmp = `${this.statePath}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(state, null, 2), { mode: 0o600 });
    fs.renameSync(tmp, this.statePath);
  }

  private async doStop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await this.argocd?.stop().catch(() => undefined);
    await this.realArgocd?.stop().catch(() => undefined);
    for (const c of this.clusters.values()) await c.sim?.stop().catch(() => undefined);
    for (const c of this.clusters.values()) await c.real?.stop().catch(() => undefined);
    await this.haproxy?.stop().catch(() => undefined);
    await this.prometheus?.stop().catch(() => undefined);
    await Promise.all(
      [...this.clusters.values()].map(async (c) => {
        c.kube.close();
        if (c.proc?.child.pid) await killPid(c.proc.child.pid);
      }),
    );
    if (this.etcd?.proc.child.pid) await killPid(this.etcd.proc.child.pid);
    if (this.control) {
      const closed = new Promise<void>((r) => this.control!.close(() => r()));
      this.control.closeIdleConnections();
      setTimeout(() => this.control?.closeAllConnections(), 1000).unref();
      await closed;
    }
    try {
      const st = JSON.parse(fs.readFileSync(this.statePath, 'utf8'));
      if (st.supervisorPid === process.pid) fs.rmSync(this.statePath, { force: true });
    } catch {
      /* none */
    }
  }

  /** Loopback HTTP control API used by test workers and `testenv:down`. */
  async serveControl(port = 0): Promise<string> {
    const server = http.createServer(async (req, res) => {
      const send = (status: number, body: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      };
      try {
        let raw = '';
        for await (const c of req) raw += c;
        const body = raw ? JSON.parse(raw) : {};
        const u = new URL(req.url ?? '/', 'http://x');
        if (req.method === 'GET' && u.pathname === '/info') return send(200, this.info());
        if (req.method === 'POST' && u.pathname === '/ensure') return send(200, await this.ensure(body));
        if (req.method === 'POST' && u.pathname === '/restart-apiserver') {
          await this.restartApiServer(body.cluster ?? DEFAULT_CONTEXT);
          return send(200, this.info());
        }
        if (req.method === 'POST' && u.pathname === '/shutdown') {
          send(200, { ok: true });
          setImmediate(() => this.stop().then(() => this.onShutdown?.()));
          return;
        }
        send(404, { error: 'not found' });
      } catch (e) {
        send(500, { error: (e as Error).message });
      }
    });
    server.keepAliveTimeout = 1000;
    await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));
    this.control = server;
    this.controlUrl = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
    return this.controlUrl;
  }

  onShutdown: (() => void) | undefined;
}

/** Kills processes of a previous environment in `dir` that was not shut down (crash, SIGKILL). */
async function killStale(dir: string, log: Logger): Promise<void> {
  let st: any;
  try {
    st = JSON.parse(fs.readFileSync(path.join(dir, 'state.json'), 'utf8'));
  } catch {
    return;
  }
  if (st.supervisorPid && st.supervisorPid !== process.pid && pidAlive(st.supervisorPid)) {
    throw new Error(`another testenv supervisor (pid ${st.supervisorPid}) owns ${dir}; run npm run testenv:down first`);
  }
  for (const pid of st.info?.pids ?? []) {
    // The real Argo CD's processes name the directory in their environment (KUBECONFIG, TMPDIR), not argv.
    if (pidAlive(pid) && (cmdlineMentions(pid, dir) || environMentions(pid, dir))) {
      log(`killing stale process ${pid} from a previous run`);
      await killPid(pid);
    }
  }
  fs.rmSync(path.join(dir, 'state.json'), { force: true });
}

function environMentions(pid: number, s: string): boolean {
  try {
    return fs.readFileSync(`/proc/${pid}/environ`, 'utf8').includes(s);
  } catch {
    return false;
  }
}

export function cmdlineMentions(pid: number, s: string): boolean {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(s);
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------
// Kubeconfig

function kubeconfigObject(clusters: ClusterInfo[]) {
  const ctx = (name: string, c: ClusterInfo) => ({ name, context: { cluster: c.name, user: `admin@${c.name}`, namespace: 'default' } });
  const a = clusters.find((c) => c.name === DEFAULT_CONTEXT);
  return {
    apiVersion: 'v1',
    kind: 'Config',
    preferences: {},
    'current-context': a ? DEFAULT_CONTEXT : clusters[0]?.name,
    clusters: clusters.map((c) => ({
      name: c.name,
      cluster: { server: c.server, 'certificate-authority-data': fs.readFileSync(c.caFile).toString('base64') },
    })),
    users: clusters.map((c) => ({ name: `admin@${c.name}`, user: { token: c.token } })),
    contexts: [...clusters.map((c) => ctx(c.name, c)), ...(a ? [ctx(ALIAS_CONTEXT, a)] : [])],
  };
}

function kubeconfigYaml(clusters: ClusterInfo[]): string {
  return (
    '# vpm test environment (npm run testenv:up / vitest global setup). Contexts: ' +
    clusters.map((c) => c.name).join(', ') +
    (clusters.some((c) => c.name === DEFAULT_CONTEXT) ? `, ${ALIAS_CONTEXT} (= ${DEFAULT_CONTEXT})` : '') +
    '\n' +
    stringify(kubeconfigObject(clusters))
  );
}

function kubeConfigFor(clusters: ClusterInfo[]): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromString(kubeconfigYaml(clusters));
  return kc;
}

// ---------------------------------------------------------------------------------------------
// Test-side API (runs inside vitest workers)

/**
 * Synchronous gate for integration suites: true when kube-apiserver/etcd are available.
 * Missing binaries → false (suite skips) unless VPM_REQUIRE_TESTENV=1, then it throws (suite fails).
 *
 *   describe.skipIf(!requireTestenv())('vpm ready', () => { ... })
 */
export function requireTestenv(needs: { prometheus?: boolean; haproxy?: boolean } = {}): boolean {
  const problems: string[] = [];
  if (process.env.VPM_SKIP_TESTENV === '1') problems.push('VPM_SKIP_TESTENV=1 asks to skip the suites that need the test environment');
  const a = findAssets();
  if ('missing' in a) problems.push(a.missing);
  if (!process.env.VPM_TESTENV_CONTROL && !liveState())
    problems.push('no test environment supervisor (run under vitest with tests/support/global-setup.ts, or npm run testenv:up)');
  if (needs.prometheus && !findBinary('prometheus', ['/usr/bin/prometheus']))
    problems.push('prometheus not installed (apt-get install prometheus)');
  if (needs.haproxy && !findBinary('haproxy', ['/usr/sbin/haproxy'])) problems.push('haproxy not installed (apt-get install haproxy)');
  if (!problems.length) return true;
  if (process.env.VPM_REQUIRE_TESTENV === '1') {
    throw new Error(`VPM_REQUIRE_TESTENV=1 but the test environment is unavailable: ${problems.join('; ')}`);
  }
  process.stderr.write(`[testenv] skipping: ${problems.join('; ')}\n`);
  return false;
}

export function findBinary(name: string, fallbacks: string[] = []): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(':').filter(Boolean)) {
    const p = path.join(dir, name);
    if (isExecutable(p)) return p;
  }
  return fallbacks.find(isExecutable);
}

function liveState(): { controlUrl: string } | undefined {
  try {
    const st = JSON.parse(fs.readFileSync(path.join(testenvDir(), 'state.json'), 'utf8'));
    if (st.info?.controlUrl && pidAlive(st.supervisorPid)) return { controlUrl: st.info.controlUrl };
  } catch {
    /* none */
  }
  return undefined;
}

function controlUrl(): string {
  const url = process.env.VPM_TESTENV_CONTROL ?? liveState()?.controlUrl;
  if (!url)
    throw new Error(
      'no test environment: run under vitest (global setup tests/support/global-setup.ts) or start one with npm run testenv:up',
    );
  return url;
}

async function control<T>(method: string, p: string, body?: unknown): Promise<T> {
  const res = await fetch(controlUrl() + p, {
    method,
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(180_000),
  });
  const json = (await res.json()) as any;
  if (!res.ok) throw new Error(`testenv ${p}: ${json?.error ?? res.status}`);
  return json as T;
}

/**
 * Starts (once, shared by all test files) what the suite needs and returns connection info.
 * Also sets process.env.KUBECONFIG in this worker so child processes (the vpm CLI) find it.
 */
export async function useTestenv(req: EnsureRequest = {}): Promise<TestenvInfo> {
  const info = await control<TestenvInfo>('POST', '/ensure', req);
  process.env.KUBECONFIG = info.kubeconfig;
  return info;
}

async function _testenvInfo(): Promise<TestenvInfo> {
  return control<TestenvInfo>('GET', '/info');
}

/** Stops and restarts one kube-apiserver (same port, same etcd data); resolves when /readyz is OK again. */
export async function restartApiServer(cluster = DEFAULT_CONTEXT): Promise<TestenvInfo> {
  return control<TestenvInfo>('POST', '/restart-apiserver', { cluster });
}

/** A Kube client for one context of the environment. */
export async function kubeFor(info: TestenvInfo, context = DEFAULT_CONTEXT): Promise<Kube> {
  return Kube.fromKubeconfig(info.kubeconfig, context);
}

/** Creates a namespace with a unique name (use one per test file: the environment is shared). */
export async function freshNamespace(kube: Kube, prefix = 't'): Promise<string> {
  const name = `${prefix}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`.toLowerCase().slice(0, 63);
  await kube.ensureNamespace(name);
  return name;
}

/** Loads a YAML file (multi-doc) and server-side applies each object. */
export async function applyFile(kube: Kube, file: string, opts: { namespace?: string; fieldManager?: string } = {}): Promise<KObj[]> {
  const out: KObj[] = [];
  for (const obj of loadYamlObjects(file)) {
    if (opts.namespace) obj.metadata.namespace = opts.namespace;
    out.push(await kube.apply(obj, opts.fieldManager ?? 'vpm-test', { defaultNamespace: opts.namespace }));
  }
  return out;
}
