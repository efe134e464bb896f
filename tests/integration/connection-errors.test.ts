/**
 * Environment and connection problems are named as what they are, kubectl-style, through the CLI:
 * no kubeconfig, an API server that refuses connections, a real kube-apiserver that is stopped,
 * GitHub unreachable, and the LLM provider without a key or unreachable. Never "fix the manifest",
 * never "a bug in vpm", and `ready` does not wait out its timeout against a dead API server.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer as createHttpServer } from 'node:http';
import { createServer } from 'node:net';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import type { Result } from 'execa';
import { parse as parseYaml, stringify as toYaml } from 'yaml';
import { vpm, vpmJson, tempDir } from '../helpers/cli.ts';
import { Testenv, findAssets, REPO_ROOT, type TestenvInfo } from '../support/testenv.ts';

const MANIFEST = path.join(REPO_ROOT, 'infra/k8s/overlays/dev/hello-ksvc.yaml');
const NOT_OUR_FAULT = /fix the manifest|bug in vpm|rejected by the API server|internal error/;

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

/** A git repo with the hello KService manifest, and a HOME of its own with no ~/.kube. */
function project(): { cwd: string; home: string } {
  const cwd = tempDir('vpm-conn-');
  execFileSync('git', ['init', '-q', cwd]);
  fs.copyFileSync(MANIFEST, path.join(cwd, 'hello-ksvc.yaml'));
  const home = tempDir('vpm-conn-home-');
  return { cwd, home };
}

function kubeconfig(dir: string, servers: Record<string, string>): string {
  const names = Object.keys(servers);
  const file = path.join(dir, 'kubeconfig.json');
  fs.writeFileSync(
    file,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      'current-context': names[0],
      clusters: names.map((n) => ({ name: n, cluster: { server: servers[n], 'insecure-skip-tls-verify': true } })),
      users: [{ name: 'admin', user: { token: 'not-a-real-token' } }],
      contexts: names.map((n) => ({ name: n, context: { cluster: n, user: 'admin' } })),
    }),
    { mode: 0o600 },
  );
  return file;
}

function expectNamed(r: Result, message: RegExp, exitCode = 1): void {
  const stderr = String(r.stderr);
  expect(r.exitCode, stderr).toBe(exitCode);
  expect(stderr).toMatch(message);
  expect(stderr).not.toMatch(NOT_OUR_FAULT);
  expect(String(r.stdout)).not.toMatch(NOT_OUR_FAULT);
}

describe('no Kubernetes configuration (KUBECONFIG unset, no ~/.kube/config)', () => {
  const NO_CONFIG = /^error: no Kubernetes configuration found \(KUBECONFIG unset, ~\/\.kube\/config missing\)$/m;
  let cwd: string;
  let env: Record<string, string | undefined>;
  beforeAll(() => {
    const p = project();
    cwd = p.cwd;
    env = { KUBECONFIG: undefined, HOME: p.home };
  });

  it('vpm apply names the missing configuration, not the manifest (exit 1)', async () => {
    const r = await vpm(['apply', 'hello-ksvc.yaml'], { cwd, env });
    expectNamed(r, NO_CONFIG);
    expect(String(r.stderr)).toMatch(/^hint: point KUBECONFIG at a kubeconfig file/m);
    expect(String(r.stderr)).not.toMatch(/loaded-context|localhost:8080/);
  });

  it('vpm ready fails at once instead of waiting out --timeout', async () => {
    const t0 = Date.now();
    const r = await vpm(['ready', 'hello', '--timeout', '60s'], { cwd, env });
    expect(Date.now() - t0).toBeLessThan(15_000);
    expectNamed(r, NO_CONFIG);
    expect(String(r.stderr)).not.toMatch(/does not exist/);
  });

  it('vpm canary status and vpm clusters status say the same; --json carries it in the error document', async () => {
    expectNamed(await vpm(['canary', 'status', 'hello'], { cwd, env }), NO_CONFIG);
    expectNamed(await vpm(['clusters', 'status'], { cwd, env }), NO_CONFIG);
    const { result, json } = await vpmJson(['apply', 'hello-ksvc.yaml'], { cwd, env });
    expect(result.exitCode).toBe(1);
    expect(json).toMatchObject({
      ok: false,
      error: { exit_code: 1, message: 'no Kubernetes configuration found (KUBECONFIG unset, ~/.kube/config missing)' },
    });
    expect(json.error.hint).toMatch(/KUBECONFIG/);
  });

  it('KUBECONFIG naming files that do not exist is the same problem, naming them', async () => {
    const missing = path.join(cwd, 'nope', 'kubeconfig');
    const r = await vpm(['apply', 'hello-ksvc.yaml'], { cwd, env: { ...env, KUBECONFIG: missing } });
    expectNamed(
      r,
      new RegExp(
        `^error: no Kubernetes configuration found \\(KUBECONFIG=${missing.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: no such file\\)$`,
        'm',
      ),
    );
  });
});

describe('API server refusing connections (closed port on 127.0.0.1)', () => {
  let cwd: string;
  let env: Record<string, string | undefined>;
  let urlA: string;
  let urlB: string;
  beforeAll(async () => {
    const p = project();
    cwd = p.cwd;
    urlA = `https://127.0.0.1:${await closedPort()}`;
    urlB = `https://127.0.0.1:${await closedPort()}`;
    env = { KUBECONFIG: kubeconfig(p.home, { 'cluster-a': urlA, 'cluster-b': urlB }), HOME: p.home };
  });
  const refused = (url: string, context: string) =>
    new RegExp(
      `^error: cannot reach the API server at ${url.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} for context ${context}: connection refused \\(ECONNREFUSED\\)$`,
      'm',
    );

  it('vpm apply: cannot reach the API server at URL for context C (exit 1)', async () => {
    const r = await vpm(['apply', 'hello-ksvc.yaml'], { cwd, env });
    expectNamed(r, refused(urlA, 'cluster-a'));
    expect(String(r.stderr)).toMatch(/^hint: nothing is listening there.*kubectl --context cluster-a cluster-info$/m);
  });

  it('vpm ready fails fast (well before --timeout 60s) and never says the KService does not exist', async () => {
    const t0 = Date.now();
    const r = await vpm(['ready', 'hello', '--timeout', '60s', '--context', 'cluster-b'], { cwd, env });
    expect(Date.now() - t0).toBeLessThan(15_000);
    expectNamed(r, refused(urlB, 'cluster-b'));
    expect(String(r.stderr)).not.toMatch(/does not exist|not ready after/);
  });

  it('vpm canary status and vpm canary start say the same', async () => {
    expectNamed(await vpm(['canary', 'status', 'hello'], { cwd, env }), refused(urlA, 'cluster-a'));
    const t0 = Date.now();
    expectNamed(await vpm(['canary', 'start', 'hello', '--interval', '1s'], { cwd, env }), refused(urlA, 'cluster-a'));
    expect(Date.now() - t0).toBeLessThan(15_000);
  });

  it('vpm clusters status reports each cluster unreachable, never "(no Applications …)" (exit 1)', async () => {
    const r = await vpm(['clusters', 'status', '--contexts', 'cluster-a,cluster-b'], { cwd, env });
    expect(r.exitCode, String(r.stderr)).toBe(1);
    const out = String(r.stdout);
    expect(out).not.toMatch(/no Applications/);
    expect(out).toMatch(/Applications unknown: Argo CD's cluster cluster-a is unreachable/);
    expect(out).toContain(`cluster-a: UNREACHABLE — cannot reach the API server at ${urlA}: connection refused (ECONNREFUSED)`);
    expect(out).toContain(`cluster-b: UNREACHABLE — cannot reach the API server at ${urlB}: connection refused (ECONNREFUSED)`);
    expect(String(r.stderr)).not.toMatch(/no Applications|bug in vpm/);
    const { json } = await vpmJson(['clusters', 'status', '--contexts', 'cluster-a,cluster-b'], { cwd, env });
    expect(json.ok).toBe(false);
    expect(json.argocd).toMatchObject({ reachable: false });
    expect(json.clusters.map((c: { context: string; reachable: boolean }) => [c.context, c.reachable])).toEqual([
      ['cluster-a', false],
      ['cluster-b', false],
    ]);
  });
});

const assets = findAssets();
const available = !('missing' in assets);
if (!available && process.env.VPM_REQUIRE_TESTENV === '1')
  throw new Error(`VPM_REQUIRE_TESTENV=1 but ${(assets as { missing: string }).missing}`);

/**
 * Its own environment (not the shared one), as in fleet.test.ts: stopping the API server must not
 * disturb suites running in parallel.
 */
describe.skipIf(!available)('a real kube-apiserver, then stopped', () => {
  let testenv: Testenv;
  let info: TestenvInfo;
  let cwd: string;
  let env: Record<string, string | undefined>;
  let server: string;
  const ns = 'default';

  beforeAll(async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vpm-conn-env-'));
    testenv = new Testenv({ dir, repoDir: REPO_ROOT, log: (m) => fs.appendFileSync(path.join(dir, 'testenv.log'), `${m}\n`) });
    info = await testenv.ensure({ clusters: 1, sim: false });
    const p = project();
    cwd = p.cwd;
    env = { KUBECONFIG: info.kubeconfig, HOME: p.home };
    server = info.clusters['cluster-a'].server;
  });
  afterAll(async () => {
    await testenv?.stop();
  });

  it('while it runs: apply works, and a KService that really is absent is reported absent (real 404)', async () => {
    const applied = await vpm(['apply', 'hello-ksvc.yaml', '-n', ns], { cwd, env });
    expect(applied.exitCode, String(applied.stderr)).toBe(0);
    const absent = await vpm(['ready', 'nope', '--timeout', '2s', '-n', ns], { cwd, env });
    expect(absent.exitCode, String(absent.stderr)).toBe(5);
    expect(String(absent.stderr)).toMatch(/nope not ready after 2000 ms: the KService does not exist/);
    const status = await vpm(['canary', 'status', 'nope', '-n', ns], { cwd, env });
    expect(status.exitCode).toBe(1);
    expect(String(status.stderr)).toMatch(/Service\/nope in default \(context cluster-a\) not found/);
  });

  it('while it runs, a kubeconfig without its certificate authority: a TLS failure, named as such', async () => {
    const kc = parseYaml(fs.readFileSync(info.kubeconfig, 'utf8'));
    for (const c of kc.clusters) delete c.cluster['certificate-authority'], delete c.cluster['certificate-authority-data'];
    const file = path.join(cwd, 'no-ca.kubeconfig');
    fs.writeFileSync(file, toYaml(kc), { mode: 0o600 });
    const r = await vpm(['canary', 'status', 'hello', '-n', ns], { cwd, env: { ...env, KUBECONFIG: file } });
    expectNamed(
      r,
      /^error: cannot reach the API server at https:\/\/127\.0\.0\.1:\d+ for context cluster-a: TLS failed: .+ \((UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_GET_ISSUER_CERT_LOCALLY|DEPTH_ZERO_SELF_SIGNED_CERT)\)$/m,
    );
    expect(String(r.stderr)).toMatch(/^hint: the server's certificate is not trusted/m);
  });

  it('stopped: apply, ready, canary status and clusters status name the unreachable server, ready fails fast', async () => {
    const pid = info.clusters['cluster-a'].apiserverPid;
    const gone = () => {
      try {
        return fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.startsWith('Z') ?? true;
      } catch {
        return true;
      }
    };
    process.kill(pid, 'SIGKILL');
    for (let i = 0; i < 200 && !gone(); i++) await new Promise((r) => setTimeout(r, 50));
    expect(gone()).toBe(true);

    const unreachable = new RegExp(
      `^error: cannot reach the API server at ${server.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} for context cluster-a: connection refused \\(ECONNREFUSED\\)$`,
      'm',
    );
    expectNamed(await vpm(['apply', 'hello-ksvc.yaml', '-n', ns], { cwd, env }), unreachable);

    const t0 = Date.now();
    const ready = await vpm(['ready', 'hello', '--timeout', '60s', '-n', ns], { cwd, env });
    const elapsed = Date.now() - t0;
    expectNamed(ready, unreachable);
    expect(elapsed).toBeLessThan(15_000);
    expect(String(ready.stderr)).not.toMatch(/does not exist/);

    expectNamed(await vpm(['canary', 'status', 'hello', '-n', ns], { cwd, env }), unreachable);

    const clusters = await vpm(['clusters', 'status', '--contexts', 'cluster-a'], { cwd, env });
    expect(clusters.exitCode).toBe(1);
    expect(String(clusters.stdout)).not.toMatch(/no Applications/);
    expect(String(clusters.stdout)).toContain(
      `cluster-a: UNREACHABLE — cannot reach the API server at ${server}: connection refused (ECONNREFUSED)`,
    );
  });
});

describe('GitHub unreachable (GITHUB_API_URL at a closed port)', () => {
  it('vpm contract check and vpm ask --issue say "cannot reach GitHub API at URL", not HTTP 500 (exit 1)', async () => {
    const { cwd } = project();
    const url = `http://127.0.0.1:${await closedPort()}`;
    const env = { GITHUB_API_URL: url, GITHUB_REPOSITORY: 'acme/app', GITHUB_TOKEN: 'ghp_notarealtokennotarealtoken0000000000' };
    const esc = url.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

    const contract = await vpm(['contract', 'check', '1'], { cwd, env });
    expectNamed(
      contract,
      new RegExp(`^error: cannot reach GitHub API at ${esc} while reading pull request #1: connection refused \\(ECONNREFUSED\\)$`, 'm'),
    );
    expect(String(contract.stderr)).not.toMatch(/HTTP 500|\b500\b/);
    expect(String(contract.stderr)).toMatch(/^hint: check the network and GITHUB_API_URL; retry when GitHub is reachable$/m);

    const ask = await vpm(['ask', '--issue', '7'], { cwd, env });
    expectNamed(
      ask,
      new RegExp(
        `^error: cannot reach GitHub API at ${esc} while reading issue #7 for the /ask request: connection refused \\(ECONNREFUSED\\)$`,
        'm',
      ),
    );
    expect(String(ask.stderr)).not.toMatch(/HTTP 500/);
    expect(String(contract.stderr) + String(ask.stderr)).not.toContain(env.GITHUB_TOKEN);
  });
});

describe('vpm summary with the openai provider', () => {
  async function chatRepo(): Promise<string> {
    const { cwd } = project();
    const r = await vpm(['chat', 'append', '--text', 'The deploy failed. We decided to roll back.'], { cwd });
    expect(r.exitCode, String(r.stderr)).toBe(0);
    return cwd;
  }

  it('configured for OpenAI without VPM_LLM_API_KEY: the key is named, nothing is sent, the fallback says why', async () => {
    const cwd = await chatRepo();
    fs.writeFileSync(path.join(cwd, 'vpm.config.yaml'), 'summary:\n  provider: openai\n');
    // Should anything be sent anyway, the proxy (a closed local port) catches it: nothing leaves the machine.
    const proxy = `http://127.0.0.1:${await closedPort()}`;
    const { result, json } = await vpmJson(['summary'], {
      cwd,
      env: { VPM_LLM_API_KEY: undefined, OPENAI_API_KEY: undefined, NODE_USE_ENV_PROXY: '1', HTTPS_PROXY: proxy, HTTP_PROXY: proxy },
    });
    expect(result.exitCode, String(result.stderr)).toBe(0);
    expect(String(result.stderr)).toMatch(
      /^warning: openai summariser not used: VPM_LLM_API_KEY is not set \(the openai summariser needs it for api\.openai\.com\); using the extractive summariser$/m,
    );
    expect(String(result.stderr)).toMatch(
      /^hint: export VPM_LLM_API_KEY=<key>, or set summary\.provider: extractive in vpm\.config\.yaml$/m,
    );
    expect(json.created.provider).toBe('extractive');
    expect(json.created.fallback).toEqual({
      from: 'openai',
      reason: 'VPM_LLM_API_KEY is not set (the openai summariser needs it for api.openai.com)',
    });
  });

  it('an OpenAI-compatible endpoint that answers 401 to a request without a key: the missing key is named', async () => {
    const cwd = await chatRepo();
    const auth: Array<string | undefined> = [];
    const server = createHttpServer((req, res) => {
      auth.push(req.headers.authorization);
      req.resume();
      res.writeHead(401, { 'content-type': 'application/json' });
      res.end('{"error":{"message":"missing key"}}');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    try {
      const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/v1`;
      const { result, json } = await vpmJson(['summary', '--provider', 'openai'], {
        cwd,
        env: { VPM_LLM_BASE_URL: url, VPM_LLM_API_KEY: undefined },
      });
      expect(result.exitCode, String(result.stderr)).toBe(0);
      expect(auth).toEqual([undefined]);
      expect(json.created.fallback).toEqual({
        from: 'openai',
        reason: `the LLM provider at ${new URL(url).host} refused the request: HTTP 401 (VPM_LLM_API_KEY is not set)`,
      });
      expect(String(result.stderr)).toMatch(/using the extractive summariser\nhint: export VPM_LLM_API_KEY=<key>$/m);
    } finally {
      server.close();
    }
  });

  it('an unreachable endpoint is named as unreachable', async () => {
    const cwd = await chatRepo();
    const url = `http://127.0.0.1:${await closedPort()}/v1`;
    const { result, json } = await vpmJson(['summary', '--provider', 'openai'], {
      cwd,
      env: { VPM_LLM_BASE_URL: url, VPM_LLM_API_KEY: 'sk-test-abcdefghijklmnopqrstuvwxyz123456' },
    });
    expect(result.exitCode, String(result.stderr)).toBe(0);
    expect(json.created.fallback).toEqual({
      from: 'openai',
      reason: `cannot reach the LLM provider at ${url}/chat/completions: connection refused (ECONNREFUSED)`,
    });
    expect(String(result.stderr)).toMatch(
      /^warning: openai summariser not used: cannot reach the LLM provider at .*connection refused \(ECONNREFUSED\); using the extractive summariser$/m,
    );
    expect(String(result.stderr)).not.toContain('sk-test-abcdefghijklmnopqrstuvwxyz123456');
  });
});
