/**
 * The real Knative Serving stack of the test environment (built by tests/testenv/knative/install.sh into
 * ~/.cache/vpm-testenv/knative-<version>/). Nothing here is simulated except the images' contents:
 *
 *  - etcd + kube-apiserver v1.34.4 (with --enable-aggregator-routing, so webhook Services resolve
 *    through their Endpoints), kube-controller-manager, kube-scheduler;
 *  - Knative Serving 1.15.2: controller, webhook (really validating and defaulting), autoscaler, activator,
 *    with Knative's own CRDs, RBAC, config-* ConfigMaps and webhook configurations;
 *  - containerd 1.6 + runc + the CNI bridge plugin + a real kubelet and kube-proxy (iptables): revision pods
 *    really run, each with Knative's real queue-proxy next to the project's test app;
 *  - Traefik v3.6 with its Knative KIngress provider as the ingress (no Envoy is served here).
 *
 * All of it runs out of cluster inside one network namespace per stack (`vpmkn<index>`), so that its fixed
 * ports and its Service range never meet the machine's. A veth pair joins it to the host: the host side is
 * 10.243.<index>.1, the namespace side 10.243.<index>.2, where the API server (:6443) and the ingress (:8081)
 * listen for the tests and for vpm; the host routes the stack's pod range (10.244.<64+index>.0/24) there
 * too, so a Prometheus on the host scrapes the queue-proxies directly. Inside, 10.242.<index>.1 on `lo` is a
 * non-loopback local address (Endpoints reject 127/8) that the out-of-cluster webhook, activator and
 * autoscaler are reached at, and the kubelet's node IP.
 *
 * Stacks 0 and 1 can run side by side (the fleet's two clusters); each index is one stack per machine:
 * `start()` takes its lock file and clears what a crashed run left behind. Needs root (network namespaces,
 * mounts, containerd).
 *
 *   const kn = new RealKnative({ dir, log, index: 0 });
 *   await kn.start();                 // ~15 s from cached binaries
 *   kn.kubeconfig / kn.ingressUrl / kn.kube (a Kube client)
 *   kn.syncQueueProxyTargets((t) => prom.setTargets(t))   // real Prometheus scrapes every queue-proxy
 *   await kn.restartApiServer();      // SIGKILL + start again, same data
 *   await kn.stop();
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseAllDocuments, stringify } from 'yaml';
import { Kube, type KObj } from './kube.ts';
import { promQuery, startPrometheus, type PrometheusHandle } from './prometheus.ts';
import {
  REPO_ROOT,
  ensurePki,
  loadYamlObjects,
  findAssets,
  httpGet,
  killPid,
  pidAlive,
  spawnLogged,
  waitFor,
  type Proc,
} from './testenv.ts';

export const KNATIVE_VERSION = '1.15.2';
export const SERVING_MODULE_VERSION = 'v0.42.2';
/**
 * Names and addresses of stack number `index` (0, 1, …): distinct wherever the host sees them (namespace,
 * links, routes, lock), so two stacks — the fleet's two clusters — run side by side.
 */
function networkOf(index: number) {
  return {
    netns: `vpmkn${index}`,
    hostIf: `vpmkn${index}-h`,
    stackIf: `vpmkn${index}-n`,
    bridge: `vpmkn${index}br`,
    hostIp: `10.243.${index}.1`,
    stackIp: `10.243.${index}.2`,
    /** non-loopback local address inside the namespace (Endpoints reject 127/8) */
    localIp: `10.242.${index}.1`,
    podCidr: `10.244.${64 + index}.0/24`,
    podGateway: `10.244.${64 + index}.1`,
    nodeName: `vpmkn${index}-node-0`,
    lockFile: path.join(os.tmpdir(), `vpm-knative-real-${index}.lock`),
  };
}
const SERVICE_CIDR = '10.96.0.0/16';
const API_PORT = 6443;
const INGRESS_PORT = 8081;

export function knativeCacheDir(): string {
  return path.join(process.env.VPM_TESTENV_CACHE ?? path.join(os.homedir(), '.cache', 'vpm-testenv'), `knative-${KNATIVE_VERSION}`);
}

const PARTS = ['debroot', 'serving', 'node', 'traefik', 'images', 'manifests'] as const;

/** The built stack, or why it cannot run here. */
export function findKnative(): { dir: string } | { missing: string } {
  const dir = process.env.VPM_TESTENV_KNATIVE ?? knativeCacheDir();
  const absent = PARTS.filter((p) => !fs.existsSync(path.join(dir, `.${p}.complete`)));
  if (absent.length)
    return { missing: `real Knative stack not built in ${dir} (missing: ${absent.join(', ')}); run: bash tests/testenv/install.sh` };
  if (process.getuid?.() !== 0) return { missing: 'the real Knative stack needs root (network namespaces, mounts, containerd)' };
  return { dir };
}

function canConnect(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port, timeout: 1_000 }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
    socket.on('timeout', () => {
      socket.destroy();
      resolve(false);
    });
  });
}

/** Whether the real-Knative suites can run here; like requireTestenv(), fails under VPM_REQUIRE_TESTENV=1. */
export function requireKnative(): boolean {
  const found = process.env.VPM_SKIP_TESTENV === '1' ? { missing: 'VPM_SKIP_TESTENV=1 asks to skip it' } : findKnative();
  if (!('missing' in found)) return true;
  if (process.env.VPM_REQUIRE_TESTENV === '1')
    throw new Error(`VPM_REQUIRE_TESTENV=1 but the real Knative stack is unavailable: ${found.missing}`);
  process.stderr.write(`[knative] skipping: ${found.missing}\n`);
  return false;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function run(cmd: string, args: string[], opts: { ignoreFailure?: boolean; env?: NodeJS.ProcessEnv } = {}): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', env: opts.env ?? process.env });
  if (r.status !== 0 && !opts.ignoreFailure)
    throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr || r.error?.message}`);
  return r.stdout ?? '';
}

function objectsIn(dir: string): KObj[] {
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .flatMap((f) => loadYamlObjects(path.join(dir, f)));
}

export type RealKnativeOptions = {
  dir: string;
  log?: (msg: string) => void;
  cache?: string;
  /** Which stack on this machine (0, 1): its namespace, addresses and lock. Default 0. */
  index?: number;
};

export class RealKnative {
  readonly dir: string;
  readonly logDir: string;
  readonly cache: string;
  private readonly net: ReturnType<typeof networkOf>;
  private readonly log: (msg: string) => void;
  private readonly procs = new Map<string, Proc>();
  private token = '';
  private hostsTimer: NodeJS.Timeout | undefined;
  private hostsBody = '';
  private targetsTimer: NodeJS.Timeout | undefined;
  kube!: Kube;
  /** Milliseconds `start()` took, for the test-environment report and the bench. */
  startupMs = 0;

  constructor(o: RealKnativeOptions) {
    this.dir = path.resolve(o.dir);
    this.logDir = path.join(this.dir, 'logs');
    const found = o.cache ? { dir: o.cache } : findKnative();
    if ('missing' in found) throw new Error(found.missing);
    this.cache = found.dir;
    this.net = networkOf(o.index ?? 0);
    this.log = o.log ?? ((m) => process.stderr.write(`[knative] ${m}\n`));
  }

  /** Kubeconfig for the host side (tests, vpm): the API server through the veth pair. */
  get kubeconfig(): string {
    return path.join(this.dir, 'kubeconfig');
  }
  /** Kubeconfig for the components inside the namespace. */
  private get innerKubeconfig(): string {
    return path.join(this.dir, 'kubeconfig-inner');
  }
  get server(): string {
    return `https://${this.net.stackIp}:${API_PORT}`;
  }
  /** Traefik's public entrypoint; requests name the KService by Host (`<name>.<ns>.example.com`). */
  get ingressUrl(): string {
    return `http://${this.net.stackIp}:${INGRESS_PORT}`;
  }
  get apiserverPid(): number {
    return this.procs.get('kube-apiserver')?.child.pid ?? 0;
  }
  get adminToken(): string {
    return this.token;
  }
  get caFile(): string {
    return path.join(this.dir, 'pki', 'ca.crt');
  }
  get domain(): string {
    return 'example.com';
  }

  async start(): Promise<void> {
    const t0 = Date.now();
    fs.mkdirSync(this.logDir, { recursive: true });
    this.takeLock();
    this.clearLeftovers();
    this.createNetwork();
    await this.startControlPlane();
    await this.installKnative();
    await this.startNode();
    await this.startIngress();
    this.startupMs = Date.now() - t0;
    this.log(`real Knative ${KNATIVE_VERSION} up in ${this.startupMs} ms (ingress ${this.ingressUrl}, API ${this.server})`);
  }

  // --- lock and leftovers ---------------------------------------------------------------------------

  private takeLock(): void {
    try {
      const holder = Number(fs.readFileSync(this.net.lockFile, 'utf8'));
      if (holder !== process.pid && pidAlive(holder))
        throw new Error(`another real Knative stack is running (process ${holder}, lock ${this.net.lockFile}); only one fits on a machine`);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    fs.writeFileSync(this.net.lockFile, String(process.pid));
  }

  /** Stops whatever a crashed run left in the namespace: processes, pod containers, mounts, links. */
  private clearLeftovers(): void {
    if (!fs.existsSync(`/run/netns/${this.net.netns}`)) return;
    this.log(`clearing a previous stack left in netns ${this.net.netns}`);
    const pids = run('ip', ['netns', 'pids', this.net.netns], { ignoreFailure: true }).split('\n').filter(Boolean).map(Number);
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    this.removeNetwork();
  }

  // --- network ---------------------------------------------------------------------------------------

  private ns(...args: string[]): void {
    run('ip', ['-n', this.net.netns, ...args]);
  }

  private createNetwork(): void {
    const n = this.net;
    run('ip', ['netns', 'add', n.netns]);
    this.ns('link', 'set', 'lo', 'up');
    this.ns('addr', 'add', `${n.localIp}/32`, 'dev', 'lo');
    this.ns('link', 'add', n.bridge, 'type', 'bridge');
    this.ns('addr', 'add', `${n.podGateway}/24`, 'dev', n.bridge);
    this.ns('link', 'set', n.bridge, 'up');
    // ClusterIPs only exist as kube-proxy's DNAT rules; a route makes the kernel try them at all
    this.ns('route', 'add', SERVICE_CIDR, 'dev', n.bridge);
    run('ip', ['link', 'add', n.hostIf, 'type', 'veth', 'peer', 'name', n.stackIf, 'netns', n.netns]);
    run('ip', ['addr', 'add', `${n.hostIp}/30`, 'dev', n.hostIf]);
    run('ip', ['link', 'set', n.hostIf, 'up']);
    this.ns('addr', 'add', `${n.stackIp}/30`, 'dev', n.stackIf);
    this.ns('link', 'set', n.stackIf, 'up');
    // the host reaches the pods (Prometheus scrapes the queue-proxies) and the local address through the namespace
    run('ip', ['route', 'replace', n.podCidr, 'via', n.stackIp]);
    run('ip', ['route', 'replace', `${n.localIp}/32`, 'via', n.stackIp]);
    run('ip', ['netns', 'exec', n.netns, 'sysctl', '-qw', 'net.ipv4.ip_forward=1']);
  }

  private removeNetwork(): void {
    run('ip', ['route', 'del', this.net.podCidr], { ignoreFailure: true });
    run('ip', ['route', 'del', `${this.net.localIp}/32`], { ignoreFailure: true });
    run('ip', ['link', 'del', this.net.hostIf], { ignoreFailure: true });
    // containerd's per-pod namespaces are named cni-<uuid>; only ours exist while the lock is held
    for (const n of fs.existsSync('/run/netns') ? fs.readdirSync('/run/netns') : []) {
      if (n.startsWith('cni-') && this.podNetnsIsOurs(n)) run('ip', ['netns', 'del', n], { ignoreFailure: true });
    }
    run('ip', ['netns', 'del', this.net.netns], { ignoreFailure: true });
    for (const m of this.mountsUnder(this.dir)) run('umount', ['-l', m], { ignoreFailure: true });
  }

  private podNetnsIsOurs(name: string): boolean {
    const out = run('ip', ['-n', name, 'addr'], { ignoreFailure: true });
    return out.includes(`inet ${this.net.podCidr.replace(/\.0\/24$/, '.')}`);
  }

  private mountsUnder(dir: string): string[] {
    return fs
      .readFileSync('/proc/mounts', 'utf8')
      .split('\n')
      .map((l) => l.split(' ')[1])
      .filter((m) => m?.startsWith(`${dir}/`))
      .sort()
      .reverse();
  }

  /** Starts BIN inside the namespace (nsenter execs it: the pid is the component's own). */
  private spawnInside(name: string, bin: string, args: string[], env: Record<string, string> = {}, hostsFile?: string): Proc {
    const inner = ['nsenter', `--net=/run/netns/${this.net.netns}`, bin, ...args];
    // The autoscaler and activator resolve <svc>.<ns>.svc.cluster.local (there is no cluster DNS): they get
    // a private mount namespace whose /etc/hosts is the file syncHosts() keeps current.
    const [cmd, ...cmdArgs] = hostsFile
      ? ['unshare', '-m', '--propagation', 'private', 'sh', '-c', 'mount --bind "$0" /etc/hosts && exec "$@"', hostsFile, ...inner]
      : inner;
    const saved = { ...process.env };
    Object.assign(process.env, env);
    try {
      const proc = spawnLogged(name, cmd, cmdArgs, this.logDir);
      this.procs.set(name, proc);
      return proc;
    } finally {
      for (const k of Object.keys(env)) {
        if (saved[k] === undefined) delete process.env[k];
        else process.env[k] = saved[k];
      }
    }
  }

  private bin(name: string): string {
    return path.join(this.cache, 'bin', name);
  }

  // --- control plane ---------------------------------------------------------------------------------

  private apiserverArgs(): string[] {
    const pki = path.join(this.dir, 'pki');
    return [
      '--etcd-servers=http://127.0.0.1:2379',
      '--bind-address=0.0.0.0',
      `--advertise-address=${this.net.stackIp}`,
      `--secure-port=${API_PORT}`,
      `--cert-dir=${path.join(this.dir, 'apiserver-certs')}`,
      `--tls-cert-file=${pki}/apiserver.crt`,
      `--tls-private-key-file=${pki}/apiserver.key`,
      `--client-ca-file=${pki}/ca.crt`,
      `--token-auth-file=${path.join(this.dir, 'tokens.csv')}`,
      '--authorization-mode=RBAC',
      `--service-account-issuer=https://127.0.0.1:${API_PORT}`,
      `--service-account-key-file=${pki}/sa.pub`,
      `--service-account-signing-key-file=${pki}/sa.key`,
      `--service-cluster-ip-range=${SERVICE_CIDR}`,
      '--allow-privileged=true',
      '--disable-admission-plugins=ServiceAccount,ResourceQuota',
      '--enable-priority-and-fairness=false',
      '--profiling=false',
      '--endpoint-reconciler-type=none',
      // webhook Services are resolved through their Endpoints: the webhook runs out of cluster at the local address
      '--enable-aggregator-routing=true',
      '--v=1',
    ];
  }

  private async startControlPlane(): Promise<void> {
    const assets = findAssets();
    if ('missing' in assets) throw new Error(assets.missing);
    ensurePki(this.dir, [`IP:${this.net.stackIp}`, `IP:${this.net.localIp}`, 'IP:10.96.0.1']);
    this.token = randomBytes(24).toString('hex');
    fs.writeFileSync(path.join(this.dir, 'tokens.csv'), `${this.token},admin,admin-uid,"system:masters"\n`, { mode: 0o600 });
    const kubeconfig = (server: string) =>
      stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'knative', cluster: { server, 'certificate-authority': this.caFile } }],
        users: [{ name: 'admin', user: { token: this.token } }],
        contexts: [{ name: 'knative', context: { cluster: 'knative', user: 'admin', namespace: 'default' } }],
        'current-context': 'knative',
      });
    fs.writeFileSync(this.kubeconfig, kubeconfig(this.server), { mode: 0o600 });
    fs.writeFileSync(this.innerKubeconfig, kubeconfig(`https://127.0.0.1:${API_PORT}`), { mode: 0o600 });

    const data = path.join(this.dir, 'etcd');
    fs.rmSync(data, { recursive: true, force: true });
    const etcd = this.spawnInside('etcd', assets.etcd, [
      '--name=vpmkn',
      `--data-dir=${data}`,
      '--listen-client-urls=http://127.0.0.1:2379',
      '--advertise-client-urls=http://127.0.0.1:2379',
      '--listen-peer-urls=http://127.0.0.1:2380',
      '--initial-advertise-peer-urls=http://127.0.0.1:2380',
      '--initial-cluster=vpmkn=http://127.0.0.1:2380',
      '--unsafe-no-fsync=true',
      '--log-level=warn',
    ]);
    await sleep(300);
    if (!pidAlive(etcd.child.pid)) throw new Error(`etcd exited at once; see ${this.logDir}/etcd.log`);
    const apiserver = this.spawnInside('kube-apiserver', assets.kubeApiserver, this.apiserverArgs());
    await this.waitApiserver(apiserver);
    this.kube = await Kube.fromKubeconfig(this.kubeconfig);
  }

  private async waitApiserver(proc: Proc): Promise<void> {
    const ca = fs.readFileSync(this.caFile);
    await waitFor(
      'kube-apiserver (real Knative stack)',
      async () => (await httpGet(`${this.server}/readyz`, { ca, token: this.token })).status === 200,
      60_000,
      proc,
      this.logDir,
    );
  }

  /** Kills the API server (SIGKILL, like a crash); the rest of the stack keeps running without it. */
  async stopApiServer(): Promise<void> {
    const old = this.procs.get('kube-apiserver');
    if (!old || old.child.exitCode !== null) return;
    old.child.kill('SIGKILL');
    await old.exited;
  }

  /** Starts the API server again on the same data (after stopApiServer). */
  async startApiServer(): Promise<void> {
    const assets = findAssets();
    if ('missing' in assets) throw new Error(assets.missing);
    await this.waitApiserver(this.spawnInside('kube-apiserver', assets.kubeApiserver, this.apiserverArgs()));
  }

  /** A crash and a restart of the API server, `downMs` apart. */
  async restartApiServer(downMs = 0): Promise<void> {
    await this.stopApiServer();
    if (downMs) await sleep(downMs);
    await this.startApiServer();
  }

  private async applyAll(objs: KObj[], opts: { force?: boolean } = {}): Promise<void> {
    for (const o of objs) await this.kube.apply(o, 'vpm-testenv', { force: opts.force ?? true });
  }

  private async installKnative(): Promise<void> {
    const m = path.join(this.cache, 'manifests');
    await this.applyAll(objectsIn(path.join(m, '1-namespace')));
    await this.applyAll(objectsIn(path.join(m, '2-crds')));
    await waitFor(
      'Knative CRDs established',
      async () => {
        const crds = (await this.kube.request('GET', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions')).items as any[];
        const ours = crds.filter((c) => /knative\.dev$/.test(c.spec.group));
        return (
          ours.length >= 12 && ours.every((c) => c.status?.conditions?.some((x: any) => x.type === 'Established' && x.status === 'True'))
        );
      },
      60_000,
    );
    this.kube.close();
    this.kube = await Kube.fromKubeconfig(this.kubeconfig); // fresh discovery: the CRDs are new
    const webhookConfigs = objectsIn(path.join(m, '4-webhooks'));
    const [secrets, admission] = [webhookConfigs.filter((o) => o.kind === 'Secret'), webhookConfigs.filter((o) => o.kind !== 'Secret')];
    await this.applyAll([...objectsIn(path.join(m, '3-config')), ...this.overrides(), ...secrets]);

    this.startHostsSync();
    const env = {
      KUBECONFIG: this.innerKubeconfig,
      SYSTEM_NAMESPACE: 'knative-serving',
      METRICS_DOMAIN: 'knative.dev/internal/serving',
      CONFIG_LOGGING_NAME: 'config-logging',
      CONFIG_OBSERVABILITY_NAME: 'config-observability',
    };
    // Metrics and profiling ports moved apart: out of cluster they all share one network namespace.
    this.spawnInside('knative-webhook', this.bin('webhook'), [], {
      ...env,
      POD_NAME: 'webhook-local',
      WEBHOOK_NAME: 'webhook',
      WEBHOOK_PORT: '8443',
      METRICS_PROMETHEUS_PORT: '19092',
      PROFILING_PORT: '18010',
    });
    this.spawnInside('knative-controller', this.bin('controller'), [], {
      ...env,
      POD_NAME: 'controller-local',
      METRICS_PROMETHEUS_PORT: '19090',
      PROFILING_PORT: '18008',
    });
    const hosts = path.join(this.dir, 'hosts');
    // POD_IP lands in an Endpoints object, which rejects loopback addresses
    this.spawnInside(
      'knative-autoscaler',
      this.bin('autoscaler'),
      [],
      { ...env, POD_NAME: 'autoscaler-local', POD_IP: this.net.localIp, METRICS_PROMETHEUS_PORT: '19091', PROFILING_PORT: '18009' },
      hosts,
    );
    this.spawnInside(
      'knative-activator',
      this.bin('activator'),
      [],
      { ...env, POD_NAME: 'activator-local', POD_IP: this.net.localIp, METRICS_PROMETHEUS_PORT: '19093', PROFILING_PORT: '18011' },
      hosts,
    );
    const kc = this.innerKubeconfig;
    const pki = path.join(this.dir, 'pki');
    const controlPlaneFlags = [
      `--kubeconfig=${kc}`,
      `--authentication-kubeconfig=${kc}`,
      `--authorization-kubeconfig=${kc}`,
      '--leader-elect=false',
      '--bind-address=127.0.0.1',
      '--v=1',
    ];
    this.spawnInside('kube-controller-manager', this.bin('kube-controller-manager'), [
      ...controlPlaneFlags,
      '--secure-port=10357',
      '--controllers=deployment,replicaset,endpoint,endpointslice,endpointslicemirroring,garbagecollector,namespace,serviceaccount,serviceaccount-token,root-ca-certificate-publisher-controller,disruption,podgc,nodelifecycle,taint-eviction-controller',
      `--service-account-private-key-file=${pki}/sa.key`,
      `--root-ca-file=${pki}/ca.crt`,
      '--use-service-account-credentials=false',
      '--concurrent-deployment-syncs=2',
      '--concurrent-replicaset-syncs=2',
    ]);
    this.spawnInside('kube-scheduler', this.bin('kube-scheduler'), [...controlPlaneFlags, '--secure-port=10359']);
    // Admission is registered only once the webhook answers, so no request meets a dead webhook.
    await waitFor('Knative webhook', () => canConnect(this.net.localIp, 8443), 60_000, this.procs.get('knative-webhook'), this.logDir);
    await this.applyAll(admission);
  }

  /** tests/support/knative-real.yaml with LOCAL_IP replaced by this stack's local address. */
  private overrides(): KObj[] {
    const text = fs.readFileSync(path.join(REPO_ROOT, 'tests/support/knative-real.yaml'), 'utf8').replaceAll('LOCAL_IP', this.net.localIp);
    return parseAllDocuments(text)
      .map((d) => d.toJSON())
      .filter((o): o is KObj => !!o?.kind);
  }

  /** Poor man's cluster DNS for the autoscaler and activator: <svc>.<ns>.svc.cluster.local → ClusterIP. */
  private startHostsSync(): void {
    const file = path.join(this.dir, 'hosts');
    const fixed = [
      '127.0.0.1 localhost',
      `${this.net.localIp} autoscaler.knative-serving.svc.cluster.local autoscaler.knative-serving.svc`,
      `${this.net.localIp} activator-service.knative-serving.svc.cluster.local`,
    ];
    if (!fs.existsSync(file)) fs.writeFileSync(file, `${fixed.join('\n')}\n`);
    const sync = async () => {
      try {
        const svcs = (await this.kube.request('GET', '/api/v1/services')).items as any[];
        const lines = svcs
          .filter((s) => s.spec.clusterIP && s.spec.clusterIP !== 'None' && s.spec.clusterIP !== this.net.localIp)
          .filter((s) => !(s.metadata.namespace === 'knative-serving' && s.metadata.name === 'autoscaler'))
          .map(
            (s) =>
              `${s.spec.clusterIP} ${s.metadata.name}.${s.metadata.namespace}.svc.cluster.local ${s.metadata.name}.${s.metadata.namespace}.svc`,
          );
        const body = `${[...fixed, ...lines].join('\n')}\n`;
        // rewritten in place: the file is bind-mounted, a rename would leave the mounts on the old inode
        if (body !== this.hostsBody) fs.writeFileSync(file, body);
        this.hostsBody = body;
      } catch {
        /* the API server may be restarting; try again next tick */
      }
    };
    this.hostsTimer = setInterval(sync, 1_000);
    this.hostsTimer.unref();
    void sync();
  }

  // --- node: containerd, kubelet, kube-proxy ----------------------------------------------------------

  private get debroot(): string {
    return path.join(this.cache, 'debroot');
  }

  private iptablesEnv(): Record<string, string> {
    return {
      PATH: `${this.debroot}/ipt-bin:${this.debroot}/usr/sbin:${this.debroot}/usr/bin:${process.env.PATH}`,
      LD_LIBRARY_PATH: `${this.debroot}/usr/lib/x86_64-linux-gnu`,
      XTABLES_LIBDIR: `${this.debroot}/usr/lib/x86_64-linux-gnu/xtables`,
    };
  }

  private ctr(...args: string[]): string {
    return run(`${this.debroot}/usr/bin/ctr`, ['--address', this.containerdSocket, '-n', 'k8s.io', ...args], { ignoreFailure: true });
  }

  private get containerdSocket(): string {
    return path.join(this.dir, 'containerd', 'containerd.sock');
  }

  private writeNodeConfig(): { containerdConfig: string; kubeletConfig: string } {
    const c = path.join(this.dir, 'containerd');
    fs.mkdirSync(path.join(c, 'cni.d'), { recursive: true });
    fs.writeFileSync(
      path.join(c, 'cni.d', '10-vpmkn.conflist'),
      JSON.stringify({
        cniVersion: '0.4.0',
        name: 'vpmkn',
        plugins: [
          {
            type: 'bridge',
            bridge: this.net.bridge,
            isGateway: true,
            // pods answer the host (Prometheus scrapes them from there) through the namespace
            isDefaultGateway: true,
            ipMasq: false,
            hairpinMode: true,
            ipam: {
              type: 'host-local',
              ranges: [[{ subnet: this.net.podCidr, gateway: this.net.podGateway }]],
              dataDir: path.join(c, 'cni-ipam'),
            },
          },
          { type: 'portmap', capabilities: { portMappings: true } },
          { type: 'loopback' },
        ],
      }),
    );
    const containerdConfig = path.join(c, 'config.toml');
    fs.writeFileSync(
      containerdConfig,
      `version = 2
root = "${c}/root"
state = "${c}/state"
[grpc]
  address = "${this.containerdSocket}"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "dev.local/pause:v1"
  enable_selinux = false
  # runc cannot lower oom_score_adj where CAP_SYS_RESOURCE is dropped (the pod sandbox asks for -998)
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        BinaryName = "${this.debroot}/usr/sbin/runc"
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "${this.debroot}/usr/lib/cni"
    conf_dir = "${c}/cni.d"
`,
    );
    const k = path.join(this.dir, 'kubelet');
    fs.mkdirSync(path.join(k, 'pod-logs'), { recursive: true });
    fs.writeFileSync(path.join(k, 'resolv.conf'), 'nameserver 127.0.0.1\n');
    const kubeletConfig = path.join(k, 'config.yaml');
    fs.writeFileSync(
      kubeletConfig,
      stringify({
        apiVersion: 'kubelet.config.k8s.io/v1beta1',
        kind: 'KubeletConfiguration',
        authentication: { anonymous: { enabled: true }, webhook: { enabled: false }, x509: {} },
        authorization: { mode: 'AlwaysAllow' },
        cgroupDriver: 'cgroupfs',
        failCgroupV1: false,
        cgroupsPerQOS: false,
        enforceNodeAllocatable: [],
        containerRuntimeEndpoint: `unix://${this.containerdSocket}`,
        failSwapOn: false,
        address: this.net.localIp,
        port: 10350,
        readOnlyPort: 0,
        healthzBindAddress: '127.0.0.1',
        healthzPort: 10348,
        podCIDR: this.net.podCidr,
        resolvConf: path.join(k, 'resolv.conf'),
        podLogsDir: path.join(k, 'pod-logs'),
        evictionHard: { 'memory.available': '1Mi', 'nodefs.available': '0%', 'imagefs.available': '0%' },
        imageGCHighThresholdPercent: 100,
        imageGCLowThresholdPercent: 99,
        registerNode: true,
        serializeImagePulls: false,
        localStorageCapacityIsolation: false,
      }),
    );
    return { containerdConfig, kubeletConfig };
  }

  private async startNode(): Promise<void> {
    const { containerdConfig, kubeletConfig } = this.writeNodeConfig();
    const nodeEnv = { PATH: `${this.debroot}/usr/bin:${this.debroot}/usr/sbin:${process.env.PATH}` };
    const containerd = this.spawnInside('containerd', `${this.debroot}/usr/bin/containerd`, ['--config', containerdConfig], nodeEnv);
    await waitFor('containerd', async () => this.ctr('version').includes('Server'), 20_000, containerd, this.logDir);
    for (const image of ['pause', 'testapp', 'queue']) this.ctr('images', 'import', path.join(this.cache, 'images', `${image}.tar`));
    this.spawnInside(
      'kubelet',
      this.bin('kubelet'),
      [
        `--kubeconfig=${this.innerKubeconfig}`,
        `--config=${kubeletConfig}`,
        `--root-dir=${path.join(this.dir, 'kubelet', 'root')}`,
        `--hostname-override=${this.net.nodeName}`,
        `--node-ip=${this.net.localIp}`,
        '--v=1',
      ],
      nodeEnv,
    );
    this.spawnInside(
      'kube-proxy',
      this.bin('kube-proxy'),
      [
        `--kubeconfig=${this.innerKubeconfig}`,
        `--hostname-override=${this.net.nodeName}`,
        '--proxy-mode=iptables',
        '--cluster-cidr=10.244.0.0/16',
        '--iptables-localhost-nodeports=false',
        // no conntrack sysctl tuning: the namespace's /proc/sys is not ours to change
        '--conntrack-max-per-core=0',
        '--conntrack-tcp-timeout-established=0',
        '--conntrack-tcp-timeout-close-wait=0',
        '--metrics-bind-address=127.0.0.1:10249',
        '--healthz-bind-address=127.0.0.1:10256',
        '--v=1',
      ],
      this.iptablesEnv(),
    );
    await waitFor(
      `node ${this.net.nodeName} Ready`,
      async () => {
        const node = await this.kube.getOrNull(`/api/v1/nodes/${this.net.nodeName}`);
        return node?.status?.conditions?.some((c: any) => c.type === 'Ready' && c.status === 'True') ?? false;
      },
      90_000,
      this.procs.get('kubelet'),
      this.logDir,
    );
  }

  private async startIngress(): Promise<void> {
    const traefik = this.spawnInside('traefik', this.bin('traefik'), [
      '--experimental.knative=true',
      '--providers.knative=true',
      `--providers.knative.endpoint=https://127.0.0.1:${API_PORT}`,
      `--providers.knative.token=${this.token}`,
      `--providers.knative.certAuthFilePath=${this.caFile}`,
      '--providers.knative.publicEntrypoints=web',
      '--providers.knative.privateEntrypoints=internal',
      '--providers.knative.publicService.name=traefik',
      '--providers.knative.publicService.namespace=knative-serving',
      '--providers.knative.privateService.name=traefik-internal',
      '--providers.knative.privateService.namespace=knative-serving',
      `--entryPoints.web.address=:${INGRESS_PORT}`,
      '--entryPoints.internal.address=:8082',
      '--entryPoints.traefik.address=127.0.0.1:8090',
      '--api.insecure=true',
      '--log.level=INFO',
      '--global.checknewversion=false',
      '--global.sendanonymoususage=false',
    ]);
    await waitFor('traefik', async () => (await httpGet(`${this.ingressUrl}/`)).status > 0, 30_000, traefik, this.logDir);
  }

  /**
   * Keeps a Prometheus's file-based targets equal to every running queue-proxy's user-metrics port
   * (container port `http-usermetric`, :9091) — the pods a kubernetes_sd `role: pod` config keeps (see
   * infra/monitoring/prometheus.yaml); Debian's Prometheus is built without kubernetes_sd.
   */
  syncQueueProxyTargets(
    setTargets: (targets: Array<{ job?: string; url: string; labels?: Record<string, string> }>) => Promise<void>,
  ): void {
    let last = '';
    const sync = async () => {
      try {
        const pods = (await this.kube.request('GET', '/api/v1/pods')).items as any[];
        const targets = pods.flatMap((p) => {
          if (p.status?.phase !== 'Running' || !p.status.podIP) return [];
          const port = p.spec.containers.flatMap((c: any) => c.ports ?? []).find((x: any) => x.name === 'http-usermetric')?.containerPort;
          return port
            ? [
                {
                  job: 'knative-queue-proxy',
                  url: `http://${p.status.podIP}:${port}/metrics`,
                  labels: { pod_namespace: p.metadata.namespace, pod: p.metadata.name },
                },
              ]
            : [];
        });
        const key = JSON.stringify(targets);
        if (key !== last) await setTargets(targets);
        last = key;
      } catch {
        /* the API server may be restarting; try again next tick */
      }
    };
    this.targetsTimer = setInterval(sync, 1_000);
    this.targetsTimer.unref();
    void sync();
  }

  pids(): number[] {
    return [...this.procs.values()].map((p) => p.child.pid ?? 0).filter((p) => p > 0);
  }

  async stop(): Promise<void> {
    if (this.hostsTimer) clearInterval(this.hostsTimer);
    if (this.targetsTimer) clearInterval(this.targetsTimer);
    this.kube?.close();
    const order = ['traefik', 'kube-proxy', 'kubelet', 'knative-activator', 'knative-autoscaler', 'knative-controller', 'knative-webhook'];
    order.push('kube-controller-manager', 'kube-scheduler');
    for (const name of order) {
      const pid = this.procs.get(name)?.child.pid;
      if (pid) await killPid(pid, 3_000);
    }
    // pod containers outlive the kubelet: kill them through containerd before stopping it
    if (fs.existsSync(this.containerdSocket)) {
      for (const task of this.ctr('tasks', 'ls', '-q').split('\n').filter(Boolean)) this.ctr('tasks', 'kill', '-s', 'SIGKILL', task);
      await sleep(500);
      for (const task of this.ctr('tasks', 'ls', '-q').split('\n').filter(Boolean)) this.ctr('tasks', 'delete', '-f', task);
      for (const c of this.ctr('containers', 'ls', '-q').split('\n').filter(Boolean)) this.ctr('containers', 'delete', c);
    }
    for (const name of ['containerd', 'kube-apiserver', 'etcd']) {
      const pid = this.procs.get(name)?.child.pid;
      if (pid) await killPid(pid, 3_000);
    }
    this.removeNetwork();
    try {
      if (Number(fs.readFileSync(this.net.lockFile, 'utf8')) === process.pid) fs.rmSync(this.net.lockFile);
    } catch {
      /* already gone */
    }
  }
}

/**
 * Steady requests through the ingress for `host` (four lanes, back to back), as users' traffic while a
 * Prometheus-gated canary runs: vpm's Prometheus provider only reads what the queue-proxies counted.
 */
export function steadyRequests(ingressUrl: string, host: string): { stop(): void } {
  let stopped = false;
  const lane = async () => {
    while (!stopped) {
      await new Promise<void>((resolve) => {
        const req = http.get(`${ingressUrl}/`, { headers: { host }, agent: false, timeout: 5_000 }, (res) => {
          res.resume();
          res.on('end', resolve);
        });
        req.on('error', () => resolve());
        req.on('timeout', () => req.destroy());
      });
      await sleep(20);
    }
  };
  for (let i = 0; i < 4; i++) void lane();
  return {
    stop() {
      stopped = true;
    },
  };
}

/**
 * Steady requests to `host` until Prometheus holds the serving revision's request series — a service as
 * it is before a canary: taking traffic, with metrics vpm's Prometheus provider can read. Stop it after.
 */
export async function trafficWithSeries(
  ingressUrl: string,
  host: string,
  promUrl: string,
  series: { namespace: string; revision: string },
): Promise<{ stop(): void }> {
  const load = steadyRequests(ingressUrl, host);
  const deadline = Date.now() + 60_000;
  const query = `revision_request_count{namespace_name="${series.namespace}",revision_name="${series.revision}"}`;
  for (;;) {
    const found = await promQuery(promUrl, query).catch(() => []);
    if (found.length > 0) return load;
    if (Date.now() > deadline) {
      load.stop();
      throw new Error(`no ${query} in Prometheus after 60 s of traffic`);
    }
    await sleep(250);
  }
}

/**
 * Stack `index` with a real Prometheus scraping every queue-proxy pod of it (the suites that judge
 * canaries by request metrics), logging to `<dir>/stack.log`. Stopped whole if any part fails to start.
 */
export async function startScrapedStack(o: { index: number; prefix: string; scrapeIntervalS: number }): Promise<{
  kn: RealKnative;
  prom: PrometheusHandle;
  dir: string;
  /** A fresh namespace `<prefix>-<pid>-<n>` on the stack. */
  namespace(prefix: string): Promise<string>;
  stop(): Promise<void>;
}> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), o.prefix));
  const kn = new RealKnative({ dir, index: o.index, log: (m) => fs.appendFileSync(path.join(dir, 'stack.log'), `${m}\n`) });
  let prom: PrometheusHandle | undefined;
  try {
    await kn.start();
    prom = await startPrometheus({ dir: path.join(dir, 'prometheus'), targets: [], scrapeIntervalS: o.scrapeIntervalS });
  } catch (err) {
    await kn.stop();
    throw err;
  }
  const scraper = prom;
  kn.syncQueueProxyTargets((targets) => scraper.setTargets(targets));
  let namespaces = 0;
  return {
    kn,
    prom: scraper,
    dir,
    async namespace(prefix) {
      const ns = `${prefix}-${process.pid}-${++namespaces}`;
      await kn.kube.ensureNamespace(ns);
      return ns;
    },
    async stop() {
      await scraper.stop();
      await kn.stop();
    },
  };
}
