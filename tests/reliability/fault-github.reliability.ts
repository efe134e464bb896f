/**
 * Fault injection on the GitHub API (the strict OpenAPI-validated double): every call of `vpm contract
 * check [--apply]`, `vpm checkin` and `vpm guard` answered with 500 and with 403 + rate-limit headers.
 * - contract check: exit 1, the message names the call and (403) when to retry; never "eligible";
 * - checkin: degrades — exit 0, six lines, the PR/Run line says what GitHub answered;
 * - guard: the issue cannot be opened, but the rollback and the freeze are done all the same (exit 4),
 *   and the evidence records why the issue is missing.
 */
import { afterAll, beforeAll, describe, it } from 'vitest';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { requireTestenv, useTestenv, kubeFor, freshNamespace, type TestenvInfo } from '../support/testenv.ts';
import type { Kube } from '../support/kube.ts';
import { startGithubDouble, type GithubDouble } from '../support/github-double.ts';
import { makeGitRepo } from '../helpers/gitrepo.ts';
import { helloWithCandidate, ksvcPath, revisionPath } from '../helpers/deploy.ts';
import { openCase, type Trial } from './support/ledger.ts';
import { errorProblems, integrityProblems, vpmProcess } from './support/vpm.ts';
import { removeDir, tempRepo } from './support/tmp.ts';

type Fault = { kind: '500' | '403 rate limit'; arm: (gh: GithubDouble, operationId: string) => void; message: RegExp };
const FAULTS: Fault[] = [
  { kind: '500', arm: (gh, operationId) => void gh.fail({ operationId, status: 500 }), message: /GitHub answered 500 while/ },
  {
    kind: '403 rate limit',
    arm: (gh, operationId) => void gh.rateLimit({ operationId }),
    message: /GitHub rate limit exhausted while .*(\n.*)*retry after \d{4}-\d{2}-\d{2}T/,
  },
];

const PULLS = [{ number: 11, head: 'reports/run-1', title: 'Persist reports', files: ['reports/coverage.json', 'reports/lag.json'] }];
const CHECKS = {
  'reports/run-1': {
    statuses: [{ context: 'ci/build', state: 'success' as const }],
    checkRuns: [{ name: 'healthcheck', conclusion: 'success' as const }],
  },
};

function strict(t: Trial, gh: GithubDouble): void {
  try {
    gh.assertNoUnexpected();
  } catch (e) {
    t.check(false, (e as Error).message);
  }
}

describe('fault injection: GitHub API 500 and 403 rate limit', () => {
  it('vpm contract check [--apply]: every call failing → exit 1 naming the call, never eligible or applied', async ({ task }) => {
    const c = openCase(task, 'fault', 'GitHub faults: contract check');
    const calls = [
      { op: 'pulls/get', apply: false },
      { op: 'pulls/list-files', apply: false },
      { op: 'checks/list-for-ref', apply: false },
      { op: 'repos/get-combined-status-for-ref', apply: false },
      { op: 'issues/add-labels', apply: true },
      { op: 'graphql', apply: true },
    ];
    for (const call of calls) {
      for (const fault of FAULTS) {
        const gh = await startGithubDouble({ repo: 'acme/app', pulls: PULLS, checks: CHECKS });
        const cwd = tempRepo('contract');
        const ok = await c.trial(`${call.op} → ${fault.kind}`, async (t) => {
          t.context = { cwd };
          fault.arm(gh, call.op);
          const r = await vpmProcess(['--json', 'contract', 'check', '11', ...(call.apply ? ['--apply'] : [])], { cwd, env: gh.env });
          t.add(errorProblems(r, { codes: [1], json: true }));
          t.check(fault.message.test(r.stderr), () => `the error does not say what GitHub answered: ${r.stderr.slice(0, 300)}`);
          t.check(!/"eligible":\s*true/.test(r.stdout), 'reported eligible although GitHub failed');
          const dir = join(cwd, 'reports', 'contract');
          for (const f of existsSync(dir)
            ? readdirSync(dir, { recursive: true })
                .map(String)
                .filter((x) => x.endsWith('.json'))
            : []) {
            t.check(
              JSON.parse(readFileSync(join(dir, f), 'utf8')).status !== 'applied',
              `evidence ${f} says applied although a call failed`,
            );
          }
          t.add(await integrityProblems(cwd));
          strict(t, gh);
        });
        await gh.close();
        if (ok) removeDir(cwd);
      }
    }
    c.finish();
  });

  it('vpm checkin: GitHub failing degrades to exit 0 with six lines saying what GitHub answered', async ({ task }) => {
    const c = openCase(task, 'fault', 'GitHub faults: checkin');
    const repo = makeGitRepo({ files: { 'README.md': '# app\n' }, gitignore: ['/logs/'] });
    repo.git('checkout', '-q', '-b', 'feat/x');
    repo.git('remote', 'add', 'origin', 'https://github.com/acme/app.git');
    for (const op of ['pulls/list', 'actions/list-workflow-runs-for-repo']) {
      for (const fault of FAULTS) {
        const gh = await startGithubDouble({
          repo: 'acme/app',
          pulls: [{ number: 21, head: 'feat/x', title: 'X' }],
          workflowRuns: [{ branch: 'feat/x', name: 'healthcheck', status: 'completed', conclusion: 'success' }],
        });
        await c.trial(`${op} → ${fault.kind}`, async (t) => {
          fault.arm(gh, op);
          const r = await vpmProcess(['checkin'], { cwd: repo.dir, env: gh.env });
          t.add(errorProblems(r, { codes: [0] }));
          const lines = r.stdout.trimEnd().split('\n');
          t.same(
            lines.map((l) => l.split(':')[0]),
            ['Repo', 'Branch', 'PR', 'Run', 'Evidence', 'Next'],
            'check-in block lines',
          );
          const line = lines[op === 'pulls/list' ? 2 : 3] ?? '';
          t.check(
            /unknown — /.test(line) && fault.message.test(line.replace(/ \(retry after/, '\nretry after')),
            `the ${op === 'pulls/list' ? 'PR' : 'Run'} line does not say what GitHub answered: ${line}`,
          );
          const json = await vpmProcess(['--json', 'checkin'], { cwd: repo.dir, env: gh.env });
          t.add(errorProblems(json, { codes: [0], json: true }));
          strict(t, gh);
        });
        await gh.close();
      }
    }
    repo.cleanup();
    c.finish();
  });

  describe.skipIf(!requireTestenv())('vpm guard', () => {
    let env: TestenvInfo;
    let kube: Kube;
    beforeAll(async () => {
      env = await useTestenv({ clusters: 1 });
      kube = await kubeFor(env, 'cluster-a');
    });
    afterAll(() => undefined);

    it('guard NG with issue creation failing: rollback and freeze done all the same, exit 4, evidence says why there is no issue', async ({
      task,
    }) => {
      const c = openCase(task, 'fault', 'GitHub faults: guard');
      for (const fault of FAULTS) {
        const gh = await startGithubDouble({ repo: 'acme/app' });
        const ns = await freshNamespace(kube, 'guard-gh');
        const cwd = tempRepo('guard');
        const ok = await c.trial(`issues/create → ${fault.kind}`, async (t) => {
          t.context = { cwd, ns };
          const { stable, candidate } = await helloWithCandidate(kube, ns);
          // Promoted by hand, then the candidate goes bad.
          await kube.mergePatch(ksvcPath(ns), {
            spec: {
              traffic: [
                { revisionName: candidate, percent: 100 },
                { revisionName: stable, percent: 0 },
              ],
            },
          });
          await kube.mergePatch(revisionPath(ns, candidate), { metadata: { annotations: { 'vpm-sim/error-rate': '0.5' } } });
          fault.arm(gh, 'issues/create');
          const r = await vpmProcess(
            [
              '--json',
              'guard',
              'hello',
              '-n',
              ns,
              '--context',
              'cluster-a',
              '--revision',
              candidate,
              '--previous',
              stable,
              '--window',
              '20s',
              '--interval',
              '1s',
            ],
            { cwd, env: { ...gh.env, KUBECONFIG: env.kubeconfig }, timeoutMs: 120_000 },
          );
          t.add(errorProblems(r, { codes: [4], json: true }));
          t.check(
            /could not open the GitHub issue/.test(r.stderr) && fault.message.test(r.stderr),
            () => `guard does not say why the issue is missing: ${r.stderr.slice(-400)}`,
          );
          const ksvc = await kube.get(ksvcPath(ns));
          t.same(
            Object.fromEntries(ksvc.spec.traffic.map((x: { revisionName: string; percent: number }) => [x.revisionName, x.percent])),
            { [stable]: 100, [candidate]: 0 },
            'traffic after guard NG',
          );
          const freeze = existsSync(join(cwd, '.ops', 'deploy_freeze.json'))
            ? JSON.parse(readFileSync(join(cwd, '.ops', 'deploy_freeze.json'), 'utf8'))
            : null;
          t.check(freeze?.frozen === true && freeze?.source === 'guard', `deploy freeze after guard NG: ${JSON.stringify(freeze)}`);
          const details = r.exitCode === 4 ? JSON.parse(r.stdout).error?.details : undefined;
          if (t.check(details?.evidence, 'no evidence path in the --json error')) {
            const ev = JSON.parse(readFileSync(join(cwd, details.evidence), 'utf8'));
            t.check(ev.rollback?.done === true, 'evidence: rollback not recorded as done');
            t.check(
              ev.issue?.number === null && fault.message.test(String(ev.issue?.error)),
              `evidence does not record why the issue is missing: ${JSON.stringify(ev.issue)}`,
            );
          }
          t.same(gh.state.issues.length, 0, 'issues opened although GitHub failed');
          t.add(await integrityProblems(cwd));
          strict(t, gh);
        });
        await gh.close();
        if (ok) removeDir(cwd);
      }
      c.finish();
    });
  });
});
