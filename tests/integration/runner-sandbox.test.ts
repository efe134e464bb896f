/**
 * Issue 15: what an allowed step can touch (bubblewrap), how long it can live (process-group and
 * namespace kill at the timeout), and the checkpoint that undoes an exec run. Real vpm, real bwrap,
 * real git, real processes.
 */
import { describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { tempDir, vpm, vpmJson } from '../helpers/cli.js';

const readJson = (p: string) => JSON.parse(readFileSync(p, 'utf8'));
const stepLog = (cwd: string, id: string, n: number) =>
  readJson(join(cwd, 'reports', 'codex_runs', id, 'steps', `step_${String(n).padStart(3, '0')}.json`));

async function gitRepo(config: unknown): Promise<string> {
  const cwd = tempDir('vpm-sandbox-');
  await execa('git', ['init', '-q', '-b', 'main'], { cwd });
  await execa('git', ['config', 'user.email', 't@example.com'], { cwd });
  await execa('git', ['config', 'user.name', 'test'], { cwd });
  writeFileSync(join(cwd, '.gitignore'), 'reports/\nlogs/\ncodex/\nvpm.config.json\n');
  writeFileSync(join(cwd, 'a.txt'), 'a\n');
  writeFileSync(join(cwd, 'b.txt'), 'b\n');
  await execa('git', ['add', '-A'], { cwd });
  await execa('git', ['commit', '-qm', 'base'], { cwd });
  mkdirSync(join(cwd, 'codex', 'inbox'), { recursive: true });
  writeFileSync(join(cwd, 'vpm.config.json'), JSON.stringify(config));
  return cwd;
}

let seq = 0;
function job(cwd: string, id: string, steps: Array<Record<string, unknown>>): void {
  const created = new Date(Date.UTC(2026, 0, 1, 0, 0, seq++)).toISOString();
  writeFileSync(
    join(cwd, 'codex', 'inbox', `${id}.json`),
    JSON.stringify({ id, kind: 'exec', created_at: created, source: 'test', steps }),
  );
}

const policy = (allowlist: string[], extra: Record<string, unknown> = {}) => ({
  execution_policy: { default_action: 'deny', allowlist, ...extra },
  runner: { kill_grace_s: 1 },
});

describe('sandbox: what an allowed step can touch', () => {
  it('a verbatim-allowlisted sh -c cannot write outside the repository (/tmp is private, / is read-only)', async () => {
    const marker = `/tmp/vpm-sbx-${process.pid}-${Date.now()}`;
    const script = `touch ${marker} && echo tmp-private; touch /var/tmp/vpm-sbx-x 2>/dev/null || echo root-readonly; touch inside.txt`;
    const cwd = await gitRepo(policy([script]));
    job(cwd, 's1', [{ name: 'escape', argv: ['sh', '-c', script] }]);
    const { result } = await vpmJson(['run', '--exec'], { cwd });
    expect(result.exitCode, String(result.stderr)).toBe(0);
    const s = stepLog(cwd, 's1', 1);
    expect(s).toMatchObject({ decision: 'allow', executed: true, sandbox: 'bwrap', network: false });
    expect(s.stdout_tail).toContain('root-readonly');
    expect(existsSync(marker)).toBe(false);
    expect(existsSync('/var/tmp/vpm-sbx-x')).toBe(false);
    expect(existsSync(join(cwd, 'inside.txt'))).toBe(true); // the repository is writable
  });

  it('cannot open a TCP connection to 127.0.0.1 without network: true, and can with it', async () => {
    let connections = 0;
    const server = createServer((sock) => {
      connections++;
      sock.end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    try {
      const script = `echo hi > /dev/tcp/127.0.0.1/${port}`;
      const cwd = await gitRepo(policy([script]));
      job(cwd, 'n1', [{ name: 'no network', argv: ['bash', '-c', script] }]);
      const first = await vpmJson(['run', '--exec'], { cwd });
      expect(first.result.exitCode).toBe(1);
      expect(stepLog(cwd, 'n1', 1)).toMatchObject({ executed: true, outcome: 'fatal_error', network: false });
      expect(connections).toBe(0);
      job(cwd, 'n2', [{ name: 'with network', argv: ['bash', '-c', script], network: true }]);
      const second = await vpmJson(['run', '--exec'], { cwd });
      expect(second.result.exitCode, String(second.result.stderr)).toBe(0);
      expect(stepLog(cwd, 'n2', 1)).toMatchObject({ outcome: 'done', network: true });
      expect(connections).toBe(1);
    } finally {
      server.close();
    }
  });

  it('sees a fixed environment: neither the invoking HOME nor GITHUB_TOKEN / VPM_LLM_API_KEY', async () => {
    const home = homedir();
    const secret = `.vpm-sandbox-secret-${process.pid}`;
    writeFileSync(join(home, secret), 'secret\n');
    try {
      const script = `env; echo HOME-LISTING; ls -A ${home}; cat ${home}/${secret} || echo unreadable`;
      const cwd = await gitRepo(policy([script]));
      job(cwd, 'e1', [{ name: 'env', argv: ['sh', '-c', script] }]);
      const { result } = await vpmJson(['run', '--exec'], {
        cwd,
        env: { GITHUB_TOKEN: 'ghp_sandboxtest0123456789', VPM_LLM_API_KEY: 'sk-sandboxtest0123456789', HOME: home },
      });
      expect(result.exitCode, String(result.stderr)).toBe(0);
      const out: string = stepLog(cwd, 'e1', 1).stdout_tail;
      expect(out).not.toContain('GITHUB_TOKEN');
      expect(out).not.toContain('VPM_LLM_API_KEY');
      expect(out).not.toContain('sandboxtest');
      expect(out).toMatch(/^HOME=\/tmp\/vpm-home$/m);
      // The invoking user's HOME is a tmpfs inside: only the mount points of tools on PATH show.
      const listing = out.split('HOME-LISTING')[1];
      expect(listing).not.toContain(secret);
      expect(listing).toContain('unreadable');
    } finally {
      rmSync(join(home, secret), { force: true });
    }
  });

  it('refuses exec with exit 3 and a hint when bubblewrap is missing; --no-sandbox is recorded', async () => {
    const cwd = await gitRepo(policy(['true']));
    job(cwd, 'm1', [{ name: 'true', argv: ['true'] }]);
    const missing = await vpm(['run', '--exec'], { cwd, env: { VPM_BWRAP: '/nonexistent/bwrap' } });
    expect(missing.exitCode).toBe(3);
    expect(String(missing.stderr)).toMatch(/bubblewrap/);
    expect(String(missing.stderr)).toMatch(/apt-get install bubblewrap/);
    expect(existsSync(join(cwd, 'codex', 'inbox', 'm1.json'))).toBe(true); // nothing ran
    const unsandboxed = await vpmJson(['run', '--exec', '--no-sandbox'], { cwd });
    expect(unsandboxed.result.exitCode, String(unsandboxed.result.stderr)).toBe(0);
    expect(stepLog(cwd, 'm1', 1)).toMatchObject({ sandbox: 'none', unsandboxed_because: '--no-sandbox' });
    expect(readJson(join(cwd, 'reports', 'codex_runs', 'm1', 'phase_summary.json')).sandbox).toEqual({
      mode: 'none',
      unsandboxed_because: '--no-sandbox',
    });
  });

  it('runner.sandbox: none without --no-sandbox refuses (exit 3)', async () => {
    const cwd = await gitRepo({ ...policy(['true']), runner: { sandbox: 'none' } });
    job(cwd, 'c1', [{ name: 'true', argv: ['true'] }]);
    const r = await vpm(['run', '--exec'], { cwd });
    expect(r.exitCode).toBe(3);
    expect(String(r.stderr)).toMatch(/--no-sandbox/);
  });
});

/** Processes whose command line contains `needle` (scanning /proc). */
function alive(needle: string): string[] {
  const found: string[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const cmd = readFileSync(`/proc/${e}/cmdline`, 'utf8').split('\0').join(' ');
      if (cmd.includes(needle)) found.push(`${e}: ${cmd}`);
    } catch {
      // gone
    }
  }
  return found;
}

describe('timeouts bound the whole step', () => {
  for (const sandboxed of [true, false]) {
    it(`${sandboxed ? 'sandboxed' : '--no-sandbox'}: a child holding stdout, setsid -f and nohup … & all end within timeout + grace + 1 s`, async () => {
      const tag = `${60 + (process.pid % 1000) / 1000}${sandboxed ? 1 : 2}`;
      const scripts = [
        `(sleep ${tag}) & sleep ${tag}`,
        `setsid -f sleep ${tag}; sleep ${tag}`,
        `nohup sleep ${tag} >/dev/null 2>&1 & sleep ${tag}`,
      ];
      const cwd = await gitRepo(policy(scripts));
      scripts.forEach((s, i) => job(cwd, `t${i}`, [{ name: `t${i}`, argv: ['sh', '-c', s], timeout_s: 1 }]));
      const started = Date.now();
      const r = await vpmJson(['run', '--exec', ...(sandboxed ? [] : ['--no-sandbox'])], { cwd, timeoutMs: 60_000 });
      expect(r.result.exitCode).toBe(1);
      for (let i = 0; i < 3; i++) {
        const s = stepLog(cwd, `t${i}`, 1);
        expect(s, scripts[i]).toMatchObject({ timed_out: true, exit_code: null, outcome: 'fatal_error' });
        expect(['SIGTERM', 'SIGKILL']).toContain(s.signal);
        expect(s.duration_ms, scripts[i]).toBeLessThanOrEqual((1 + 1 + 1) * 1000);
      }
      expect(Date.now() - started).toBeLessThan(3 * 3000 + 5000);
      expect(alive(`sleep ${tag}`)).toEqual([]);
    }, 60_000);
  }
});

describe('checkpoint before exec', () => {
  it('a run leaves a checkpoint and no new commit; its undo restores files, HEAD and the earlier uncommitted edit', async () => {
    const cwd = await gitRepo(policy(['git status', 'git rm', 'git add', 'git commit', 'echo new > c.txt']));
    writeFileSync(join(cwd, 'a.txt'), 'a edited, not committed\n');
    const head = (await execa('git', ['rev-parse', 'HEAD'], { cwd })).stdout;

    job(cwd, 'k1', [{ name: 'status', argv: ['git', 'status', '--short'] }]);
    const first = await vpmJson(['run', '--exec'], { cwd });
    expect(first.result.exitCode, String(first.result.stderr)).toBe(0);
    expect((await execa('git', ['rev-parse', 'HEAD'], { cwd })).stdout).toBe(head);
    expect((await execa('git', ['status', '--short'], { cwd })).stdout).toBe(' M a.txt');
    const summary = readJson(join(cwd, 'reports', 'codex_runs', 'k1', 'phase_summary.json'));
    expect(summary.checkpoint).toMatchObject({ ref: 'refs/vpm/checkpoints/run_k1', head, undo_command: 'vpm run undo k1' });
    expect(String(first.result.stderr)).toContain('vpm run undo k1');

    job(cwd, 'k2', [
      { name: 'delete tracked', argv: ['git', 'rm', '-q', 'b.txt'] },
      { name: 'create', command: 'echo new > c.txt' },
      { name: 'stage', argv: ['git', 'add', 'c.txt'] },
      { name: 'commit', argv: ['git', 'commit', '-qm', 'made by the run'] },
    ]);
    const second = await vpmJson(['run', '--exec', '--summary-file', 'summary.json'], { cwd });
    expect(second.result.exitCode, String(second.result.stderr)).toBe(0);
    expect((await execa('git', ['rev-parse', 'HEAD'], { cwd })).stdout).not.toBe(head);
    expect(existsSync(join(cwd, 'b.txt'))).toBe(false);
    const runCommit = (await execa('git', ['rev-parse', 'HEAD'], { cwd })).stdout;
    expect(readJson(join(cwd, 'summary.json')).checkpoint).toMatchObject({ ref: 'refs/vpm/checkpoints/run_k2' });

    // The printed undo command, as a user runs it.
    const undo = await vpmJson(['run', 'undo', 'k2'], { cwd });
    expect(undo.result.exitCode, String(undo.result.stderr)).toBe(0);
    const undone = undo.json as { saved_ref: string };
    expect((await execa('git', ['rev-parse', 'HEAD'], { cwd })).stdout).toBe(head);
    expect((await execa('git', ['symbolic-ref', 'HEAD'], { cwd })).stdout).toBe('refs/heads/main');
    expect(readFileSync(join(cwd, 'b.txt'), 'utf8')).toBe('b\n');
    expect(existsSync(join(cwd, 'c.txt'))).toBe(false);
    expect(readFileSync(join(cwd, 'a.txt'), 'utf8')).toBe('a edited, not committed\n');
    expect((await execa('git', ['status', '--short'], { cwd })).stdout).toBe(' M a.txt');
    // The run's commit stays reachable.
    expect((await execa('git', ['rev-parse', undone.saved_ref], { cwd })).stdout).toBe(runCommit);
    // vpm's own record of the run survives the undo.
    expect(existsSync(join(cwd, 'reports', 'codex_runs', 'k2', 'phase_summary.json'))).toBe(true);
  });

  it('--no-checkpoint is recorded and takes none', async () => {
    const cwd = await gitRepo(policy(['true']));
    job(cwd, 'n1', [{ name: 'true', argv: ['true'] }]);
    const r = await vpmJson(['run', '--exec', '--no-checkpoint'], { cwd });
    expect(r.result.exitCode, String(r.result.stderr)).toBe(0);
    expect(readJson(join(cwd, 'reports', 'codex_runs', 'n1', 'phase_summary.json')).checkpoint).toEqual({ skipped: '--no-checkpoint' });
    expect((await execa('git', ['for-each-ref', 'refs/vpm/checkpoints/'], { cwd })).stdout).toBe('');
  });
});
