/**
 * The runner end to end, through the built CLI in fresh temp repos: dry vs exec, deny / fatal_error /
 * stopped, malformed jobs, the summary file, the job loop, `vpm ask`, apply jobs, crash safety
 * (real SIGKILL) and two runners on one inbox.
 */
import { describe, expect, it } from 'vitest';
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { execa } from 'execa';
import { tempDir, vpm, vpmJson, VPM_BIN } from '../helpers/cli.js';

const readJson = (path: string) => JSON.parse(readFileSync(path, 'utf8'));
const runDir = (cwd: string, id: string) => join(cwd, 'reports', 'codex_runs', id);
const runLog = (cwd: string, id: string) => readFileSync(join(runDir(cwd, id), 'run.log'), 'utf8');
const stepLog = (cwd: string, id: string, n: number) => readJson(join(runDir(cwd, id), 'steps', `step_${String(n).padStart(3, '0')}.json`));
const phaseSummary = (cwd: string, id: string) => readJson(join(runDir(cwd, id), 'phase_summary.json'));
/** A dry run's preview records, kept apart from the exec state (see tests/integration/runner-dry.test.ts). */
const dryStepLog = (cwd: string, id: string, n: number) =>
  readJson(join(runDir(cwd, id), 'dry', 'steps', `step_${String(n).padStart(3, '0')}.json`));

function repo(config?: unknown): string {
  const cwd = tempDir('vpm-runner-');
  mkdirSync(join(cwd, 'codex', 'inbox'), { recursive: true });
  if (config) writeFileSync(join(cwd, 'vpm.config.json'), JSON.stringify(config, null, 2));
  return cwd;
}

let seq = 0;
function job(cwd: string, id: string, body: Record<string, unknown>, file = `${id}.json`): void {
  const created = new Date(Date.UTC(2026, 0, 1, 0, 0, seq++)).toISOString();
  writeFileSync(
    join(cwd, 'codex', 'inbox', file),
    JSON.stringify({ id, kind: 'exec', created_at: created, source: 'test', ...body }, null, 2),
  );
}

const allowAll = (extra: Record<string, unknown> = {}) => ({
  execution_policy: { default_action: 'allow', deny_if_contains: ['rm', 'git push'], ...extra },
});

describe('dry and exec', () => {
  it('a DRY run executes nothing and logs [DRY] lines; the job stays queued', async () => {
    const cwd = repo(allowAll());
    job(cwd, 'j1', {
      steps: [
        { name: 'create', argv: ['touch', 'created.txt'] },
        { name: 'list', command: 'ls -la' },
      ],
    });
    const r = await vpm(['run'], { cwd });
    expect(r.exitCode, String(r.stderr)).toBe(0);
    expect(existsSync(join(cwd, 'created.txt'))).toBe(false);
    const log = runLog(cwd, 'j1');
    expect(log).toMatch(/\[DRY\] touch created\.txt\n/);
    expect(log).toMatch(/\[DRY\] ls -la\n/);
    expect(log).not.toMatch(/\[EXEC\]/);
    expect(dryStepLog(cwd, 'j1', 1)).toMatchObject({
      decision: 'allow',
      matched_rule: 'default_action: allow',
      normalized_argv: ['touch', 'created.txt'],
      outcome: 'done',
      executed: false,
      mode: 'dry',
    });
    expect(existsSync(join(cwd, 'codex', 'inbox', '_done'))).toBe(false);
    expect(existsSync(join(cwd, 'codex', 'inbox', 'j1.json'))).toBe(true);
    expect(readJson(join(runDir(cwd, 'j1'), 'dry', 'phase_state.json'))).toMatchObject({
      current_phase: 'done',
      finished: true,
      mode: 'dry',
    });
    expect(existsSync(join(runDir(cwd, 'j1'), 'phase_state.json'))).toBe(false);
  });

  it('RUN_MODE=exec and --exec execute and log [EXEC] lines with exit codes; --dry-run wins over RUN_MODE', async () => {
    const cwd = repo(allowAll());
    job(cwd, 'j1', { steps: [{ name: 'create', argv: ['touch', 'created.txt'] }] });
    const r = await vpm(['run'], { cwd, env: { RUN_MODE: 'exec' } });
    expect(r.exitCode, String(r.stderr)).toBe(0);
    expect(existsSync(join(cwd, 'created.txt'))).toBe(true);
    expect(runLog(cwd, 'j1')).toMatch(/\[EXEC\] touch created\.txt → exit 0\n/);
    expect(stepLog(cwd, 'j1', 1)).toMatchObject({ outcome: 'done', executed: true, exit_code: 0, mode: 'exec' });

    job(cwd, 'j2', { steps: [{ name: 'create', argv: ['touch', 'second.txt'] }] });
    expect((await vpm(['run', '--dry-run'], { cwd, env: { RUN_MODE: 'exec' } })).exitCode).toBe(0);
    expect(existsSync(join(cwd, 'second.txt'))).toBe(false);
    job(cwd, 'j3', { steps: [{ name: 'create', argv: ['touch', 'third.txt'] }] });
    expect((await vpm(['run', '--exec'], { cwd, env: { RUN_MODE: 'dry' } })).exitCode).toBe(0);
    expect(existsSync(join(cwd, 'third.txt'))).toBe(true);
    const bad = await vpm(['run'], { cwd, env: { RUN_MODE: 'yes' } });
    expect(bad.exitCode).toBe(2);
    expect(String(bad.stderr)).toMatch(/RUN_MODE/);
  });
});

describe('step environment', () => {
  it("steps get the job id and payload, not vpm's own credentials", async () => {
    const cwd = repo(allowAll());
    job(cwd, 'e1', { payload: { hello: 'world' }, steps: [{ name: 'env', argv: ['env'] }] });
    const r = await vpm(['run', '--exec'], { cwd, env: { GITHUB_TOKEN: 'not-for-steps-123456' } });
    expect(r.exitCode, String(r.stderr)).toBe(0);
    const out = stepLog(cwd, 'e1', 1).stdout_tail as string;
    expect(out).toContain('VPM_JOB_ID=e1');
    expect(out).toContain('VPM_JOB_PAYLOAD={"hello":"world"}');
    expect(out).not.toContain('GITHUB_TOKEN');
  });
});

describe('deny / fatal_error / stopped', () => {
  const steps = [
    { name: 'first', argv: ['touch', 'one.txt'] },
    { name: 'sneaky', command: "sudo -u root /bin/r''m -rf one.txt" },
    { name: 'third', argv: ['touch', 'three.txt'] },
  ];

  it('stop_on_deny=true: deny then stopped, exit 1, recorded in step logs, phase summary and run.log', async () => {
    const cwd = repo(allowAll());
    job(cwd, 'd1', { steps });
    const { result, json } = await vpmJson(['run', '--exec'], { cwd });
    expect(result.exitCode).toBe(1);
    expect(json.phase).toBe('deny');
    expect(existsSync(join(cwd, 'one.txt'))).toBe(true);
    expect(existsSync(join(cwd, 'three.txt'))).toBe(false);
    expect(stepLog(cwd, 'd1', 2)).toMatchObject({
      phase: 'deny',
      outcome: 'deny',
      decision: 'deny',
      matched_rule: 'deny_if_contains: rm',
      normalized_argv: ['rm', '-rf', 'one.txt'],
      executed: false,
    });
    expect(stepLog(cwd, 'd1', 3)).toMatchObject({ phase: 'stopped', outcome: 'stopped', stopped: true, decision: null });
    const s = phaseSummary(cwd, 'd1');
    expect(s).toMatchObject({
      current_phase: 'deny',
      denied_count: 1,
      fatal_error_count: 0,
      stopped_count: 1,
      success_count: 1,
      stop_on_deny: true,
    });
    expect(s.denied_steps).toEqual([{ step: 2, name: 'sneaky', file: 'steps/step_002.json', matched_rule: 'deny_if_contains: rm' }]);
    expect(s.stopped_steps.map((x: { step: number }) => x.step)).toEqual([3]);
    expect(s.end_reason).toMatch(/^deny: step 2/);
    expect(runLog(cwd, 'd1')).toMatch(/\[DENY\] .*deny_if_contains: rm/);
    expect(runLog(cwd, 'd1')).toMatch(/\[STOPPED\] touch three\.txt/);
  });

  it('stop_on_deny=false: the next step still runs, the run still exits 1', async () => {
    const cwd = repo(allowAll({ stop_on_deny: false }));
    job(cwd, 'd2', { steps });
    const r = await vpm(['run', '--exec'], { cwd });
    expect(r.exitCode).toBe(1);
    expect(existsSync(join(cwd, 'three.txt'))).toBe(true);
    expect(phaseSummary(cwd, 'd2')).toMatchObject({
      current_phase: 'deny',
      denied_count: 1,
      stopped_count: 0,
      success_count: 2,
      stop_on_deny: false,
    });
  });

  it('fatal_error: non-zero exit, timeout and a program that cannot start; later steps stopped', async () => {
    const cwd = repo(allowAll());
    job(cwd, 'f1', {
      steps: [
        { name: 'fails', argv: ['false'] },
        { name: 'never', argv: ['touch', 'never.txt'] },
      ],
    });
    job(cwd, 'f2', { steps: [{ name: 'slow', argv: ['sleep', '5'], timeout_s: 0.5 }] });
    job(cwd, 'f3', { steps: [{ name: 'missing', argv: ['vpm-no-such-program-xyz'] }] });
    const { result, json } = await vpmJson(['run', '--exec'], { cwd });
    expect(result.exitCode).toBe(1);
    expect(json.jobs.map((j: { phase: string }) => j.phase)).toEqual(['fatal_error', 'fatal_error', 'fatal_error']);
    expect(stepLog(cwd, 'f1', 1)).toMatchObject({ outcome: 'fatal_error', exit_code: 1, executed: true });
    expect(stepLog(cwd, 'f1', 2)).toMatchObject({ outcome: 'stopped', stopped: true });
    expect(existsSync(join(cwd, 'never.txt'))).toBe(false);
    expect(phaseSummary(cwd, 'f1')).toMatchObject({ fatal_error_count: 1, stopped_count: 1, denied_count: 0 });
    expect(stepLog(cwd, 'f2', 1)).toMatchObject({ outcome: 'fatal_error', timed_out: true });
    expect(stepLog(cwd, 'f3', 1).error).toMatch(/spawn failed/);
    expect(runLog(cwd, 'f1')).toMatch(/\[EXEC\] false → exit 1/);
  });

  it('with no execution_policy section the built-in default denies what is not allowlisted', async () => {
    const cwd = repo();
    job(cwd, 'p1', {
      steps: [
        { name: 'ls', argv: ['ls'] },
        { name: 'curl', argv: ['curl', 'http://example.invalid'] },
      ],
    });
    const r = await vpm(['run'], { cwd });
    expect(r.exitCode).toBe(1);
    expect(dryStepLog(cwd, 'p1', 1)).toMatchObject({ decision: 'allow', matched_rule: 'allowlist: ls' });
    expect(dryStepLog(cwd, 'p1', 2)).toMatchObject({ decision: 'deny', matched_rule: 'default_action: deny' });
  });
});

describe('malformed jobs', () => {
  it('bad JSON, wrong schema and path traversal end in _failed with an error file; the next job still runs', async () => {
    const cwd = repo(allowAll());
    const inbox = join(cwd, 'codex', 'inbox');
    writeFileSync(join(inbox, 'a_badjson.json'), '{"id": "x", ');
    writeFileSync(
      join(inbox, 'b_schema.json'),
      JSON.stringify({ id: 'b', kind: 'launch', created_at: 'yesterday', source: 'x', steps: [{ name: 's' }] }),
    );
    job(cwd, 'c_traversal', { kind: 'ask', job_input: { path: '../../etc/passwd' } }, 'c_traversal.json');
    job(cwd, 'd_absolute', { kind: 'apply', apply: { overlay: '/etc/k8s/x.yaml' } }, 'd_absolute.json');
    mkdirSync(join(cwd, 'infra'), { recursive: true });
    symlinkSync('/etc', join(cwd, 'infra', 'escape'));
    job(cwd, 'e_symlink', { kind: 'apply', apply: { overlay: 'infra/escape/x.yaml' } }, 'e_symlink.json');
    job(cwd, 'z_good', { steps: [{ name: 'ok', argv: ['echo', 'fine'] }] });

    // An exec run moves them (a dry run reports them and leaves them: runner-dry.test.ts).
    const { result, json } = await vpmJson(['run', '--exec'], { cwd });
    expect(result.exitCode).toBe(1); // invalid job files are an operational failure, reported
    expect(json.jobs.map((j: { job_id: string }) => j.job_id)).toEqual(['z_good']);
    expect(json.failed).toHaveLength(5);
    expect(existsSync(join(inbox, '_done', 'z_good.json'))).toBe(true);
    expect(readdirSync(inbox).filter((f) => f.endsWith('.json'))).toEqual([]);

    const err = (name: string) => readJson(join(inbox, '_failed', `${name}.error.json`));
    for (const name of ['a_badjson', 'b_schema', 'c_traversal', 'd_absolute', 'e_symlink']) {
      expect(existsSync(join(inbox, '_failed', `${name}.json`)), name).toBe(true);
    }
    expect(err('a_badjson').reason).toMatch(/^invalid JSON/);
    const schemaPaths = err('b_schema').issues.map((i: { path: string }) => i.path);
    expect(schemaPaths).toEqual(expect.arrayContaining(['kind', 'created_at', 'steps.0']));
    expect(err('c_traversal').issues).toEqual([{ path: 'job_input.path', message: 'must not contain ".." (path traversal)' }]);
    expect(err('d_absolute').issues[0].path).toBe('apply.overlay');
    expect(err('e_symlink')).toMatchObject({ reason: expect.stringMatching(/^path traversal/), issues: [{ path: 'apply.overlay' }] });
  });
});

describe('summary file', () => {
  it('writes the JSON fields and the one-line TXT', async () => {
    const cwd = repo(allowAll());
    job(cwd, 's1', {
      steps: [
        { name: 'a', argv: ['echo', 'a'] },
        { name: 'b', argv: ['echo', 'b'] },
      ],
    });
    const r = await vpm(['run', '--exec', '--summary-file', 'logs/last_run_summary.json'], { cwd });
    expect(r.exitCode).toBe(0);
    const s = readJson(join(cwd, 'logs', 'last_run_summary.json'));
    for (const key of [
      'phase',
      'step',
      'done',
      'latest_step',
      'step_count',
      'phase_summary_exists',
      'job_result_exists',
      'job_result_written',
      'job_result_path',
      'job_payload_present',
      'job_payload_size',
      'job_loop',
      'end_reason',
    ]) {
      expect(s, key).toHaveProperty(key);
    }
    expect(s).toMatchObject({
      phase: 'done',
      step: '2',
      done: true,
      latest_step: 'step_002.json',
      step_count: 2,
      phase_summary_exists: true,
      job_result_exists: false,
      job_result_path: null,
    });
    const txt = readFileSync(join(cwd, 'logs', 'last_run_summary.txt'), 'utf8');
    expect(txt.endsWith('\n')).toBe(true);
    expect(txt.trimEnd().split('\n')).toHaveLength(1);
    expect(txt).toMatch(
      /^phase=done step=2 done=true latest_step=step_002\.json step_count=2 phase_summary=exists job_result=none job_result_written=false job_payload=none job_payload_size=0 job_loop=disabled job_index=none end_reason=\S+\n$/,
    );
  });
});

describe('job loop', () => {
  it('one job per run, job_index persisted, job_loop_complete with job_result.json; payload sanitised and truncated; test-mode warnings', async () => {
    const cwd = repo({
      ...allowAll(),
      job_loop: {
        enabled: true,
        max_jobs: 2,
        job_name: 'sample',
        job_input: { path: 'workspace/job_input.json' },
        job_result: { path: 'workspace/job_result.json' },
      },
    });
    job(cwd, 'L1', { steps: [{ name: 'a', argv: ['echo', 'a'] }] });
    job(cwd, 'L2', { steps: [{ name: 'b', argv: ['echo', 'b'] }] });
    job(cwd, 'L3', { steps: [{ name: 'c', argv: ['echo', 'c'] }] });

    // The loop advances on exec runs only (a dry run's preview: runner-dry.test.ts).
    // Run 1 in test mode without job_input: warnings on stderr, exit code unchanged.
    const r1 = await vpm(['run', '--exec', '--mode', 'test'], { cwd });
    expect(r1.exitCode).toBe(0);
    expect(String(r1.stderr)).toMatch(/WARNING: job_loop enabled but not completed/);
    expect(String(r1.stderr)).toMatch(/WARNING: job_payload_present=false/);
    expect(readJson(join(cwd, 'reports', 'codex_runs', 'phase_state.json'))).toMatchObject({
      job_index: 2,
      jobs_executed: 1,
      current_phase: 'done',
    });
    expect(existsSync(join(cwd, 'codex', 'inbox', 'L2.json'))).toBe(true); // one job per run

    mkdirSync(join(cwd, 'workspace'));
    const secret = 'ghp_' + 'A'.repeat(36);
    writeFileSync(
      join(cwd, 'workspace', 'job_input.json'),
      JSON.stringify({ job_name: 'custom_job', token: secret, note: 'bell\u0007here', filler: 'x'.repeat(5000) }),
    );
    const r2 = await vpm(['run', '--exec', '--summary-file', 'out/s.json'], { cwd });
    expect(r2.exitCode).toBe(0);
    const step = stepLog(cwd, 'L2', 1);
    expect(step).toMatchObject({ job_loop_enabled: true, job_name: 'custom_job', job_index: 2 });
    expect(step.job_payload.length).toBe(2000);
    expect(step.job_payload.endsWith('...(truncated)')).toBe(true);
    expect(step.job_payload).not.toContain(secret);
    expect(step.job_payload).toContain('bellhere');
    expect(phaseSummary(cwd, 'L2').end_reason).toBe('done (job 2/2 completed)');
    const s2 = readJson(join(cwd, 'out', 's.json'));
    expect(s2).toMatchObject({
      job_payload_present: true,
      job_payload_size: 2000,
      job_loop: { enabled: true, max_jobs: 2, job_name: 'custom_job', current_job_index: 3, completed: false },
    });
    expect(readFileSync(join(cwd, 'out', 's.txt'), 'utf8')).toMatch(/job_loop=enabled job_name=custom_job job_index=3 max_jobs=2/);

    // Run 3: job_index 3 > max_jobs 2 → job_loop_complete, not an error; L3 stays queued.
    const r3 = await vpmJson(['run', '--exec', '--mode', 'test', '--summary-file', 'out/s.json'], { cwd });
    expect(r3.result.exitCode).toBe(0);
    expect(r3.json.phase).toBe('job_loop_complete');
    expect(String(r3.result.stderr)).toMatch(/WARNING: job_index \(3\) > max_jobs \(2\)/);
    expect(String(r3.result.stderr)).not.toMatch(/job_result_written=false/);
    const result = readJson(join(cwd, 'workspace', 'job_result.json'));
    expect(result).toMatchObject({
      job_name: 'custom_job',
      max_jobs: 2,
      jobs_executed: 2,
      end_reason: 'job_loop_complete: max_jobs(2) reached',
      last_phase: 'job_loop_complete',
      last_step: 1,
    });
    expect(result.timestamp).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    expect(readFileSync(join(cwd, 'out', 's.txt'), 'utf8')).toMatch(
      /^phase=job_loop_complete .*job_result=exists job_result_path=workspace\/job_result\.json job_result_written=true/,
    );
    expect(existsSync(join(cwd, 'codex', 'inbox', 'L3.json'))).toBe(true);

    // cleanrun clears the loop state and the job result: the loop starts over at 1.
    const r4 = await vpm(['run', '--exec', '--mode', 'cleanrun'], { cwd });
    expect(r4.exitCode).toBe(0);
    expect(existsSync(join(cwd, 'workspace', 'job_result.json'))).toBe(false);
    expect(readJson(join(cwd, 'reports', 'codex_runs', 'phase_state.json'))).toMatchObject({ job_index: 2, jobs_executed: 1 });
    expect(stepLog(cwd, 'L3', 1).job_index).toBe(1);
  });

  it('a required job_input that is missing is a fatal_error of the job', async () => {
    const cwd = repo({ ...allowAll(), job_loop: { enabled: true, max_jobs: 3, job_input: { path: 'in.json', required: true } } });
    job(cwd, 'R1', { steps: [{ name: 'a', argv: ['echo', 'a'] }] });
    const { result, json } = await vpmJson(['run', '--exec'], { cwd });
    expect(result.exitCode).toBe(1);
    expect(json.phase).toBe('fatal_error');
    expect(phaseSummary(cwd, 'R1').end_reason).toMatch(/job_input in\.json is required but missing/);
    expect(stepLog(cwd, 'R1', 1).outcome).toBe('stopped');
  });
});

describe('vpm ask and apply jobs', () => {
  it('writes ask and apply jobs; apply jobs run kubectl diff/apply/get through the policy', async () => {
    const cwd = repo();
    const ask = await vpmJson(['ask', '/ask please summarise the canary'], { cwd });
    expect(ask.result.exitCode).toBe(0);
    expect(ask.json).toMatchObject({ kind: 'ask', file: expect.stringMatching(/^codex\/inbox\/ask_\d{8}T\d{6}Z_\w+\.json$/) });
    expect(readJson(join(cwd, ask.json.file))).toMatchObject({ kind: 'ask', text: 'please summarise the canary', source: { type: 'cli' } });

    mkdirSync(join(cwd, 'infra', 'k8s', 'overlays', 'dev'), { recursive: true });
    writeFileSync(
      join(cwd, 'infra', 'k8s', 'overlays', 'dev', 'hello-ksvc.yaml'),
      'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: hello}\n',
    );
    const apply = await vpmJson(['ask', 'S5 apply: dev hello-ksvc', '--context', 'kind-vpm-mini'], { cwd });
    expect(apply.json).toMatchObject({ kind: 'apply', overlay: 'infra/k8s/overlays/dev/hello-ksvc.yaml', overlay_exists: true });
    expect(apply.json.id).toMatch(/^apply_hello-ksvc_dev_\d{8}T\d{6}Z_\w+$/);

    for (const bad of ['S5 apply: ../etc passwd', 'S5 apply: dev hello/../../x', 'S5 apply: dev $(rm)']) {
      const r = await vpm(['ask', bad], { cwd });
      expect(r.exitCode, bad).toBe(2);
      expect(String(r.stderr)).toMatch(/not a safe name/);
    }

    // DRY: the apply job hands over to `vpm apply` (the deploy command), checked by the policy.
    const dry = await vpm(['run'], { cwd });
    expect(dry.exitCode, String(dry.stderr)).toBe(0);
    expect(runLog(cwd, apply.json.id)).toMatch(/\[DRY\] vpm apply infra\/k8s\/overlays\/dev\/hello-ksvc\.yaml --context kind-vpm-mini\n/);
    expect(dryStepLog(cwd, apply.json.id, 1)).toMatchObject({
      decision: 'allow',
      matched_rule: 'allowlist: vpm apply',
      normalized_argv: ['vpm', 'apply', 'infra/k8s/overlays/dev/hello-ksvc.yaml', '--context', 'kind-vpm-mini'],
    });
  });

  it('apply.lane kubectl runs kubectl diff/apply/get (fake kubectl on PATH) and keeps apply.log and after.yaml', async () => {
    const cwd = repo();
    mkdirSync(join(cwd, 'infra', 'k8s', 'overlays', 'dev'), { recursive: true });
    writeFileSync(
      join(cwd, 'infra', 'k8s', 'overlays', 'dev', 'hello-ksvc.yaml'),
      'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: hello}\n',
    );
    const id = 'apply_hello-ksvc_dev_x';
    job(cwd, id, {
      kind: 'apply',
      apply: { overlay: 'infra/k8s/overlays/dev/hello-ksvc.yaml', context: 'kind-vpm-mini', lane: 'kubectl' },
    });
    // Outside the repository: PATH entries inside it are dropped for steps (issue 15, class 5).
    const bin = tempDir('vpm-fakebin-');
    writeFileSync(
      join(bin, 'kubectl'),
      '#!/bin/sh\necho "kubectl $*"\nif [ "$1" = get ]; then echo "kind: ConfigMap"; fi\nif [ "$1" = diff ]; then exit 1; fi\nexit 0\n',
    );
    chmodSync(join(bin, 'kubectl'), 0o755);
    const r = await vpmJson(['run', '--exec'], { cwd, env: { PATH: `${bin}:${process.env.PATH}` } });
    expect(r.result.exitCode, String(r.result.stderr)).toBe(0);
    const log = runLog(cwd, id);
    expect(log).toMatch(/\[EXEC\] kubectl diff -f infra\/k8s\/overlays\/dev\/hello-ksvc\.yaml --context kind-vpm-mini → exit 1/);
    expect(log).toMatch(
      /\[EXEC\] kubectl apply --server-side --field-manager=vpm -f infra\/k8s\/overlays\/dev\/hello-ksvc\.yaml --context kind-vpm-mini → exit 0/,
    );
    expect(log).toMatch(/\[EXEC\] kubectl get -f infra\/k8s\/overlays\/dev\/hello-ksvc\.yaml -o yaml --context kind-vpm-mini → exit 0/);
    expect(stepLog(cwd, id, 1)).toMatchObject({ decision: 'allow', matched_rule: 'allowlist: kubectl diff', outcome: 'done' });
    expect(readFileSync(join(runDir(cwd, id), 'after.yaml'), 'utf8')).toContain('kind: ConfigMap');
    expect(readFileSync(join(runDir(cwd, id), 'apply.log'), 'utf8')).toMatch(/kubectl apply --server-side/);
  });

  it('--issue/--comment reads the request from the GitHub API', async () => {
    const cwd = repo();
    const server = createServer((req, res) => {
      if (req.url === '/repos/acme/app/issues/comments/777') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            id: 777,
            body: '/ask S5 apply: dev hello-ksvc',
            html_url: 'https://github.com/acme/app/issues/12#issuecomment-777',
            issue_url: 'https://api.github.com/repos/acme/app/issues/12',
          }),
        );
      } else {
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end('{"message":"Not Found"}');
      }
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    try {
      const env = { GITHUB_API_URL: `http://127.0.0.1:${port}`, GITHUB_REPOSITORY: 'acme/app' };
      const ok = await vpmJson(['ask', '--issue', '12', '--comment', '777'], { cwd, env });
      expect(ok.result.exitCode, String(ok.result.stderr)).toBe(0);
      expect(ok.json).toMatchObject({
        kind: 'apply',
        source: { type: 'issue_comment', issue: 12, comment_id: 777, url: 'https://github.com/acme/app/issues/12#issuecomment-777' },
      });
      const wrong = await vpm(['ask', '--issue', '13', '--comment', '777'], { cwd, env });
      expect(wrong.exitCode).toBe(2);
      const missing = await vpm(['ask', '--comment', '1'], { cwd, env });
      expect(missing.exitCode).toBe(1);
      expect(String(missing.stderr)).toMatch(/not found on GitHub/);
    } finally {
      server.close();
    }
  });
});

describe('crash safety and concurrency', () => {
  it('a runner killed with SIGKILL mid-job resumes and never runs a done step twice', async () => {
    // The append step uses shell redirection, so it must be allowlisted verbatim (and runs via sh -c).
    const cwd = repo(allowAll({ allowlist: ['echo first >> count.txt', 'echo last >> count.txt'] }));
    job(cwd, 'k1', {
      steps: [
        { name: 'append', command: 'echo first >> count.txt' },
        { name: 'sleep', argv: ['sleep', '2'] },
        { name: 'append again', command: 'echo last >> count.txt' },
      ],
    });
    const child = execa(process.execPath, [VPM_BIN, '--cwd', cwd, 'run', '--exec'], {
      cwd,
      detached: true,
      reject: false,
      stdin: 'ignore',
    });
    const state = join(runDir(cwd, 'k1'), 'phase_state.json');
    const deadline = Date.now() + 20_000;
    for (;;) {
      const st = existsSync(state) ? JSON.parse(readFileSync(state, 'utf8')) : undefined;
      if (st?.steps?.[1]?.outcome === 'running') break;
      if (Date.now() > deadline) throw new Error('runner never reached the sleeping step');
      await new Promise((r) => setTimeout(r, 20));
    }
    process.kill(-child.pid!, 'SIGKILL'); // the whole group: runner and its sleeping step
    await child;
    expect(readFileSync(join(cwd, 'count.txt'), 'utf8')).toBe('first\n');
    expect(existsSync(join(cwd, 'codex', 'inbox', 'k1.json'))).toBe(true);

    const again = await vpm(['run', '--exec'], { cwd });
    expect(again.exitCode, String(again.stderr)).toBe(0);
    expect(readFileSync(join(cwd, 'count.txt'), 'utf8')).toBe('first\nlast\n');
    expect(runLog(cwd, 'k1')).toMatch(/\[RESUME\] job k1 at step 2/);
    expect(readJson(join(runDir(cwd, 'k1'), 'phase_state.json'))).toMatchObject({ finished: true, current_phase: 'done', attempts: 2 });
    expect(existsSync(join(cwd, 'codex', 'inbox', '_done', 'k1.json'))).toBe(true);
  });

  it('two runners on one inbox never process the same job', async () => {
    const ids = Array.from({ length: 8 }, (_, i) => `c${i}`);
    const cwd = repo(allowAll({ allowlist: ids.map((id) => `echo ${id} >> seen.txt`) }));
    for (const id of ids)
      job(cwd, id, {
        steps: [
          { name: 'mark', command: `echo ${id} >> seen.txt` },
          { name: 'hold', argv: ['sleep', '0.2'] },
        ],
      });
    const [a, b] = await Promise.all([vpmJson(['run', '--exec'], { cwd }), vpmJson(['run', '--exec'], { cwd })]);
    expect(a.result.exitCode, String(a.result.stderr)).toBe(0);
    expect(b.result.exitCode, String(b.result.stderr)).toBe(0);
    const seen = readFileSync(join(cwd, 'seen.txt'), 'utf8').trim().split('\n').sort();
    expect(seen).toEqual([...ids].sort());
    const processed = [...a.json.jobs, ...b.json.jobs].map((j: { job_id: string }) => j.job_id).sort();
    expect(processed).toEqual([...ids].sort());
    expect(readdirSync(join(cwd, 'codex', 'inbox', '_done')).sort()).toEqual(ids.map((id) => `${id}.json`).sort());
  });
});

describe('re-runs and duplicates', () => {
  it('a job that finished but was not moved (crash before the move) is moved without running again', async () => {
    const cwd = repo(allowAll({ allowlist: ['echo once >> count.txt'] }));
    job(cwd, 'm1', { steps: [{ name: 'append', command: 'echo once >> count.txt' }] });
    expect((await vpm(['run', '--exec'], { cwd })).exitCode).toBe(0);
    // Put the processed file back, as if the runner died between finishing and moving it.
    writeFileSync(join(cwd, 'codex', 'inbox', 'm1.json'), readFileSync(join(cwd, 'codex', 'inbox', '_done', 'm1.json')));
    const again = await vpmJson(['run', '--exec'], { cwd });
    expect(again.result.exitCode).toBe(0);
    expect(again.json.jobs[0]).toMatchObject({ job_id: 'm1', phase: 'done', resumed: true, moved_to: 'codex/inbox/_done/m1.1.json' });
    expect(readFileSync(join(cwd, 'count.txt'), 'utf8')).toBe('once\n');
  });

  it('a second job file with an id already used goes to _failed', async () => {
    const cwd = repo(allowAll());
    job(cwd, 'same', { steps: [{ name: 'a', argv: ['echo', 'a'] }] }, 'first.json');
    job(cwd, 'same', { steps: [{ name: 'b', argv: ['echo', 'b'] }] }, 'second.json');
    // A dry run reports the duplicate and leaves it in the inbox.
    const dry = await vpmJson(['run'], { cwd });
    expect(dry.result.exitCode).toBe(1);
    expect(dry.json.failed[0]).toMatchObject({
      file: 'second.json',
      moved_to: null,
      reason: expect.stringMatching(/^duplicate job id same/),
    });
    expect(existsSync(join(cwd, 'codex', 'inbox', 'second.json'))).toBe(true);
    const { result, json } = await vpmJson(['run', '--exec'], { cwd });
    expect(result.exitCode).toBe(1);
    expect(json.jobs.map((j: { file: string }) => j.file)).toEqual(['first.json']);
    expect(json.failed[0]).toMatchObject({ file: 'second.json', reason: expect.stringMatching(/^duplicate job id same/) });
    expect(existsSync(join(cwd, 'codex', 'inbox', '_failed', 'second.error.json'))).toBe(true);
  });

  it('a job whose steps changed during an unfinished run goes to _failed instead of resuming', async () => {
    const cwd = repo(allowAll());
    job(cwd, 'ch1', { steps: [{ name: 'a', argv: ['echo', 'a'] }] });
    mkdirSync(runDir(cwd, 'ch1'), { recursive: true });
    const now = new Date().toISOString();
    writeFileSync(
      join(runDir(cwd, 'ch1'), 'phase_state.json'),
      JSON.stringify({
        v: 1,
        job_id: 'ch1',
        job_file: 'ch1.json',
        kind: 'exec',
        mode: 'exec',
        current_phase: 'running',
        step_count: 3,
        next_step: 2,
        steps: [],
        job_index: null,
        finished: false,
        end_reason: null,
        started_at: now,
        updated_at: now,
        attempts: 1,
      }),
    );
    const { result, json } = await vpmJson(['run', '--exec'], { cwd });
    expect(result.exitCode).toBe(1);
    expect(json.failed[0].reason).toMatch(/changed since its run started/);
  });

  it('steps done in DRY are executed when the interrupted job is resumed with --exec', async () => {
    const cwd = repo(allowAll());
    job(cwd, 'x1', {
      steps: [
        { name: 'a', argv: ['touch', 'a.txt'] },
        { name: 'b', argv: ['touch', 'b.txt'] },
      ],
    });
    // A dry run that stopped after step 1: reproduce its state file.
    mkdirSync(runDir(cwd, 'x1'), { recursive: true });
    const now = new Date().toISOString();
    writeFileSync(
      join(runDir(cwd, 'x1'), 'phase_state.json'),
      JSON.stringify({
        v: 1,
        job_id: 'x1',
        job_file: 'x1.json',
        kind: 'exec',
        mode: 'dry',
        current_phase: 'running',
        step_count: 2,
        next_step: 2,
        steps: [
          { step: 1, name: 'a', outcome: 'done', mode: 'dry' },
          { step: 2, name: 'b', outcome: 'pending', mode: 'dry' },
        ],
        job_index: null,
        finished: false,
        end_reason: null,
        started_at: now,
        updated_at: now,
        attempts: 1,
      }),
    );
    expect((await vpm(['run', '--exec'], { cwd })).exitCode).toBe(0);
    expect(existsSync(join(cwd, 'a.txt'))).toBe(true);
    expect(existsSync(join(cwd, 'b.txt'))).toBe(true);
  });

  it('a second runner is refused (exit 3) while the job loop is being advanced', async () => {
    const cwd = repo({ ...allowAll(), job_loop: { enabled: true, max_jobs: 5 } });
    job(cwd, 'w1', { steps: [{ name: 'hold', argv: ['sleep', '4'] }] });
    job(cwd, 'w2', { steps: [{ name: 'a', argv: ['echo', 'a'] }] });
    const first = vpm(['run', '--exec'], { cwd });
    const state = join(runDir(cwd, 'w1'), 'phase_state.json');
    const deadline = Date.now() + 20_000;
    while (!(existsSync(state) && JSON.parse(readFileSync(state, 'utf8')).steps[0].outcome === 'running')) {
      if (Date.now() > deadline) throw new Error('first runner never started its step');
      await new Promise((r) => setTimeout(r, 20));
    }
    const second = await vpm(['run', '--exec'], { cwd });
    expect(second.exitCode).toBe(3);
    expect(String(second.stderr)).toMatch(/another vpm run is advancing the job loop/);
    expect((await first).exitCode).toBe(0);
    expect(existsSync(join(cwd, 'codex', 'inbox', 'w2.json'))).toBe(true);
  });
});

describe('--json', () => {
  it('prints exactly one JSON document, also with an empty inbox', async () => {
    const cwd = repo();
    const r = await vpmJson(['run'], { cwd });
    expect(r.result.exitCode).toBe(0);
    expect(r.json).toMatchObject({ phase: 'idle', end_reason: 'no jobs in inbox', jobs: [], failed: [] });
  });
});
