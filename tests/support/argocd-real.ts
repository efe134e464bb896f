/**
 * The real Argo CD (v3.6.2, built by tests/testenv/argocd/install.sh into ~/.cache/vpm-testenv/argocd-<v>/)
 * run out of cluster against the test environment's kube-apiservers:
 *  - redis-server (Debian) as its cache, on a free loopback port, no persistence;
 *  - argocd-repo-server, argocd-application-controller, argocd-applicationset-controller: one multi-call
 *    binary, the role chosen by ARGOCD_BINARY_NAME;
 *  - ARGOCD_FAKE_IN_CLUSTER=true + a kubeconfig whose current context is cluster-a with namespace `argocd`
 *    (the controllers take their namespace from it; https://kubernetes.default.svc = that context);
 *  - the real CRDs from the module (server-side applied: the ApplicationSet CRD is 1.5 MB), argocd-cm,
 *    argocd-rbac-cm, argocd-cmd-params-cm, argocd-secret (server.secretkey), and one cluster Secret per
 *    cluster: cluster-a = in-cluster renamed, the others by URL + bearer token + CA;
 *  - a local git repository (file://…) holding a copy of the project's infra/k8s, which the project's own
 *    ApplicationSet is pointed at (Argo CD never talks to github.com here).
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseAllDocuments, stringify } from 'yaml';
import type { Kube, KObj } from './kube.ts';
import { freePort } from './net.ts';

export const ARGOCD_VERSION = '3.6.2';

export function argocdCacheDir(): string {
  return path.join(process.env.VPM_TESTENV_CACHE ?? path.join(os.homedir(), '.cache', 'vpm-testenv'), `argocd-${ARGOCD_VERSION}`);
}

/** The built Argo CD, or why it is missing. */
export function findArgoCd(): { dir: string; argocd: string } | { missing: string } {
  const dir = process.env.VPM_TESTENV_ARGOCD ?? argocdCacheDir();
  const argocd = path.join(dir, 'argocd');
  const ok = (p: string) => {
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return true;
    } catch {
      return false;
    }
  };
  if (!fs.existsSync(path.join(dir, '.complete')) || !ok(argocd) || !ok(path.join(dir, 'kustomize')))
    return { missing: `Argo CD v${ARGOCD_VERSION} not built in ${dir}; run: bash tests/testenv/install.sh` };
  const redis = ['/usr/bin/redis-server', ...(process.env.PATH ?? '').split(':').map((d) => path.join(d, 'redis-server'))].find(ok);
  if (!redis) return { missing: 'redis-server not installed (apt-get install redis-server; tests/testenv/install.sh does it)' };
  return { dir, argocd };
}

export type RealArgoCdCluster = { name: string; server: string; token: string; caFile: string; kubeconfigContext: string };

type Proc = { name: string; child: ChildProcess; exited: Promise<number | null> };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function loadObjects(file: string): KObj[] {
  return parseAllDocuments(fs.readFileSync(file, 'utf8'))
    .map((d) => d.toJSON())
    .filter((o): o is KObj => !!o && typeof o === 'object' && !!o.kind);
}

const CONFIG_MAPS = [
  'argocd-cm',
  'argocd-rbac-cm',
  'argocd-cmd-params-cm',
  'argocd-tls-certs-cm',
  'argocd-ssh-known-hosts-cm',
  'argocd-gpg-keys-cm',
];

export type RealArgoCdOptions = {
  dir: string;
  logDir: string;
  mgmt: Kube;
  /** The first is the management cluster (in-cluster for Argo CD). */
  clusters: RealArgoCdCluster[];
  /** Full kubeconfig of the environment (contexts named after the clusters). */
  envKubeconfig: string;
  /** Where infra/k8s is copied from. */
  repoDir: string;
  /** Image references replaced in the copy (`from` → `to`), for clusters that cannot pull the originals. */
  images?: Record<string, string>;
  log: (m: string) => void;
};

export class RealArgoCd {
  readonly namespace = 'argocd';
  readonly runDir: string;
  readonly gitDir: string;
  readonly kubeconfig: string;
  private procs: Proc[] = [];
  private bin: { dir: string; argocd: string };
  ports: Record<string, number> = {};
  /** Time from start() to every process healthy (ms). */
  startupMs = 0;

  private readonly opts: RealArgoCdOptions;

  constructor(opts: RealArgoCdOptions) {
    this.opts = opts;
    const found = findArgoCd();
    if ('missing' in found) throw new Error(found.missing);
    this.bin = found;
    this.runDir = path.join(opts.dir, 'argocd');
    this.gitDir = path.join(opts.dir, 'git', 'fleet');
    this.kubeconfig = path.join(this.runDir, 'kubeconfig');
  }

  /** The kustomize Argo CD's repo-server runs (for tests that render like it). */
  get kustomizePath(): string {
    return path.join(this.bin.dir, 'kustomize');
  }

  get repoURL(): string {
    return `file://${this.gitDir}`;
  }

  /** CRDs + config + cluster secrets (idempotent), then the processes. */
  async start(): Promise<void> {
    const t0 = Date.now();
    for (const d of ['tls', 'ssh', 'gpg/keys', 'gpg/source', 'tmp', 'plugins'])
      fs.mkdirSync(path.join(this.runDir, d), { recursive: true });
    this.writeKubeconfig();
    this.initGitRepo();
    await this.installCrds();
    await this.applyConfig();
    await this.startProcesses();
    this.startupMs = Date.now() - t0;
    this.opts.log(`real Argo CD v${ARGOCD_VERSION} ready in ${this.startupMs} ms (repo ${this.repoURL})`);
  }

  /** Kubeconfig of the management cluster only, namespace argocd (what the controllers read). */
  private writeKubeconfig(): void {
    const env = parseAllDocuments(fs.readFileSync(this.opts.envKubeconfig, 'utf8'))[0].toJSON();
    const ctxName = this.opts.clusters[0].kubeconfigContext;
    const ctx = env.contexts.find((c: any) => c.name === ctxName);
    const kc = {
      apiVersion: 'v1',
      kind: 'Config',
      'current-context': ctxName,
      clusters: env.clusters.filter((c: any) => c.name === ctx.context.cluster),
      users: env.users.filter((u: any) => u.name === ctx.context.user),
      contexts: [{ name: ctxName, context: { ...ctx.context, namespace: this.namespace } }],
    };
    fs.writeFileSync(this.kubeconfig, stringify(kc), { mode: 0o600 });
  }

  /** A local git repository with the project's infra/k8s, as the ApplicationSet's paths expect. */
  private initGitRepo(): void {
    if (fs.existsSync(path.join(this.gitDir, '.git'))) return;
    fs.mkdirSync(this.gitDir, { recursive: true });
    fs.cpSync(path.join(this.opts.repoDir, 'infra', 'k8s'), path.join(this.gitDir, 'infra', 'k8s'), { recursive: true });
    for (const file of fs.readdirSync(path.join(this.gitDir, 'infra', 'k8s'), { recursive: true, encoding: 'utf8' })) {
      const full = path.join(this.gitDir, 'infra', 'k8s', file);
      if (!file.endsWith('.yaml') || !fs.statSync(full).isFile()) continue;
      let text = fs.readFileSync(full, 'utf8');
      for (const [from, to] of Object.entries(this.opts.images ?? {})) text = text.replaceAll(`image: ${from}`, `image: ${to}`);
      fs.writeFileSync(full, text);
    }
    this.git('init', '-q', '-b', 'main');
    this.commitAll('fleet manifests (copy of infra/k8s)');
  }

  git(...args: string[]): string {
    return execFileSync('git', ['-C', this.gitDir, ...args], {
      encoding: 'utf8',
      env: {
        ...process.env,
        GIT_AUTHOR_NAME: 'vpm-test',
        GIT_AUTHOR_EMAIL: 'vpm-test@localhost',
        GIT_COMMITTER_NAME: 'vpm-test',
        GIT_COMMITTER_EMAIL: 'vpm-test@localhost',
      },
    }).trim();
  }

  /** Commits everything in the git repository; returns the new HEAD sha. */
  commitAll(message: string): string {
    this.git('add', '-A');
    this.git('commit', '-q', '--allow-empty', '-m', message);
    return this.git('rev-parse', 'HEAD');
  }

  private async installCrds(): Promise<void> {
    const mgmt = this.opts.mgmt;
    const crds = ['application-crd', 'appproject-crd', 'applicationset-crd'].flatMap((f) =>
      loadObjects(path.join(this.bin.dir, 'crds', `${f}.yaml`)),
    );
    await Promise.all(crds.map((c) => mgmt.apply(c, 'vpm-testenv')));
    for (const c of crds) {
      await until(`CRD ${c.metadata.name} established`, 60_000, async () => {
        const got = await mgmt.get(`/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${c.metadata.name}`);
        return (got.status?.conditions ?? []).some((x: any) => x.type === 'Established' && x.status === 'True');
      });
      await until(`storage of ${c.metadata.name}`, 60_000, async () => {
        await mgmt.get(`/apis/argoproj.io/v1alpha1/${c.spec.names.plural}`, { limit: 1 });
        return true;
      });
    }
  }

  private async applyConfig(): Promise<void> {
    const mgmt = this.opts.mgmt;
    const ns = this.namespace;
    await mgmt.ensureNamespace(ns);
    const labels = (name: string) => ({ 'app.kubernetes.io/name': name, 'app.kubernetes.io/part-of': 'argocd' });
    for (const name of CONFIG_MAPS)
      await mgmt.apply(
        { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: ns, labels: labels(name) }, data: {} },
        'vpm-testenv',
      );
    await mgmt.apply(
      {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'argocd-secret', namespace: ns, labels: labels('argocd-secret') },
        type: 'Opaque',
        stringData: { 'server.secretkey': randomBytes(16).toString('hex') },
      },
      'vpm-testenv',
    );
    for (const [i, c] of this.opts.clusters.entries()) await mgmt.apply(this.clusterSecret(c, i === 0), 'vpm-testenv');
  }

  /** Argo CD's declarative cluster Secret; the first cluster is the in-cluster one, renamed. */
  private clusterSecret(c: RealArgoCdCluster, inCluster: boolean): KObj {
    const config = inCluster
      ? { tlsClientConfig: { insecure: false } }
      : { bearerToken: c.token, tlsClientConfig: { insecure: false, caData: fs.readFileSync(c.caFile).toString('base64') } };
    return {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: c.name, namespace: this.namespace, labels: { 'argocd.argoproj.io/secret-type': 'cluster' } },
      type: 'Opaque',
      stringData: { name: c.name, server: inCluster ? 'https://kubernetes.default.svc' : c.server, config: JSON.stringify(config) },
    } as KObj;
  }

  private env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
    const r = this.runDir;
    return {
      ...process.env,
      PATH: `${this.bin.dir}:${process.env.PATH ?? ''}`,
      ARGOCD_FAKE_IN_CLUSTER: 'true',
      KUBECONFIG: this.kubeconfig,
      TMPDIR: path.join(r, 'tmp'),
      ARGOCD_TLS_DATA_PATH: path.join(r, 'tls'),
      ARGOCD_SSH_DATA_PATH: path.join(r, 'ssh'),
      ARGOCD_GNUPGHOME: path.join(r, 'gpg/keys'),
      ARGOCD_GPG_DATA_PATH: path.join(r, 'gpg/source'),
      ARGOCD_GPG_ENABLED: 'false',
      ARGOCD_PLUGINSOCKFILEPATH: path.join(r, 'plugins'),
      // The repo-server's git must not read the developer's ~/.gitconfig.
      HOME: r,
      ...extra,
    };
  }

  private spawn(name: string, bin: string, args: string[], env: NodeJS.ProcessEnv): Proc {
    fs.mkdirSync(this.opts.logDir, { recursive: true });
    const fd = fs.openSync(path.join(this.opts.logDir, `${name}.log`), 'a');
    const child = spawn(bin, args, { stdio: ['ignore', fd, fd], env });
    fs.closeSync(fd);
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.once('error', () => undefined);
    const p = { name, child, exited };
    this.procs.push(p);
    return p;
  }

  private async startProcesses(): Promise<void> {
    const port = async (n: string) => (this.ports[n] = await freePort());
    const [redis, repo, repoMetrics, ctrlMetrics, appsetMetrics, appsetProbe, appsetWebhook] = await Promise.all(
      ['redis', 'repo', 'repoMetrics', 'ctrlMetrics', 'appsetMetrics', 'appsetProbe', 'appsetWebhook'].map(port),
    );
    const redisBin = fs.existsSync('/usr/bin/redis-server') ? '/usr/bin/redis-server' : 'redis-server';
    const r = this.spawn(
      'redis',
      redisBin,
      ['--port', String(redis), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      this.env(),
    );
    await until('redis', 10_000, () => tcpOpen(redis), r, this.opts.logDir);
    const argocd = this.bin.argocd;
    const rs = this.spawn(
      'argocd-repo-server',
      argocd,
      ['--loglevel', 'info', '--port', String(repo), '--metrics-port', String(repoMetrics), '--redis', `127.0.0.1:${redis}`],
      this.env({ ARGOCD_BINARY_NAME: 'argocd-repo-server' }),
    );
    const ctrl = this.spawn(
      'argocd-application-controller',
      argocd,
      [
        '--loglevel',
        'info',
        '--redis',
        `127.0.0.1:${redis}`,
        '--repo-server',
        `127.0.0.1:${repo}`,
        '--metrics-port',
        String(ctrlMetrics),
        '--hydrator-enabled=false',
        // Status refreshes are driven by watches; the periodic resync only matters for git changes.
        '--app-resync',
        '60',
      ],
      this.env({ ARGOCD_BINARY_NAME: 'argocd-application-controller' }),
    );
    const appset = this.spawn(
      'argocd-applicationset-controller',
      argocd,
      [
        '--loglevel',
        'info',
        '--argocd-repo-server',
        `127.0.0.1:${repo}`,
        '--metrics-addr',
        `127.0.0.1:${appsetMetrics}`,
        '--probe-addr',
        `127.0.0.1:${appsetProbe}`,
        '--webhook-addr',
        `127.0.0.1:${appsetWebhook}`,
      ],
      this.env({ ARGOCD_BINARY_NAME: 'argocd-applicationset-controller' }),
    );
    await Promise.all([
      until('argocd-repo-server', 90_000, () => httpOk(`http://127.0.0.1:${repoMetrics}/healthz?full=true`), rs, this.opts.logDir),
      until('argocd-application-controller', 90_000, () => httpOk(`http://127.0.0.1:${ctrlMetrics}/healthz`), ctrl, this.opts.logDir),
      until(
        'argocd-applicationset-controller',
        90_000,
        () => httpOk(`http://127.0.0.1:${appsetMetrics}/metrics`),
        appset,
        this.opts.logDir,
      ),
    ]);
  }

  pids(): number[] {
    return this.procs.map((p) => p.child.pid ?? 0).filter(Boolean);
  }

  /** Restarts the application controller (it then forgets its cluster caches). */
  async restartController(): Promise<void> {
    const p = this.procs.find((x) => x.name === 'argocd-application-controller');
    if (!p) return;
    p.child.kill('SIGTERM');
    await Promise.race([p.exited, sleep(5_000)]);
    p.child.kill('SIGKILL');
    this.procs = this.procs.filter((x) => x !== p);
    const args = p.child.spawnargs.slice(1);
    const np = this.spawn(p.name, this.bin.argocd, args, this.env({ ARGOCD_BINARY_NAME: 'argocd-application-controller' }));
    await until(p.name, 90_000, () => httpOk(`http://127.0.0.1:${this.ports.ctrlMetrics}/healthz`), np, this.opts.logDir);
  }

  async stop(): Promise<void> {
    // Controllers first, redis last (they log reconnect noise otherwise).
    for (const p of [...this.procs].reverse()) {
      if (p.child.exitCode !== null || p.child.signalCode !== null) continue;
      p.child.kill('SIGTERM');
      const done = await Promise.race([p.exited.then(() => true), sleep(5_000).then(() => false)]);
      if (!done) {
        p.child.kill('SIGKILL');
        await p.exited;
      }
    }
    this.procs = [];
  }
}

async function until(what: string, timeoutMs: number, check: () => Promise<boolean>, proc?: Proc, logDir?: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exited = false;
  proc?.exited.then(() => (exited = true));
  while (Date.now() < deadline) {
    if (exited) throw new Error(`${what} exited early. Log tail:\n${tail(logDir, proc?.name)}`);
    try {
      if (await check()) return;
    } catch {
      /* not yet */
    }
    await sleep(100);
  }
  throw new Error(`${what}: not ready after ${timeoutMs} ms${proc ? `. Log tail:\n${tail(logDir, proc.name)}` : ''}`);
}

function tail(logDir: string | undefined, name: string | undefined): string {
  if (!logDir || !name) return '';
  try {
    return fs
      .readFileSync(path.join(logDir, `${name}.log`), 'utf8')
      .trim()
      .split('\n')
      .slice(-30)
      .join('\n');
  } catch {
    return '(no log)';
  }
}

function tcpOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

async function httpOk(url: string): Promise<boolean> {
  const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
  await res.arrayBuffer();
  return res.ok;
}

/**
 * The project's infra/argocd (AppProject + ApplicationSet) as applied against the real Argo CD: the
 * ApplicationSet's repoURL pointed at the environment's local git repository; everything else unchanged.
 */
export function projectArgoCdObjects(repoDir: string, repoURL: string): KObj[] {
  const objs = ['project.yaml', 'applicationset.yaml'].flatMap((f) => loadObjects(path.join(repoDir, 'infra', 'argocd', f)));
  for (const o of objs) if (o.kind === 'ApplicationSet') o.spec.template.spec.source.repoURL = repoURL;
  return objs;
}
