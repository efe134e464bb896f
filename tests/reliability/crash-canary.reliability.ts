/**
 * Crash injection in the canary against the real API server and the Knative simulator: `vpm canary
 * start` SIGKILLed at random points, several times in a row on one KService, then a final run.
 * After every kill: spec.traffic sums to 100 over the two pinned revisions only (never latestRevision,
 * never a third revision), the progress annotation parses, every evidence file parses. The next run
 * resumes where the killed one stopped; the final one promotes.
 */
import { beforeAll, describe, it } from 'vitest';
import { requireTestenv, useTestenv, kubeFor, freshNamespace, type TestenvInfo } from '../support/testenv.ts';
import type { Kube } from '../support/kube.ts';
import { helloWithCandidate, ksvcPath } from '../helpers/deploy.ts';
import { openCase, type Trial } from './support/ledger.ts';
import { rng, scaled } from './support/random.ts';
import { errorProblems, integrityProblems, killAt, spawnVpm, vpmProcess } from './support/vpm.ts';
import { removeDir, tempRepo } from './support/tmp.ts';

const KILLS_PER_SERIES = 3;

async function trafficProblems(kube: Kube, ns: string, stable: string, candidate: string, t: Trial): Promise<Record<string, number>> {
  const o = await kube.get(ksvcPath(ns));
  const traffic: Array<{ revisionName?: string; percent?: number; latestRevision?: boolean }> = o.spec?.traffic ?? [];
  const sum = traffic.reduce((n, x) => n + (x.percent ?? 0), 0);
  t.check(sum === 100, `spec.traffic sums to ${sum}: ${JSON.stringify(traffic)}`);
  for (const x of traffic) {
    t.check(x.revisionName === stable || x.revisionName === candidate, `traffic to an unpinned or foreign revision: ${JSON.stringify(x)}`);
    t.check(!x.latestRevision, `traffic on latestRevision: ${JSON.stringify(x)}`);
  }
  const annotation = o.metadata.annotations?.['vpm.dev/canary'];
  if (annotation !== undefined) {
    try {
      const p = JSON.parse(annotation);
      t.check(p.stable === stable && p.candidate === candidate, `progress annotation names other revisions: ${annotation}`);
    } catch {
      t.check(false, `progress annotation does not parse: ${annotation}`);
    }
  }
  return Object.fromEntries(traffic.map((x) => [x.revisionName ?? '?', x.percent ?? 0]));
}

describe.skipIf(!requireTestenv())('crash injection: canary', () => {
  let env: TestenvInfo;
  let kube: Kube;

  beforeAll(async () => {
    env = await useTestenv({ clusters: 1 });
    kube = await kubeFor(env, 'cluster-a');
  });

  it('vpm canary start: killed anywhere, traffic stays a valid pinned split and the next run resumes; the last one promotes', async ({
    task,
  }) => {
    const c = openCase(task, 'crash', 'canary');
    const rand = rng('crash-canary');
    let resumed = 0;
    for (let s = 0; s < scaled(6); s++) {
      const ns = await freshNamespace(kube, 'crash-canary');
      const cwd = tempRepo('crash-canary');
      const { stable, candidate } = await helloWithCandidate(kube, ns);
      const args = ['canary', 'start', 'hello', '-n', ns, '--context', 'cluster-a', '--interval', '1s', '--requests', '40'];
      const runEnv = { KUBECONFIG: env.kubeconfig };
      let promoted = false;
      for (let k = 0; k < KILLS_PER_SERIES; k++) {
        await c.trial(`series ${s}: SIGKILL vpm canary start (${k + 1}/${KILLS_PER_SERIES})`, async (t) => {
          // A whole canary takes ~4 s here (three 1 s windows plus settling); kills land across it.
          const delay = Math.round(300 + rand() * 3_700);
          t.context = { cwd, ns, delay_ms: delay };
          const r = await killAt(spawnVpm(args, { cwd, env: runEnv, timeoutMs: 120_000 }), delay);
          t.context.killed = r.killed;
          if (!r.killed && promoted)
            t.check(
              r.exitCode === 3 && /nothing to roll out/.test(r.stderr),
              `a re-run after promotion exited ${r.exitCode}: ${r.stderr.slice(0, 300)}`,
            );
          else if (!r.killed) t.check(r.exitCode === 0, `an unkilled canary exited ${r.exitCode}: ${r.stderr.slice(0, 300)}`);
          if (!r.killed && r.exitCode === 0) promoted = true;
          await trafficProblems(kube, ns, stable, candidate, t);
          // A kill after the last traffic write but before the exit leaves a promoted canary too.
          const phase = JSON.parse((await kube.get(ksvcPath(ns))).metadata.annotations?.['vpm.dev/canary'] ?? '{}').phase;
          if (phase === 'promoted') promoted = true;
          t.add((await integrityProblems(cwd)).map((p) => `after the kill: ${p}`));
        });
      }
      await c.trial(`series ${s}: the run after ${KILLS_PER_SERIES} kills promotes`, async (t) => {
        t.context = { cwd, ns };
        const r = await vpmProcess(['--json', ...args], { cwd, env: runEnv, timeoutMs: 180_000 });
        // A kill that landed after the last gate leaves a promoted canary: the re-run then has nothing to roll out (exit 3).
        const split = await trafficProblems(kube, ns, stable, candidate, t);
        if (promoted || (r.exitCode === 3 && /nothing to roll out/.test(r.stderr))) {
          t.check(
            r.exitCode === 3 && /nothing to roll out/.test(r.stderr),
            `a re-run after promotion exited ${r.exitCode}: ${r.stderr.slice(0, 300)}`,
          );
          t.same(split, { [stable]: 0, [candidate]: 100 }, 'traffic when the canary had already been promoted');
        } else {
          t.add(errorProblems(r, { codes: [0], json: true }));
          if (r.exitCode === 0) {
            const out = JSON.parse(r.stdout);
            t.same(out.result, 'promoted', 'result of the final run');
            t.same(split, { [stable]: 0, [candidate]: 100 }, 'traffic after promotion');
            const { readFileSync } = await import('node:fs');
            const evidence = JSON.parse(readFileSync(`${cwd}/${out.evidence}`, 'utf8'));
            if (evidence.resumed_from) resumed++;
          }
        }
        t.add(await integrityProblems(cwd));
      });
      if (c.record.failures.length === 0) removeDir(cwd);
      await kube.delete?.(`/api/v1/namespaces/${ns}`).catch(() => undefined);
    }
    c.note(`${resumed} final runs resumed a killed canary's progress`);
    c.finish();
  });
});
