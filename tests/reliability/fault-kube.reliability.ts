/**
 * Fault injection around Kubernetes and Prometheus:
 * - the API server restarted in the middle of `vpm ready` (a watch), of `vpm apply` / `vpm canary
 *   status` calls, and of a `vpm canary start` — on cluster-b, so other suites on cluster-a are not
 *   disturbed. Each finishes correctly or fails with a clear, retryable error; never an unknown split.
 * - Prometheus down for the prometheus provider (connection refused, 503, no answer, garbage, no
 *   data): `vpm canary start` never passes a gate — failing in the middle of a run it aborts to
 *   stable with a clear error (exit 1); before the run (the scrape interval, the serving revision's
 *   series: refused, or no data at all — an error, never a zero that holds) it stops before any
 *   traffic moves — and `vpm guard` fails clearly without rolling back or freezing.
 */
import { afterAll, beforeAll, describe, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  requireTestenv,
  useTestenv,
  kubeFor,
  freshNamespace,
  restartApiServer,
  loadYamlObjects,
  type TestenvInfo,
} from '../support/testenv.ts';
import type { Kube } from '../support/kube.ts';
import { helloWithCandidate, HELLO_MANIFEST, ksvcPath, waitFor } from '../helpers/deploy.ts';
import { openCase, type Trial } from './support/ledger.ts';
import { errorProblems, integrityProblems, spawnVpm, vpmProcess, type VpmRun } from './support/vpm.ts';
import { removeDir, tempRepo, writeFile } from './support/tmp.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function split(o: any): Record<string, number> {
  return Object.fromEntries(
    (o.spec?.traffic ?? []).map((x: { revisionName?: string; latestRevision?: boolean; percent?: number }) => [
      x.revisionName ?? (x.latestRevision ? 'latest' : '?'),
      x.percent ?? 0,
    ]),
  );
}

describe.skipIf(!requireTestenv({ prometheus: true }))('fault injection: API server restart, Prometheus down', () => {
  let env: TestenvInfo;
  let a: Kube;
  let b: Kube;
  const kubeEnv = () => ({ KUBECONFIG: env.kubeconfig });

  beforeAll(async () => {
    env = await useTestenv({ clusters: 2, prometheus: true });
    a = await kubeFor(env, 'cluster-a');
    b = await kubeFor(env, 'cluster-b');
  });

  async function withRestart<T>(during: () => Promise<T>, afterMs: number): Promise<T> {
    const running = during();
    await sleep(afterMs);
    await restartApiServer('cluster-b');
    b = await kubeFor(env, 'cluster-b');
    return running;
  }

  it('API server restarted mid-command (ready, apply, canary status, canary start): correct result or a clear retryable error', async ({
    task,
  }) => {
    const c = openCase(task, 'fault', 'API server restart');

    // vpm ready: a KService that becomes Ready only after the restart; the watch must survive it.
    for (let i = 0; i < 2; i++) {
      const ns = await freshNamespace(b, 'restart-ready');
      const cwd = tempRepo('restart-ready');
      await c.trial('vpm ready across a restart', async (t) => {
        t.context = { cwd, ns };
        const [obj] = loadYamlObjects(HELLO_MANIFEST);
        obj.metadata.namespace = ns;
        obj.spec.template.metadata.annotations['vpm-sim/ready-delay-ms'] = '5000';
        await b.apply(obj, 'vpm-test', { defaultNamespace: ns });
        const r = await withRestart(
          () =>
            vpmProcess(['--json', 'ready', 'hello', '-n', ns, '--context', 'cluster-b', '--timeout', '60s'], {
              cwd,
              env: kubeEnv(),
              timeoutMs: 90_000,
            }),
          800,
        );
        t.add(errorProblems(r, { codes: [0], json: true }));
        t.add(await integrityProblems(cwd));
      });
      removeDir(cwd);
    }

    // vpm apply / canary status fired while the API server goes down and comes back.
    {
      const ns = await freshNamespace(b, 'restart-apply');
      const cwd = tempRepo('restart-apply');
      const manifest = readFileSync(HELLO_MANIFEST, 'utf8').replace('namespace: default', `namespace: ${ns}`);
      writeFile(cwd, 'hello.yaml', manifest);
      const runs: Array<{ cmd: string; r: VpmRun }> = [];
      await withRestart(async () => {
        for (let k = 0; k < 8; k++) {
          const cmd = k % 2 ? 'canary status' : 'apply';
          const args =
            k % 2
              ? ['--json', 'canary', 'status', 'hello', '-n', ns, '--context', 'cluster-b']
              : ['--json', 'apply', 'hello.yaml', '-n', ns, '--context', 'cluster-b'];
          runs.push({ cmd, r: await vpmProcess(args, { cwd, env: kubeEnv(), timeoutMs: 90_000 }) });
          await sleep(300);
        }
      }, 200);
      c.note(`exit codes during the restart: ${runs.map(({ cmd, r }) => `${cmd}=${r.exitCode}`).join(', ')}`);
      for (const { cmd, r } of runs) {
        await c.trial(`vpm ${cmd} during a restart`, (t) => {
          t.context = { cwd, ns, exit: r.exitCode, stderr: r.stderr.slice(-300) };
          // canary status on a KService not created yet is "not found" (exit 1) too.
          t.add(errorProblems(r, { codes: [0, 1], json: true }));
          if (r.exitCode === 1)
            t.check(
              /API server|connect|ECONNREFUSED|unreachable|not found|timed? ?out|reset/i.test(r.stderr),
              `unclear failure during the restart: ${r.stderr.slice(0, 300)}`,
            );
        });
      }
      await c.trial('vpm apply after the restart', async (t) => {
        const r = await vpmProcess(['--json', 'apply', 'hello.yaml', '-n', ns, '--context', 'cluster-b'], {
          cwd,
          env: kubeEnv(),
          timeoutMs: 90_000,
        });
        t.add(errorProblems(r, { codes: [0], json: true }));
        t.check(!!(await b.get(ksvcPath(ns)).catch(() => null)), 'hello does not exist after a successful apply');
        t.add(await integrityProblems(cwd));
      });
      removeDir(cwd);
    }

    // vpm canary start across a restart: completes (100% candidate) or aborts (100% stable).
    {
      const ns = await freshNamespace(b, 'restart-canary');
      const cwd = tempRepo('restart-canary');
      const { stable, candidate } = await helloWithCandidate(b, ns);
      await c.trial('vpm canary start across a restart', async (t) => {
        t.context = { cwd, ns };
        const child = spawnVpm(['--json', 'canary', 'start', 'hello', '-n', ns, '--context', 'cluster-b', '--interval', '2s'], {
          cwd,
          env: kubeEnv(),
          timeoutMs: 180_000,
        });
        await waitFor(
          async () => JSON.parse((await b.get(ksvcPath(ns))).metadata.annotations?.['vpm.dev/canary'] ?? '{}').phase === 'progressing',
          60_000,
          'canary progressing',
        );
        await restartApiServer('cluster-b');
        b = await kubeFor(env, 'cluster-b');
        const res = await child;
        const r = { exitCode: res.exitCode ?? -1, stdout: String(res.stdout), stderr: String(res.stderr), durationMs: 0 };
        t.add(errorProblems(r, { codes: [0, 1, 4], json: true }));
        const s = split(await b.get(ksvcPath(ns)));
        t.check(
          JSON.stringify(s) === JSON.stringify({ [stable]: 0, [candidate]: 100 }) ||
            JSON.stringify(s) === JSON.stringify({ [stable]: 100, [candidate]: 0 }),
          `traffic after the restart is neither promoted nor restored: ${JSON.stringify(s)} (exit ${r.exitCode})`,
        );
        if (r.exitCode === 0) t.same(s, { [stable]: 0, [candidate]: 100 }, 'traffic after exit 0');
        t.add(await integrityProblems(cwd));
      });
      removeDir(cwd);
    }
    c.finish();
  });

  describe('Prometheus down', () => {
    /** `vpm --json <command> hello -n NS --context cluster-a --provider prometheus --prometheus-url URL`. */
    const promArgs = (command: string, ns: string, url: string) => [
      '--json',
      ...command.split(' '),
      'hello',
      '-n',
      ns,
      '--context',
      'cluster-a',
      '--provider',
      'prometheus',
      '--prometheus-url',
      url,
    ];
    const servers: Server[] = [];
    const urls: Record<string, string> = {};

    /**
     * A Prometheus that lists the serving revision's request series (what the provider's preflight asks
     * before any traffic moves: `count by (…)`) but fails every other query as `handler` says — so the
     * failure comes in the middle of the run, after traffic moved.
     */
    async function fake(name: string, handler: (res: import('node:http').ServerResponse) => void): Promise<void> {
      const s = createServer((req, res) => {
        const query = new URL(req.url ?? '/', 'http://prometheus').searchParams.get('query') ?? '';
        if (!query.startsWith('count by')) return handler(res);
        const serving = { kn_revision_name: 'hello-00001', revision_name: 'hello-00001', job: 'knative-queue-proxy' };
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ status: 'success', data: { resultType: 'vector', result: [{ metric: serving, value: [0, '1'] }] } }));
      });
      await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
      servers.push(s);
      urls[name] = `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
    }

    beforeAll(async () => {
      const closed = createServer();
      await new Promise<void>((r) => closed.listen(0, '127.0.0.1', () => r()));
      urls.refused = `http://127.0.0.1:${(closed.address() as AddressInfo).port}`;
      await new Promise<void>((r) => closed.close(() => r()));
      await fake('503', (res) => {
        res.writeHead(503, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ status: 'error', errorType: 'unavailable', error: 'TSDB not ready' }));
      });
      await fake('no answer', () => undefined);
      await fake('garbage', (res) => {
        res.writeHead(200, { 'content-type': 'text/html' });
        res.end('<html>proxy error</html>');
      });
      // no data at all, not even for the preflight: a real Prometheus that scrapes no queue-proxy
      const empty = createServer((_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ status: 'success', data: { resultType: 'vector', result: [] } }));
      });
      await new Promise<void>((r) => empty.listen(0, '127.0.0.1', () => r()));
      servers.push(empty);
      urls['no data'] = `http://127.0.0.1:${(empty.address() as AddressInfo).port}`;
    });
    afterAll(() => {
      for (const s of servers) {
        s.closeAllConnections();
        s.close();
      }
    });

    it('canary with the prometheus provider never passes a gate: aborts to stable with a clear error', async ({ task }) => {
      const c = openCase(task, 'fault', 'Prometheus down');
      // A configured scrape interval spares the provider its question to Prometheus before the run,
      // so Prometheus fails in the middle of it, after traffic moved.
      const configuredScrape = { ...kubeEnv(), VPM_PROMETHEUS_SCRAPE_INTERVAL: '1s' };
      // refused and no data fail the preflight (nothing moves, nothing recorded); the others answer it and
      // fail once traffic moved (aborted to stable, evidence written)
      for (const name of ['refused', '503', 'no answer', 'garbage', 'no data']) {
        const beforeTraffic = name === 'refused' || name === 'no data';
        const ns = await freshNamespace(a, 'prom-down');
        const cwd = tempRepo('prom-down');
        const { stable, candidate } = await helloWithCandidate(a, ns);
        const ok = await c.trial(`Prometheus ${name}: vpm canary start --provider prometheus`, async (t: Trial) => {
          t.context = { cwd, ns, url: urls[name] };
          const r = await vpmProcess([...promArgs('canary start', ns, urls[name]), '--interval', '4s', '--max-holds', '2'], {
            cwd,
            env: configuredScrape,
            timeoutMs: 120_000,
          });
          t.add(errorProblems(r, { codes: [1], json: true }));
          t.check(/Prometheus/.test(r.stderr), () => `the error does not say Prometheus failed: ${r.stderr.slice(-300)}`);
          const s = split(await a.get(ksvcPath(ns)));
          t.same(s, beforeTraffic ? { [stable]: 100 } : { [stable]: 100, [candidate]: 0 }, 'traffic after the canary');
          const details = r.exitCode !== 0 && r.stdout ? JSON.parse(r.stdout).error?.details : undefined;
          if (beforeTraffic) t.check(!existsSync(join(cwd, 'reports', 'canary')), 'a canary that never started wrote evidence');
          else if (t.check(details?.evidence, 'no evidence path in the --json error')) {
            const ev = JSON.parse(readFileSync(join(cwd, details.evidence), 'utf8'));
            t.check(ev.result !== 'promoted', `evidence result ${ev.result}`);
            t.check(!(ev.checks ?? []).some((x: { decision: string }) => x.decision === 'pass'), 'a gate passed without Prometheus');
          }
          t.add(await integrityProblems(cwd));
        });
        if (ok) removeDir(cwd);
      }

      // Without a configured scrape interval the provider asks Prometheus before the run: a Prometheus
      // that cannot answer stops the canary before any traffic moves, and nothing is recorded.
      {
        const ns = await freshNamespace(a, 'prom-pre');
        const cwd = tempRepo('prom-pre');
        const { stable } = await helloWithCandidate(a, ns);
        const ok = await c.trial('Prometheus refused before the run: vpm canary start --provider prometheus', async (t: Trial) => {
          t.context = { cwd, ns };
          const r = await vpmProcess(promArgs('canary start', ns, urls.refused), { cwd, env: kubeEnv(), timeoutMs: 60_000 });
          t.add(errorProblems(r, { codes: [1], json: true }));
          t.check(/Prometheus/.test(r.stderr), () => `the error does not say Prometheus failed: ${r.stderr.slice(-300)}`);
          t.same(split(await a.get(ksvcPath(ns))), { [stable]: 100 }, 'traffic after a canary that could not start');
          t.check(!existsSync(join(cwd, 'reports', 'canary')), 'a canary that never started wrote evidence');
          t.add(await integrityProblems(cwd));
        });
        if (ok) removeDir(cwd);
      }

      // vpm guard with Prometheus unreachable: a clear error, no rollback, no freeze.
      const ns = await freshNamespace(a, 'prom-guard');
      const cwd = tempRepo('prom-guard');
      const { stable, candidate } = await helloWithCandidate(a, ns);
      await a.mergePatch(ksvcPath(ns), {
        spec: {
          traffic: [
            { revisionName: candidate, percent: 100 },
            { revisionName: stable, percent: 0 },
          ],
        },
      });
      const ok = await c.trial('Prometheus refused: vpm guard --provider prometheus', async (t) => {
        t.context = { cwd, ns };
        const r = await vpmProcess(
          [
            ...promArgs('guard', ns, urls.refused),
            '--revision',
            candidate,
            '--previous',
            stable,
            '--window',
            '3s',
            '--interval',
            '1s',
            '--no-issue',
          ],
          { cwd, env: kubeEnv(), timeoutMs: 60_000 },
        );
        t.add(errorProblems(r, { codes: [1], json: true }));
        t.check(/Prometheus/.test(r.stderr), () => `the error does not say Prometheus failed: ${r.stderr.slice(-300)}`);
        t.same(split(await a.get(ksvcPath(ns))), { [candidate]: 100, [stable]: 0 }, 'traffic after a guard that could not measure');
        t.check(
          !existsSync(join(cwd, '.ops', 'deploy_freeze.json')) ||
            JSON.parse(readFileSync(join(cwd, '.ops', 'deploy_freeze.json'), 'utf8')).frozen !== true,
          'a guard that could not measure froze deploys',
        );
        t.add(await integrityProblems(cwd));
      });
      if (ok) removeDir(cwd);
      c.finish();
    });
  });
});
