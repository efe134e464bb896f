/**
 * Issue 15 acceptance: every bypass attempt of tests/fixtures/policy-bypass/issue15.json runs
 * through `vpm run --exec` (bubblewrap sandbox, the real policy) as a job of its own, under the
 * deny-list policy the issue attacked and under the built-in policy. Each attempt is written to
 * create a marker file: none may appear outside the repository, and a denied attempt must leave
 * none inside it either (a denied program never runs). Also: run.log cannot be forged, and the
 * class 8 jobs (secrets that broke masking) run.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { tempDir, vpmJson } from '../helpers/cli.js';

interface Attempt {
  class: number;
  name: string;
  policies: Array<'deny_list' | 'builtin'>;
  argv?: string[];
  command?: string;
  timeout_s?: number;
  step_name?: string;
}
const corpus = JSON.parse(readFileSync(new URL('../fixtures/policy-bypass/issue15.json', import.meta.url), 'utf8')) as {
  policies: { deny_list: Record<string, unknown> };
  attempts: Attempt[];
  must_run: Attempt[];
};

const readJson = (p: string) => JSON.parse(readFileSync(p, 'utf8'));

/** A git repository planted with the files the attempts use (configs that run programs, look-alike scripts). */
async function plantedRepo(out: string): Promise<string> {
  const cwd = tempDir('vpm-bypass-');
  await execa('git', ['init', '-q', '-b', 'main'], { cwd });
  await execa('git', ['config', 'user.email', 't@example.com'], { cwd });
  await execa('git', ['config', 'user.name', 'test'], { cwd });
  writeFileSync(join(cwd, 'README.md'), '# x\n');
  writeFileSync(join(cwd, '.gitignore'), 'markers/\n');
  // HOME=. / XDG_CONFIG_HOME=cfg attempts: configs whose fsmonitor runs a program.
  writeFileSync(join(cwd, '.gitconfig'), `[core]\n\tfsmonitor = "touch ${out}/home-gitconfig"\n`);
  mkdirSync(join(cwd, 'cfg', 'git'), { recursive: true });
  writeFileSync(join(cwd, 'cfg', 'git', 'config'), `[core]\n\tfsmonitor = "touch ${out}/xdg-gitconfig"\n`);
  // kubectl --kubeconfig: a user whose exec credential plugin writes a marker.
  writeFileSync(
    join(cwd, 'k.yaml'),
    `apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]\ncontexts: [{name: c, context: {cluster: c, user: u}}]\ncurrent-context: c\nusers: [{name: u, user: {exec: {apiVersion: client.authentication.k8s.io/v1beta1, command: touch, args: ["${out}/kubeconfig-exec"], interactiveMode: Never}}}]\n`,
  );
  writeFileSync(join(cwd, 'x.js'), `require('fs').writeFileSync(${JSON.stringify(`${out}/x-js`)}, '')\n`);
  writeFileSync(join(cwd, 'x.sh'), `touch ${out}/x-sh\n`);
  writeFileSync(join(cwd, 'list.txt'), `${out}/xargs-list\n`);
  writeFileSync(join(cwd, 'cmd.txt'), 'touch\n');
  writeFileSync(join(cwd, 'lock'), '');
  // Look-alike programs committed to the repository.
  mkdirSync(join(cwd, 'tools'));
  mkdirSync(join(cwd, 'bin'));
  for (const name of ['echo', 'ls', 'true', 'git']) {
    writeFileSync(join(cwd, 'tools', name), `#!/bin/sh\ntouch ${out}/tools-${name}\ntouch markers/tools-${name}\n`);
    chmodSync(join(cwd, 'tools', name), 0o755);
  }
  symlinkSync('../tools/echo', join(cwd, 'bin', 'echo'));
  await execa('git', ['add', '-A'], { cwd });
  await execa('git', ['commit', '-qm', 'planted'], { cwd });
  mkdirSync(join(cwd, 'codex', 'inbox'), { recursive: true });
  mkdirSync(join(cwd, 'markers'));
  return cwd;
}

function substitute(s: string, tag: string, out: string, cwd: string): string {
  return s.replaceAll('@OUT@', `${out}/${tag}`).replaceAll('@IN@', `markers/${tag}`).replaceAll('@REPO@', cwd);
}

let seq = 0;
function writeJob(cwd: string, id: string, steps: Array<Record<string, unknown>>): void {
  const created = new Date(Date.UTC(2026, 0, 1, 0, 0, 0, seq++)).toISOString();
  writeFileSync(
    join(cwd, 'codex', 'inbox', `${id}.json`),
    JSON.stringify({ id, kind: 'exec', created_at: created, source: 'test', steps }),
  );
}

interface Outcome {
  attempt: Attempt;
  tag: string;
  decision: string;
  rule: string;
  executed: boolean;
}

async function runCorpus(
  policy: 'deny_list' | 'builtin',
): Promise<{ cwd: string; out: string; outcomes: Outcome[]; stderr: string; mustRun: Array<{ id: string; phase: string }> }> {
  const out = tempDir('vpm-bypass-out-');
  const cwd = await plantedRepo(out);
  if (policy === 'deny_list') writeFileSync(join(cwd, 'vpm.config.json'), JSON.stringify({ execution_policy: corpus.policies.deny_list }));
  const jobs: Array<{ id: string; attempt: Attempt; tag: string }> = [];
  corpus.attempts.forEach((a, i) => {
    if (!a.policies.includes(policy)) return;
    const tag = `a${String(i).padStart(3, '0')}`;
    const step: Record<string, unknown> = { name: (a.step_name ?? a.name).slice(0, 200) };
    if (a.argv) step.argv = a.argv.map((w) => substitute(w, tag, out, cwd));
    else step.command = substitute(a.command!, tag, out, cwd);
    if (a.timeout_s) step.timeout_s = a.timeout_s;
    jobs.push({ id: `${tag}-${policy}`, attempt: a, tag });
    writeJob(cwd, `${tag}-${policy}`, [step]);
  });
  const mustRunIds: string[] = [];
  if (policy === 'builtin') {
    corpus.must_run.forEach((a, i) => {
      const id = `m${i}`;
      mustRunIds.push(id);
      writeJob(cwd, id, [{ name: a.name, argv: a.argv }]);
    });
    // A PEM block across steps is stored with every step.
    mustRunIds.push('pem');
    writeJob(cwd, 'pem', [
      { name: 'pem 1', argv: ['echo', '-----BEGIN RSA PRIVATE KEY-----'] },
      { name: 'pem 2', argv: ['echo', 'MIIEowIBAAKCAQEAtestkeymaterial'] },
      { name: 'pem 3', argv: ['echo', '-----END RSA PRIVATE KEY-----'] },
    ]);
    mustRunIds.push('after');
    writeJob(cwd, 'after', [{ name: 'the job after', argv: ['true'] }]);
  }
  const { result, json } = await vpmJson(['run', '--exec'], { cwd, timeoutMs: 600_000 });
  expect([0, 1], String(result.stderr).slice(-2000)).toContain(result.exitCode);
  // Late writers (class 6 sleep 2 s before writing): give them the time to try.
  await new Promise((r) => setTimeout(r, 3000));
  const outcomes = jobs.map(({ id, attempt, tag }) => {
    const step = readJson(join(cwd, 'reports', 'codex_runs', id, 'steps', 'step_001.json'));
    return { attempt, tag, decision: step.decision, rule: step.matched_rule, executed: step.executed === true };
  });
  const mustRun = mustRunIds.map((id) => ({
    id,
    phase: (json.jobs as Array<{ job_id: string; phase: string }>).find((j) => j.job_id === id)?.phase ?? 'missing',
  }));
  return { cwd, out, outcomes, stderr: String(result.stderr), mustRun };
}

describe('issue 15 bypass corpus through vpm run --exec (sandboxed)', () => {
  it('holds at least 150 attempts across the eight classes', () => {
    expect(corpus.attempts.length).toBeGreaterThanOrEqual(150);
    const classes = new Set([...corpus.attempts, ...corpus.must_run].map((a) => a.class));
    expect([...classes].sort()).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });

  for (const policy of ['deny_list', 'builtin'] as const) {
    describe(`${policy} policy`, () => {
      let r: Awaited<ReturnType<typeof runCorpus>>;
      beforeAll(async () => {
        r = await runCorpus(policy);
      }, 600_000);

      it('leaves no marker outside the repository', () => {
        expect(readdirSync(r.out)).toEqual([]);
      });

      it('never runs a denied attempt (no marker inside the repository, step not executed)', () => {
        const denied = r.outcomes.filter((o) => o.decision === 'deny');
        for (const o of denied) {
          expect(o.executed, `${o.attempt.name}`).toBe(false);
          expect(existsSync(join(r.cwd, 'markers', o.tag)), `${o.attempt.name} left markers/${o.tag}`).toBe(false);
        }
        // The look-alike scripts never ran under a policy that denied them.
        if (policy === 'builtin') expect(readdirSync(join(r.cwd, 'markers'))).toEqual([]);
        const allowed = r.outcomes.filter((o) => o.decision !== 'deny').map((o) => `${o.attempt.class}: ${o.attempt.name} (${o.rule})`);
        // Deny-by-default allows none of them; the deny list lets through only programs it does not name
        // (bounded by the sandbox: no marker outside, checked above).
        if (policy === 'builtin') expect(allowed).toEqual([]);
        else expect(allowed.length).toBeLessThanOrEqual(10);
        console.log(
          `[corpus ${policy}] ${r.outcomes.length} attempts: ${denied.length} denied, ${allowed.length} allowed and sandboxed${allowed.length ? `: ${allowed.join('; ')}` : ''}`,
        );
      });

      it('keeps run.log one event per line: forged [EXEC] lines stay inside their escaped word', () => {
        for (const o of r.outcomes.filter((x) => x.attempt.class === 7)) {
          const id = `${o.tag}-${policy}`;
          const log = readFileSync(join(r.cwd, 'reports', 'codex_runs', id, 'run.log'), 'utf8');
          const lines = log.split('\n').filter(Boolean);
          for (const line of lines)
            expect(line, o.attempt.name).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z \[(START|DENY|EXEC|END|CHECKPOINT|STOPPED|FATAL|RESUME)\]/);
          expect(log).not.toMatch(/\n2026-01-01T00:00:00\.000Z \[EXEC\]/);
          expect(log).not.toMatch(/[\u2028\u2029\u0085\u001b\u202e\u000b\r]/);
        }
        expect(r.stderr).not.toMatch(/(^|\n)2026-01-01T00:00:00\.000Z \[EXEC\]/);
      });

      if (policy === 'builtin') {
        it('runs the class 8 jobs and the job after them; a PEM block across steps is stored with every step', () => {
          expect(r.mustRun).toEqual(r.mustRun.map((m) => ({ id: m.id, phase: 'done' })));
          const stored = readJson(join(r.cwd, 'reports', 'codex_runs', 'pem', 'job.json'));
          expect(stored.steps).toHaveLength(3);
          const m0 = readJson(join(r.cwd, 'reports', 'codex_runs', 'm0', 'steps', 'step_001.json'));
          expect(m0).toMatchObject({ outcome: 'done', exit_code: 0 });
        });
      }
    });
  }
});
