/**
 * Crash injection in the runner: `vpm run --exec` SIGKILLed (with its running step) at random points
 * of a job. After the kill every file parses (phase_state.json, step logs, phase_summary.json, the
 * job file), a step recorded `done` ran exactly once, a `pending` one not at all; the next run resumes
 * and finishes the job, never running a `done` step again (only the step that was `running` at the
 * kill may run a second time, as documented).
 */
import { describe, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { openCase } from './support/ledger.ts';
import { rng, scaled } from './support/random.ts';
import { calibrate, KillTally, runAndKill } from './support/crash.ts';
import { errorProblems, integrityProblems, killAt, spawnVpm, vpmProcess, type KilledRun } from './support/vpm.ts';
import { removeDir, tempRepo } from './support/tmp.ts';

const STEPS = 4;
const mark = (n: number) => `echo s${n} >> marks.txt`;

function repoWithJob(id: string): string {
  const steps = [];
  for (let n = 1; n <= STEPS; n++) {
    steps.push({ name: `mark ${n}`, command: mark(n) });
    if (n < STEPS) steps.push({ name: `hold ${n}`, argv: ['sleep', '0.05'] });
  }
  return tempRepo('crash-runner', {
    'vpm.config.json': JSON.stringify({
      execution_policy: { default_action: 'deny', allowlist: [...Array.from({ length: STEPS }, (_, i) => mark(i + 1)), 'sleep'] },
    }),
    [`codex/inbox/${id}.json`]: JSON.stringify({ id, kind: 'exec', created_at: '2026-01-01T00:00:00.000Z', source: 'reliability', steps }),
  });
}

function marks(cwd: string): Record<string, number> {
  const out: Record<string, number> = {};
  const p = join(cwd, 'marks.txt');
  if (!existsSync(p)) return out;
  for (const l of readFileSync(p, 'utf8').split('\n').filter(Boolean)) out[l] = (out[l] ?? 0) + 1;
  return out;
}

/** Step index (1-based, in the job) of mark step n. */
const stepOfMark = (n: number) => 2 * n - 1;

describe('crash injection: runner', () => {
  it('vpm run --exec: killed anywhere, done steps never run again and the next run finishes the job', async ({ task }) => {
    const c = openCase(task, 'crash', 'runner');
    const rand = rng('crash-runner');
    const duration = await calibrate(async () => {
      const probe = repoWithJob('calib');
      await vpmProcess(['run', '--exec'], { cwd: probe });
      removeDir(probe);
    });
    c.note(`calibrated run: ${duration} ms`);
    const tally = new KillTally();
    const atKill = { done: 0, running: 0, pending: 0 };
    for (let i = 0; i < scaled(40); i++) {
      const id = `job${i}`;
      const cwd = repoWithJob(id);
      const phaseState = join(cwd, 'reports', 'codex_runs', id, 'phase_state.json');
      const ok = await c.trial('SIGKILL vpm run --exec', async (t) => {
        // A quarter of the kills at a random time (start-up included); the rest once a random step
        // has started, plus up to 60 ms — so kills spread over the steps however loaded the machine is.
        let k: KilledRun & { delayMs: number; target_step?: number };
        if (i % 4 === 0) {
          k = await runAndKill(['run', '--exec'], { cwd }, rand, duration);
        } else {
          const target = 1 + Math.floor(rand() * (2 * STEPS - 1));
          const extra = Math.round(rand() * 60);
          const child = spawnVpm(['run', '--exec'], { cwd });
          let stop = false;
          const reached = (async () => {
            while (!stop) {
              try {
                const st = JSON.parse(readFileSync(phaseState, 'utf8'));
                if (['running', 'done'].includes(st.steps?.[target - 1]?.outcome)) return;
              } catch {
                /* not written yet, or mid-rename */
              }
              await new Promise((r) => setTimeout(r, 5));
            }
          })();
          k = { ...(await killAt(child, extra, reached)), delayMs: extra, target_step: target };
          stop = true;
        }
        t.context = { cwd, delay_ms: k.delayMs, killed: k.killed };
        const state = existsSync(phaseState) ? JSON.parse(readFileSync(phaseState, 'utf8')) : undefined;
        tally.record(k, state !== undefined);
        if (!k.killed) t.check(k.exitCode === 0, `an unkilled run exited ${k.exitCode}: ${k.stderr.slice(0, 300)}`);
        t.add((await integrityProblems(cwd)).map((p) => `after the kill: ${p}`));
        const outcome = (n: number): string => state?.steps?.[stepOfMark(n) - 1]?.outcome ?? 'pending';
        const before = marks(cwd);
        for (let n = 1; n <= STEPS; n++) {
          const o = outcome(n);
          atKill[o === 'done' ? 'done' : o === 'running' ? 'running' : 'pending']++;
          if (o === 'done') t.same(before[`s${n}`] ?? 0, 1, `step ${n} recorded done: times it ran at the kill`);
          if (o === 'pending') t.same(before[`s${n}`] ?? 0, 0, `step ${n} recorded pending: times it ran at the kill`);
        }
        const again = await vpmProcess(['--json', 'run', '--exec'], { cwd });
        t.add(errorProblems(again, { codes: [0], json: true }));
        t.check(again.durationMs < 15_000, `the next run took ${again.durationMs} ms (stale lock?)`);
        t.check(existsSync(join(cwd, 'codex', 'inbox', '_done', `${id}.json`)), 'the job is not in _done/ after recovery');
        t.check(!existsSync(join(cwd, 'codex', 'inbox', `${id}.json`)), 'the job is still in the inbox after recovery');
        const final = JSON.parse(readFileSync(phaseState, 'utf8'));
        t.check(
          final.finished === true && final.current_phase === 'done',
          `phase_state after recovery: ${final.current_phase}, finished ${final.finished}`,
        );
        const after = marks(cwd);
        for (let n = 1; n <= STEPS; n++) {
          const o = outcome(n);
          const times = after[`s${n}`] ?? 0;
          if (o === 'running') t.check(times === 1 || times === 2, `step ${n} (running at the kill) ran ${times} times in all`);
          else t.same(times, 1, `step ${n} (${o} at the kill): times it ran in all`);
        }
        t.add(await integrityProblems(cwd));
      });
      if (ok) removeDir(cwd);
    }
    c.note(tally.toString());
    c.note(`mark steps at the kill: ${atKill.done} done, ${atKill.running} running, ${atKill.pending} pending`);
    c.finish();
  });
});
