/**
 * Issue 16, the channels that come back from a server: an API server's 422 that echoes a secret in
 * the rejected object (real kube-apiserver from the test environment), and GitHub and LLM error
 * bodies that echo the caller's token (local servers answering as those APIs answer errors). After
 * each, nothing vpm wrote or printed holds the raw secret.
 */
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir, vpm } from '../helpers/cli.ts';
import { CORPUS } from '../helpers/secret-corpus.ts';
import { requireTestenv, type TestenvInfo, useTestenv } from '../support/testenv.ts';

const GITHUB_TOKEN = 'ghp_R3alLookingT0kenThatMustNeverBeStored9';
const LLM_KEY = 'sk-proj-Zq8Kx2Lm4Np6Rs8Tu0Vw2Xy4Za6Bc8De0Fg2Hi4Jk6';
const LABEL_SECRET = 'ghp_LabelValueEchoedByTheApiServer0123456';

function everythingWritten(dir: string): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (name === '.git') continue;
      if (statSync(p).isDirectory()) walk(p);
      else out.push([relative(dir, p), readFileSync(p, 'utf8')]);
    }
  };
  walk(dir);
  return out;
}

function leaks(dir: string, printed: string, secret: string, inputs: string[]): string[] {
  return [['stdout/stderr', printed] as [string, string], ...everythingWritten(dir).filter(([f]) => !inputs.includes(f))]
    .filter(([, text]) => text.includes(secret) || text.includes(JSON.stringify(secret).slice(1, -1)))
    .map(([where]) => where);
}

/** Every corpus shape a server could echo back in one line of an error message. */
const ONE_LINE = CORPUS.filter(([, text]) => !text.includes('\n'));
const corpusLeaks = (dir: string, printed: string, inputs: string[]) =>
  ONE_LINE.flatMap(([name, , secret]) => leaks(dir, printed, secret, inputs).map((where) => `${where}: ${name}`));

async function serve(handler: (body: string, url: string) => { status: number; body: unknown }): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const answer = handler(body, req.url ?? '');
      res.writeHead(answer.status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(answer.body));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

describe('error bodies that echo a secret', () => {
  const servers: Server[] = [];
  afterAll(() => {
    for (const s of servers) s.close();
  });

  it('GitHub: a 422 whose message repeats the token is neither printed nor stored', async () => {
    const gh = await serve(() => ({
      status: 422,
      body: {
        message: `Validation Failed: token ${GITHUB_TOKEN} is not allowed here; also seen: ${ONE_LINE.map(([, text]) => text).join(' | ')}`,
        documentation_url: 'https://docs.github.com/rest',
      },
    }));
    servers.push(gh.server);
    const cwd = tempDir();
    const env = { GITHUB_API_URL: gh.url, GITHUB_REPOSITORY: 'acme/app', GITHUB_TOKEN };
    const r = await vpm(['--json', 'contract', 'check', '7'], { cwd, env });
    expect(r.exitCode).not.toBe(0);
    const printed = `${r.stdout}\n${r.stderr}`;
    expect(printed).toMatch(/422|Validation Failed/);
    expect(leaks(cwd, printed, GITHUB_TOKEN, [])).toEqual([]);
    expect(corpusLeaks(cwd, printed, [])).toEqual([]);
  });

  it('LLM provider: a 401 whose body repeats the key falls back to extractive; the key is nowhere', async () => {
    const llm = await serve(() => ({
      status: 401,
      body: { error: { message: `Incorrect API key provided: ${LLM_KEY}`, type: 'invalid_request_error' } },
    }));
    servers.push(llm.server);
    const cwd = tempDir();
    const env = { VPM_LLM_BASE_URL: llm.url, VPM_LLM_API_KEY: LLM_KEY, VPM_LLM_MODEL: 'gpt-test' };
    expect((await vpm(['chat', 'append', '--text', 'we rolled the canary back after the p95 breach'], { cwd, env })).exitCode).toBe(0);
    const r = await vpm(['--verbose', 'summary', '--provider', 'openai'], { cwd, env });
    expect(r.exitCode, String(r.stderr)).toBe(0);
    const printed = `${r.stdout}\n${r.stderr}`;
    expect(printed).toMatch(/401|API key|extractive/);
    expect(leaks(cwd, printed, LLM_KEY, [])).toEqual([]);
    expect(corpusLeaks(cwd, printed, [])).toEqual([]);
  });
});

describe.skipIf(!requireTestenv())('the API server rejects an object holding a secret (real kube-apiserver)', () => {
  let env: TestenvInfo;
  beforeAll(async () => {
    env = await useTestenv({ clusters: 1 });
  }, 180_000);

  it('vpm apply: the 422 that echoes the label value reaches neither apply.log, run.log, the evidence nor stderr', async () => {
    const cwd = tempDir();
    mkdirSync(join(cwd, 'k8s'));
    // A label value may not hold '/' or exceed 63 characters: the API server answers 422 and quotes it.
    writeFileSync(
      join(cwd, 'k8s', 'cm.yaml'),
      `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: leaky\n  namespace: default\n  labels:\n    token: "${LABEL_SECRET}/${'x'.repeat(70)}"\n${ONE_LINE.map(([, text], i) => `    k${i}: ${JSON.stringify(`${text}/${'x'.repeat(64)}`)}\n`).join('')}data:\n  a: b\n`,
    );
    const r = await vpm(['--json', 'apply', 'k8s/cm.yaml'], { cwd, env: { KUBECONFIG: env.kubeconfig }, timeoutMs: 120_000 });
    expect(r.exitCode).toBe(1);
    const printed = `${r.stdout}\n${r.stderr}`;
    expect(printed).toMatch(/Invalid|invalid|rejected/);
    expect(leaks(cwd, printed, LABEL_SECRET, ['k8s/cm.yaml']), printed).toEqual([]);
    // The reports exist: the secret is gone from them, not the reports themselves.
    expect(everythingWritten(cwd).some(([f]) => f.startsWith('reports/codex_runs/') && f.endsWith('apply.log'))).toBe(true);
  }, 180_000);
});
