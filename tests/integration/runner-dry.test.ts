/**
 * A dry `vpm run` is a preview (like `kubectl apply --dry-run=server`): it writes its `[DRY]` lines and
 * reports, and changes nothing a later `--exec` run depends on — not the inbox, not `_done/`, not the
 * job loop state, not a job's exec state. The user's "dry first, then --exec" must find the jobs
 * still queued and really run them. Through the built CLI, in fresh temp repos.
 */
import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { tempDir, vpm, vpmJson } from '../helpers/cli.js';

const readJson = (path: string) => JSON.parse(readFileSync(path, 'utf8'));
const inboxDir = (cwd: string) => join(cwd, 'codex', 'inbox');
const runDir = (cwd: string, id: string) => join(cwd, 'reports', 'codex_runs', id);
const runLog = (cwd: string, id: string) => readFileSync(join(runDir(cwd, id), 'run.log'), 'utf8');
const stepFile = (n: number) => `step_${String(n).padStart(3, '0')}.json`;
const execStep = (cwd: string, id: string, n: number) => readJson(join(runDir(cwd, id), 'steps', stepFile(n)));
const dryStep = (cwd: string, id: string, n: number) => readJson(join(runDir(cwd, id), 'dry', 'steps', stepFile(n)));
const runnerState = (cwd: string) => join(cwd, 'reports', 'codex_runs', 'phase_state.json');

function repo(config: unknown): string {
  const cwd = tempDir('vpm-runner-dry-');
  mkdirSync(inboxDir(cwd), { recursive: true });
  writeFileSync(join(cwd, 'vpm.config.json'), JSON.stringify(config, null, 2));
  return cwd;
}

let seq = 0;
function job(cwd: string, id: string, body: Record<string, unknown>, file = `${id}.json`): void {
  const created = new Date(Date.UTC(2026, 0, 1, 0, 0, seq++)).toISOString();
  writeFileSync(join(inboxDir(cwd), file), JSON.stringify({ id, kind: 'exec', created_at: created, source: 'test', ...body }, null, 2));
}

const allowAll = (extra: Record<string, unknown> = {}) => ({
  execution_policy: { default_action: 'allow', deny_if_contains: ['rm', 'git push'], ...extra },
});

/** Every file under the inbox (sub-folders included), with the sha256 of its bytes. */
function inboxSnapshot(cwd: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const abs = join(dir, name);
      if (statSync(abs).isDirectory()) {
        out[`${relative(inboxDir(cwd), abs)}/`] = 'dir';
        walk(abs);
      } else out[relative(inboxDir(cwd), abs)] = createHash('sha256').update(readFileSync(abs)).digest('hex');
    }
  };
  walk(inboxDir(cwd));
  return out;
}

const sha = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

describe('a dry run leaves the inbox as it was', () => {
  it('default, RUN_MODE=dry, --dry-run, --mode test and --mode cleanrun: [DRY] lines and reports written, inbox byte-identical, nothing executed', async () => {
    const cwd = repo(allowAll());
    job(cwd, 'j1', {
      steps: [
        { name: 'create', argv: ['touch', 'created.txt'] },
        { name: 'list', command: 'ls -la' },
      ],
    });
    job(cwd, 'j2', { steps: [{ name: 'create', argv: ['touch', 'second.txt'] }] });
    writeFileSync(join(inboxDir(cwd), 'broken.json'), '{"id": "broken", ');
    const before = inboxSnapshot(cwd);
    expect(Object.keys(before).sort()).toEqual(['broken.json', 'j1.json', 'j2.json']);

    const runs: Array<{ args: string[]; env?: Record<string, string> }> = [
      { args: ['run'] },
      { args: ['run'], env: { RUN_MODE: 'dry' } },
      { args: ['run', '--dry-run'], env: { RUN_MODE: 'exec' } },
      { args: ['run', '--mode', 'test'] },
      { args: ['run', '--mode', 'cleanrun'] },
      { args: ['run', '--clean'] },
    ];
    for (const { args, env } of runs) {
      const label = `${args.join(' ')} ${JSON.stringify(env ?? {})}`;
      const { result, json } = await vpmJson(args, { cwd, env });
      // The broken file is reported (exit 1) but stays where it is: a dry run moves nothing.
      expect(result.exitCode, `${label}: ${result.stderr}`).toBe(1);
      expect(json.exec_mode, label).toBe('dry');
      expect(
        json.jobs.map((j: { job_id: string }) => j.job_id),
        label,
      ).toEqual(['j1', 'j2']);
      expect(
        json.jobs.map((j: { moved_to: string | null }) => j.moved_to),
        label,
      ).toEqual([null, null]);
      expect(json.failed, label).toEqual([
        expect.objectContaining({ file: 'broken.json', moved_to: null, error_file: null, reason: expect.stringMatching(/^invalid JSON/) }),
      ]);
      expect(inboxSnapshot(cwd), label).toEqual(before);
      expect(existsSync(join(inboxDir(cwd), '_done')), label).toBe(false);
      expect(existsSync(join(inboxDir(cwd), '_failed')), label).toBe(false);
      if (args.includes('test')) expect(String(result.stderr), label).not.toMatch(/missing|unreadable/);
    }
    expect(existsSync(join(cwd, 'created.txt'))).toBe(false);
    expect(existsSync(join(cwd, 'second.txt'))).toBe(false);
    const log = runLog(cwd, 'j1');
    expect(log).toMatch(/\[DRY\] touch created\.txt\n/);
    expect(log).toMatch(/\[DRY\] ls -la\n/);
    expect(log).not.toMatch(/\[EXEC\]/);
    expect(dryStep(cwd, 'j1', 1)).toMatchObject({
      decision: 'allow',
      normalized_argv: ['touch', 'created.txt'],
      outcome: 'done',
      executed: false,
      mode: 'dry',
    });
    expect(readJson(join(runDir(cwd, 'j1'), 'dry', 'phase_summary.json'))).toMatchObject({
      mode: 'dry',
      current_phase: 'done',
      end_reason: expect.stringMatching(/nothing executed/),
    });
    // The dry run kept out of the exec state: no job state, no runner state.
    expect(existsSync(join(runDir(cwd, 'j1'), 'phase_state.json'))).toBe(false);
    expect(existsSync(join(runDir(cwd, 'j1'), 'steps'))).toBe(false);
    expect(existsSync(runnerState(cwd))).toBe(false);
  });
});

describe('dry first, then --exec', () => {
  it('the job a dry run previewed is executed by the next --exec run and only then moves to _done/', async () => {
    const cwd = repo(allowAll());
    job(cwd, 'j1', {
      steps: [
        { name: 'create', argv: ['touch', 'created.txt'] },
        { name: 'list', argv: ['ls'] },
      ],
    });
    const dry = await vpmJson(['run'], { cwd });
    expect(dry.result.exitCode, String(dry.result.stderr)).toBe(0);
    expect(existsSync(join(inboxDir(cwd), 'j1.json'))).toBe(true);
    expect(existsSync(join(cwd, 'created.txt'))).toBe(false);

    const exec = await vpmJson(['run', '--exec'], { cwd });
    expect(exec.result.exitCode, String(exec.result.stderr)).toBe(0);
    expect(existsSync(join(cwd, 'created.txt'))).toBe(true);
    expect(exec.json.jobs).toEqual([
      expect.objectContaining({ job_id: 'j1', phase: 'done', done_count: 2, resumed: false, moved_to: 'codex/inbox/_done/j1.json' }),
    ]);
    expect(existsSync(join(inboxDir(cwd), '_done', 'j1.json'))).toBe(true);
    expect(existsSync(join(inboxDir(cwd), 'j1.json'))).toBe(false);
    expect(execStep(cwd, 'j1', 1)).toMatchObject({ outcome: 'done', executed: true, exit_code: 0, mode: 'exec' });
    expect(readJson(join(runDir(cwd, 'j1'), 'phase_state.json'))).toMatchObject({ mode: 'exec', finished: true, current_phase: 'done' });
    const log = runLog(cwd, 'j1');
    expect(log.indexOf('[DRY] touch created.txt')).toBeGreaterThan(-1);
    expect(log.indexOf('[EXEC] touch created.txt → exit 0')).toBeGreaterThan(log.indexOf('[DRY] touch created.txt'));
    // After the exec run a dry run has nothing left to preview.
    const after = await vpmJson(['run'], { cwd });
    expect(after.json).toMatchObject({ phase: 'idle', jobs: [] });
  });

  it('a job re-queued from _done/ after a dry run is executed by --exec, not reported done without running', async () => {
    const cwd = repo(allowAll());
    job(cwd, 'q1', { steps: [{ name: 'create', argv: ['touch', 'requeued.txt'] }] });
    expect((await vpm(['run'], { cwd })).exitCode).toBe(0);
    // The user's step: put back whatever the dry run consumed (older vpm moved it to _done/).
    const done = join(inboxDir(cwd), '_done');
    if (existsSync(done)) for (const f of readdirSync(done)) renameSync(join(done, f), join(inboxDir(cwd), f));
    expect(existsSync(join(inboxDir(cwd), 'q1.json'))).toBe(true);

    const exec = await vpmJson(['run', '--exec'], { cwd });
    expect(exec.result.exitCode, String(exec.result.stderr)).toBe(0);
    expect(existsSync(join(cwd, 'requeued.txt'))).toBe(true);
    expect(exec.json.jobs[0]).toMatchObject({ job_id: 'q1', phase: 'done', resumed: false, done_count: 1 });
    expect(execStep(cwd, 'q1', 1)).toMatchObject({ executed: true, exit_code: 0 });
    expect(existsSync(join(inboxDir(cwd), '_done', 'q1.json'))).toBe(true);
  });

  it('a job whose reports say an older vpm finished it in DRY is executed when re-queued', async () => {
    // What an older vpm's dry run left behind: a finished job state with mode dry (and the job in _done/).
    const cwd = repo(allowAll());
    job(cwd, 'old1', {
      steps: [
        { name: 'a', argv: ['touch', 'a.txt'] },
        { name: 'b', argv: ['touch', 'b.txt'] },
      ],
    });
    mkdirSync(runDir(cwd, 'old1'), { recursive: true });
    const now = new Date().toISOString();
    writeFileSync(
      join(runDir(cwd, 'old1'), 'phase_state.json'),
      JSON.stringify({
        v: 1,
        job_id: 'old1',
        job_file: 'old1.json',
        kind: 'exec',
        mode: 'dry',
        current_phase: 'done',
        step_count: 2,
        next_step: 3,
        steps: [
          { step: 1, name: 'a', outcome: 'done', mode: 'dry' },
          { step: 2, name: 'b', outcome: 'done', mode: 'dry' },
        ],
        job_index: null,
        finished: true,
        end_reason: 'done (2/2 steps)',
        started_at: now,
        updated_at: now,
        attempts: 1,
      }),
    );
    writeFileSync(
      join(runDir(cwd, 'old1'), 'phase_summary.json'),
      JSON.stringify({
        v: 1,
        job_id: 'old1',
        kind: 'exec',
        mode: 'dry',
        current_phase: 'done',
        end_reason: 'done (2/2 steps)',
        step_count: 2,
        done_count: 2,
        success_count: 2,
        denied_steps: [],
        denied_count: 0,
        fatal_error_steps: [],
        fatal_error_count: 0,
        stopped_steps: [],
        stopped_count: 0,
        stop_on_deny: true,
        job_loop_enabled: false,
        job_loop: { enabled: false, max_jobs: null, job_name: null, current_job_index: null, completed: false },
        job_payload_present: false,
        job_payload_size: 0,
        started_at: now,
        finished_at: now,
      }),
    );
    const exec = await vpmJson(['run', '--exec'], { cwd });
    expect(exec.result.exitCode, String(exec.result.stderr)).toBe(0);
    expect(existsSync(join(cwd, 'a.txt'))).toBe(true);
    expect(existsSync(join(cwd, 'b.txt'))).toBe(true);
    expect(exec.json.jobs[0]).toMatchObject({ job_id: 'old1', phase: 'done', done_count: 2 });
    expect(readJson(join(runDir(cwd, 'old1'), 'phase_summary.json'))).toMatchObject({ mode: 'exec', current_phase: 'done' });
  });

  it('a dry run over an interrupted exec run leaves its state alone; --exec then resumes it without repeating done steps', async () => {
    const cwd = repo(allowAll({ allowlist: ['echo first >> count.txt', 'echo last >> count.txt'] }));
    job(cwd, 'k1', {
      steps: [
        { name: 'append', command: 'echo first >> count.txt' },
        { name: 'append again', command: 'echo last >> count.txt' },
      ],
    });
    // An exec run killed after step 1 (as in the crash test of runner.test.ts): its effect and state.
    writeFileSync(join(cwd, 'count.txt'), 'first\n');
    mkdirSync(runDir(cwd, 'k1'), { recursive: true });
    const now = new Date().toISOString();
    const state = join(runDir(cwd, 'k1'), 'phase_state.json');
    writeFileSync(
      state,
      JSON.stringify({
        v: 1,
        job_id: 'k1',
        job_file: 'k1.json',
        kind: 'exec',
        mode: 'exec',
        current_phase: 'running',
        step_count: 2,
        next_step: 2,
        steps: [
          { step: 1, name: 'append', outcome: 'done', mode: 'exec' },
          { step: 2, name: 'append again', outcome: 'pending', mode: 'exec' },
        ],
        job_index: null,
        finished: false,
        end_reason: null,
        started_at: now,
        updated_at: now,
        attempts: 1,
      }),
    );
    const stateBefore = sha(state);
    const inboxBefore = inboxSnapshot(cwd);

    const dry = await vpmJson(['run'], { cwd });
    expect(dry.result.exitCode, String(dry.result.stderr)).toBe(0);
    expect(sha(state)).toBe(stateBefore);
    expect(inboxSnapshot(cwd)).toEqual(inboxBefore);
    expect(dryStep(cwd, 'k1', 1)).toMatchObject({ executed: false, already_executed: true });
    expect(dryStep(cwd, 'k1', 2)).toMatchObject({ executed: false, outcome: 'done' });

    const exec = await vpmJson(['run', '--exec'], { cwd });
    expect(exec.result.exitCode, String(exec.result.stderr)).toBe(0);
    expect(readFileSync(join(cwd, 'count.txt'), 'utf8')).toBe('first\nlast\n');
    expect(existsSync(join(inboxDir(cwd), '_done', 'k1.json'))).toBe(true);
  });
});

describe('the job loop and the summary file under a dry run', () => {
  const loopConfig = {
    ...allowAll(),
    job_loop: { enabled: true, max_jobs: 2, job_name: 'sample', job_result: { path: 'workspace/job_result.json' } },
  };

  it('a dry run never advances job_index nor writes job_result.json; exec runs advance it one job at a time', async () => {
    const cwd = repo(loopConfig);
    job(cwd, 'L1', { steps: [{ name: 'a', argv: ['touch', 'L1.txt'] }] });
    job(cwd, 'L2', { steps: [{ name: 'b', argv: ['touch', 'L2.txt'] }] });

    for (let i = 0; i < 2; i++) {
      const dry = await vpmJson(['run'], { cwd });
      expect(dry.result.exitCode, String(dry.result.stderr)).toBe(0);
      expect(dry.json.jobs.map((j: { job_id: string }) => j.job_id)).toEqual(['L1']);
      expect(dry.json.job_loop).toMatchObject({ enabled: true, current_job_index: 1, completed: false });
      expect(existsSync(runnerState(cwd))).toBe(false);
    }
    expect(dryStep(cwd, 'L1', 1)).toMatchObject({ job_index: 1, executed: false });

    const e1 = await vpmJson(['run', '--exec'], { cwd });
    expect(e1.result.exitCode, String(e1.result.stderr)).toBe(0);
    expect(existsSync(join(cwd, 'L1.txt'))).toBe(true);
    expect(execStep(cwd, 'L1', 1)).toMatchObject({ job_index: 1, executed: true });
    expect(readJson(runnerState(cwd))).toMatchObject({ job_index: 2, jobs_executed: 1 });

    const stateBytes = sha(runnerState(cwd));
    const d2 = await vpmJson(['run', '--summary-file', 'out/s.json'], { cwd });
    expect(d2.json.jobs.map((j: { job_id: string }) => j.job_id)).toEqual(['L2']);
    expect(d2.json.job_loop.current_job_index).toBe(2);
    expect(sha(runnerState(cwd))).toBe(stateBytes);
    expect(readJson(join(cwd, 'out', 's.json'))).toMatchObject({
      done: false,
      dry_run: true,
      exec_mode: 'dry',
      job_loop: { current_job_index: 2, completed: false },
    });

    const e2 = await vpmJson(['run', '--exec'], { cwd });
    expect(e2.result.exitCode).toBe(0);
    expect(existsSync(join(cwd, 'L2.txt'))).toBe(true);
    expect(readJson(runnerState(cwd))).toMatchObject({ job_index: 3, jobs_executed: 2 });

    // job_index 3 > max_jobs 2: a dry run says the loop is complete but writes neither state nor result.
    const stateDone = sha(runnerState(cwd));
    const d3 = await vpmJson(['run', '--summary-file', 'out/s.json'], { cwd });
    expect(d3.result.exitCode).toBe(0);
    expect(d3.json).toMatchObject({ phase: 'job_loop_complete', job_result: { written: false, exists: false } });
    expect(existsSync(join(cwd, 'workspace', 'job_result.json'))).toBe(false);
    expect(sha(runnerState(cwd))).toBe(stateDone);
    expect(readJson(join(cwd, 'out', 's.json'))).toMatchObject({
      phase: 'job_loop_complete',
      done: false,
      dry_run: true,
      job_result_written: false,
    });
    const e3 = await vpmJson(['run', '--exec'], { cwd });
    expect(e3.json).toMatchObject({ phase: 'job_loop_complete', job_result: { written: true, exists: true } });

    // cleanrun in dry: reports what it would remove, removes nothing, previews from job 1.
    const resultBytes = sha(join(cwd, 'workspace', 'job_result.json'));
    const stateComplete = sha(runnerState(cwd));
    job(cwd, 'L3', { steps: [{ name: 'c', argv: ['touch', 'L3.txt'] }] });
    const c = await vpmJson(['run', '--mode', 'cleanrun'], { cwd });
    expect(c.result.exitCode, String(c.result.stderr)).toBe(0);
    expect(c.json.cleaned).toEqual([]);
    expect(c.json.would_clean).toEqual(expect.arrayContaining(['reports/codex_runs/phase_state.json', 'workspace/job_result.json']));
    expect(c.json.jobs.map((j: { job_id: string }) => j.job_id)).toEqual(['L3']);
    expect(c.json.job_loop.current_job_index).toBe(1);
    expect(sha(runnerState(cwd))).toBe(stateComplete);
    expect(sha(join(cwd, 'workspace', 'job_result.json'))).toBe(resultBytes);
    expect(existsSync(join(cwd, 'L3.txt'))).toBe(false);
  });

  it("the summary file of a dry run does not claim the job is done; the exec run's does", async () => {
    const cwd = repo(allowAll());
    job(cwd, 's1', {
      steps: [
        { name: 'a', argv: ['echo', 'a'] },
        { name: 'b', argv: ['echo', 'b'] },
      ],
    });
    const dry = await vpm(['run', '--summary-file', 'logs/s.json'], { cwd });
    expect(dry.exitCode, String(dry.stderr)).toBe(0);
    const s = readJson(join(cwd, 'logs', 's.json'));
    expect(s).toMatchObject({
      done: false,
      dry_run: true,
      exec_mode: 'dry',
      step_count: 2,
      phase_summary_exists: true,
      reports_dir: 'reports/codex_runs/s1/dry',
    });
    expect(s.end_reason).toMatch(/nothing executed/);
    expect(readFileSync(join(cwd, 'logs', 's.txt'), 'utf8')).toMatch(/ done=false dry_run=true .*end_reason=dry_run:/);

    expect((await vpm(['run', '--exec', '--summary-file', 'logs/s.json'], { cwd })).exitCode).toBe(0);
    const e = readJson(join(cwd, 'logs', 's.json'));
    expect(e).toMatchObject({
      phase: 'done',
      done: true,
      exec_mode: 'exec',
      end_reason: 'done (2/2 steps)',
      reports_dir: 'reports/codex_runs/s1',
    });
    expect(e).not.toHaveProperty('dry_run');
    expect(readFileSync(join(cwd, 'logs', 's.txt'), 'utf8')).toMatch(/^phase=done step=2 done=true latest_step=step_002\.json /);
  });
});
