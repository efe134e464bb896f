/**
 * The fleet's files for real users: the Argo CD manifests agree with each other and with the
 * overlays they point at, the kind config is what the bootstrap script expects, and the bootstrap
 * script passes shellcheck, explains missing prerequisites, and drives kind/kubectl in the right
 * order (with stand-ins for kind, kubectl and docker: it cannot really run without Docker here).
 */
import { describe, it, expect } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync, spawnSync } from 'node:child_process';
import { parse, parseAllDocuments } from 'yaml';
import { REPO_ROOT } from '../helpers/cli.js';

const read = (p: string) => parse(fs.readFileSync(path.join(REPO_ROOT, p), 'utf8'));
const SCRIPT = path.join(REPO_ROOT, 'scripts/bootstrap-kind-knative.sh');

function findShellcheck(): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    const p = path.join(dir, 'shellcheck');
    if (fs.existsSync(p)) return p;
  }
  return fs.existsSync('/usr/bin/shellcheck') ? '/usr/bin/shellcheck' : undefined;
}

describe('fleet manifests', () => {
  it('the ApplicationSet generates root-app-cluster-a/b from a list generator, each on its own overlay', () => {
    const set = read('infra/argocd/applicationset.yaml');
    expect(set).toMatchObject({
      apiVersion: 'argoproj.io/v1alpha1',
      kind: 'ApplicationSet',
      metadata: { name: 'root-apps', namespace: 'argocd' },
    });
    const elements = set.spec.generators[0].list.elements as Array<{ cluster: string }>;
    expect(elements.map((e) => e.cluster)).toEqual(['cluster-a', 'cluster-b']);
    const t = set.spec.template;
    const render = (s: string, cluster: string) => s.replace(/\{\{\s*\.cluster\s*\}\}/g, cluster);
    expect(elements.map((e) => render(t.metadata.name, e.cluster))).toEqual(['root-app-cluster-a', 'root-app-cluster-b']);
    for (const { cluster } of elements) {
      const overlay = render(t.spec.source.path, cluster);
      expect(fs.existsSync(path.join(REPO_ROOT, overlay, 'kustomization.yaml')), overlay).toBe(true);
      expect(render(t.spec.destination.name, cluster)).toBe(cluster);
    }
    expect(t.spec.syncPolicy.automated).toBeUndefined(); // changes go through `vpm clusters sync` (freeze-aware)
  });

  it('the AppProject allows exactly what the ApplicationSet deploys', () => {
    const project = read('infra/argocd/project.yaml');
    const set = read('infra/argocd/applicationset.yaml');
    expect(project.metadata.name).toBe(set.spec.template.spec.project);
    const ns = set.spec.template.spec.destination.namespace;
    for (const { cluster } of set.spec.generators[0].list.elements)
      expect(project.spec.destinations).toContainEqual({ name: cluster, namespace: ns });
  });

  it('each overlay builds the hello KService from the shared base, marked with its cluster', () => {
    for (const c of ['cluster-a', 'cluster-b']) {
      const k = read(`infra/k8s/overlays/${c}/kustomization.yaml`);
      expect(k.commonAnnotations).toEqual({ 'vpm.dev/cluster': c });
      for (const r of k.resources) expect(fs.existsSync(path.join(REPO_ROOT, 'infra/k8s/overlays', c, r, 'kustomization.yaml'))).toBe(true);
    }
    const docs = parseAllDocuments(fs.readFileSync(path.join(REPO_ROOT, 'infra/k8s/base/hello/hello-ksvc.yaml'), 'utf8')).map((d) =>
      d.toJSON(),
    );
    expect(docs).toHaveLength(1);
    expect(docs[0]).toMatchObject({ apiVersion: 'serving.knative.dev/v1', kind: 'Service', metadata: { name: 'hello' } });
    expect(docs[0].metadata.namespace).toBeUndefined(); // the Application's destination decides
  });

  it('the kind cluster is vpm-mini and maps the NodePort the bootstrap script gives Kourier', () => {
    const kind = read('infra/kind-dev/kind-cluster.yaml');
    expect(kind).toMatchObject({ kind: 'Cluster', apiVersion: 'kind.x-k8s.io/v1alpha4', name: 'vpm-mini' });
    const script = fs.readFileSync(SCRIPT, 'utf8');
    const nodePort = Number(/KOURIER_NODEPORT=(\d+)/.exec(script)![1]);
    expect(kind.nodes[0].extraPortMappings.map((m: any) => m.containerPort)).toContain(nodePort);
  });
});

describe('scripts/bootstrap-kind-knative.sh', () => {
  const shellcheck = findShellcheck();
  if (!shellcheck && process.env.VPM_REQUIRE_TESTENV === '1')
    throw new Error('shellcheck is not installed (tests/testenv/install.sh installs it)');

  it.skipIf(!shellcheck)('passes shellcheck', () => {
    const r = spawnSync(shellcheck!, ['--severity=style', SCRIPT], { encoding: 'utf8' });
    expect(r.stdout + r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it('is strict bash and pins its versions', () => {
    const script = fs.readFileSync(SCRIPT, 'utf8');
    expect(script.split('\n')[0]).toBe('#!/usr/bin/env bash');
    expect(script).toMatch(/^set -euo pipefail$/m);
    expect(script).toMatch(/KNATIVE_SERVING_VERSION="\$\{KNATIVE_SERVING_VERSION:-knative-v\d+\.\d+\.\d+\}"/);
    expect(script).toMatch(/KOURIER_VERSION="\$\{KOURIER_VERSION:-knative-v\d+\.\d+\.\d+\}"/);
    expect(fs.statSync(SCRIPT).mode & 0o111).not.toBe(0);
  });

  /** A PATH with only the given stand-ins plus the few coreutils the script needs. */
  function sandbox(stubs: Record<string, string>): { bin: string; log: string } {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vpm-bootstrap-'));
    const bin = path.join(dir, 'bin');
    fs.mkdirSync(bin);
    for (const tool of ['dirname', 'sed', 'grep', 'cat', 'sleep']) {
      const real = execFileSync('bash', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).trim();
      fs.symlinkSync(real, path.join(bin, tool));
    }
    const log = path.join(dir, 'calls.log');
    for (const [name, body] of Object.entries(stubs)) {
      fs.writeFileSync(path.join(bin, name), `#!/bin/bash\necho "${name} $*" >> ${log}\n${body}\n`, { mode: 0o755 });
    }
    return { bin, log };
  }
  const runScript = (bin: string, args: string[] = []) =>
    spawnSync('/bin/bash', [SCRIPT, ...args], { encoding: 'utf8', env: { PATH: bin, HOME: os.tmpdir() } });

  it('says which prerequisite is missing and how to get it', () => {
    let r = runScript(sandbox({}).bin);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/docker is required but was not found on PATH\n.*fix: install Docker/);
    r = runScript(sandbox({ docker: 'exit 1' }).bin);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/kind is required/);
    r = runScript(sandbox({ docker: 'exit 1', kind: 'exit 0', kubectl: 'exit 0' }).bin);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/Docker is installed but not usable .*\n.*fix: start Docker/);
    r = runScript(sandbox({}).bin, ['--bogus']);
    expect(r.stderr).toMatch(/unknown argument: --bogus/);
  });

  it('creates vpm-mini, installs Knative Serving then Kourier, applies hello and waits for READY', () => {
    const { bin, log } = sandbox({
      docker: 'exit 0',
      kind: 'exit 0',
      kubectl: 'case "$*" in *"jsonpath={.status.url}"*) echo http://hello.default.127.0.0.1.sslip.io ;; esac; exit 0',
    });
    const r = runScript(bin);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('hello: http://hello.default.127.0.0.1.sslip.io');
    const calls = fs.readFileSync(log, 'utf8').trim().split('\n');
    const create = calls.findIndex(
      (c) => c.startsWith('kind create cluster --name vpm-mini --config') && c.includes('infra/kind-dev/kind-cluster.yaml'),
    );
    const crds = calls.findIndex((c) =>
      /kubectl --context kind-vpm-mini apply -f https:\/\/github\.com\/knative\/serving\/releases\/download\/knative-v[\d.]+\/serving-crds\.yaml/.test(
        c,
      ),
    );
    const core = calls.findIndex((c) => c.includes('/serving-core.yaml'));
    const kourier = calls.findIndex((c) => /net-kourier\/releases\/download\/knative-v[\d.]+\/kourier\.yaml/.test(c));
    const ingress = calls.findIndex((c) => c.includes('kourier.ingress.networking.knative.dev'));
    // request metrics on (Knative >= 1.19 exports none otherwise) and Prometheus scraping the queue-proxies
    const metrics = calls.findIndex(
      (c) => c.includes('configmap/config-observability') && c.includes('"request-metrics-protocol":"prometheus"'),
    );
    const prometheus = calls.findIndex((c) => c.includes('apply -f') && c.endsWith('infra/monitoring/prometheus.yaml'));
    const hello = calls.findIndex((c) => c.includes('apply -f') && c.endsWith('infra/k8s/overlays/dev/hello-ksvc.yaml'));
    const ready = calls.findIndex((c) => c.includes('wait --for=condition=Ready ksvc/hello -n default'));
    expect(
      [create, crds, core, metrics, kourier, ingress, prometheus, hello, ready].every((i) => i >= 0),
      calls.join('\n'),
    ).toBe(true);
    expect(create < crds && crds < core && core < metrics && metrics < kourier && kourier < ingress && ingress < prometheus).toBe(true);
    expect(prometheus < hello && hello < ready).toBe(true);
    expect(r.stdout).toContain('export VPM_INGRESS_URL=http://127.0.0.1:8080');
  });

  it('fails with a diagnosis when hello does not become READY', () => {
    const { bin } = sandbox({
      docker: 'exit 0',
      kind: 'exit 0',
      kubectl: 'case "$*" in *"condition=Ready ksvc/hello"*) exit 1 ;; esac; exit 0',
    });
    const r = runScript(bin);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(
      /ksvc\/hello did not become READY within 300s\n.*fix: inspect: kubectl --context kind-vpm-mini describe ksvc hello/,
    );
  });
});
