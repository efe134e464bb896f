/**
 * Issue 16, through the built CLI in fresh temp repos: writes never follow a symbolic link out of
 * the repository (exit 3, the outside file untouched), nothing the user wrote is silently lost,
 * and environment failures are reported as such — never as a bug in vpm.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, symlinkSync, utimesSync, writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir, vpm } from '../helpers/cli.js';

const STATE_DOC =
  '---\nphase: S1\nupdated_at: "2026-01-01T00:00:00.000Z"\n---\n\n# Current state\n\n## C\n\nnow\n\n## G\n\n- G-1: one\n\n## δ\n\nnext\n';
const today = () => new Date().toISOString().slice(0, 10);

/** A file outside the repository with an old mtime, and a check that it is byte- and mtime-identical. */
function outsideFile(content = 'outside\n'): { path: string; unchanged: () => void } {
  const dir = tempDir('vpm-outside-');
  const path = join(dir, 'target');
  writeFileSync(path, content);
  const old = new Date('2020-01-01T00:00:00Z');
  utimesSync(path, old, old);
  const dirMtime = statSync(dir).mtimeMs;
  return {
    path,
    unchanged: () => {
      expect(readFileSync(path, 'utf8')).toBe(content);
      expect(statSync(path).mtimeMs).toBe(old.getTime());
      expect(readdirSync(dir)).toEqual(['target']);
      expect(statSync(dir).mtimeMs).toBe(dirMtime);
    },
  };
}

function outsideDir(): { path: string; unchanged: () => void } {
  const path = tempDir('vpm-outside-dir-');
  writeFileSync(join(path, 'keep'), 'keep\n');
  const mtime = statSync(path).mtimeMs;
  return {
    path,
    unchanged: () => {
      expect(readdirSync(path)).toEqual(['keep']);
      expect(statSync(path).mtimeMs).toBe(mtime);
    },
  };
}

describe('symlink-safe writes', () => {
  it('memory.json linked outside: summary refuses with exit 3 and the outside file is untouched', async () => {
    const cwd = tempDir();
    expect((await vpm(['chat', 'append', '--text', 'we decided to ship'], { cwd })).exitCode).toBe(0);
    const out = outsideFile('{"version":1,"cursor":null,"entries":[]}\n');
    symlinkSync(out.path, join(cwd, 'memory.json'));
    const r = await vpm(['summary'], { cwd });
    expect(r.exitCode, String(r.stderr)).toBe(3);
    expect(String(r.stderr)).toMatch(/memory\.json.*symbolic link/);
    expect(String(r.stderr)).not.toMatch(/bug/);
    out.unchanged();
  });

  it('STATE/current_state.md linked outside: state patch refuses with exit 3', async () => {
    const cwd = tempDir();
    mkdirSync(join(cwd, 'STATE'));
    const out = outsideFile(STATE_DOC);
    symlinkSync(out.path, join(cwd, 'STATE', 'current_state.md'));
    writeFileSync(join(cwd, 'p.json'), JSON.stringify([{ op: 'replace', path: '/phase', value: 'S2' }]));
    const r = await vpm(['state', 'patch', 'p.json', '--yes'], { cwd });
    expect(r.exitCode, String(r.stderr)).toBe(3);
    expect(String(r.stderr)).toMatch(/STATE\/current_state\.md.*symbolic link/);
    out.unchanged();
  });

  it('STATE/ directory linked outside: state patch refuses with exit 3', async () => {
    const cwd = tempDir();
    const out = outsideDir();
    writeFileSync(join(out.path, 'current_state.md'), STATE_DOC);
    const before = readFileSync(join(out.path, 'current_state.md'), 'utf8');
    symlinkSync(out.path, join(cwd, 'STATE'));
    writeFileSync(join(cwd, 'p.json'), JSON.stringify([{ op: 'replace', path: '/phase', value: 'S2' }]));
    const r = await vpm(['state', 'patch', 'p.json', '--yes'], { cwd });
    expect(r.exitCode, String(r.stderr)).toBe(3);
    expect(String(r.stderr)).toMatch(/outside the repository/);
    expect(readFileSync(join(out.path, 'current_state.md'), 'utf8')).toBe(before);
  });

  it('logs/ linked outside: chat append refuses with exit 3 and writes nothing there', async () => {
    const cwd = tempDir();
    const out = outsideDir();
    symlinkSync(out.path, join(cwd, 'logs'));
    const r = await vpm(['chat', 'append', '--text', 'hello'], { cwd });
    expect(r.exitCode, String(r.stderr)).toBe(3);
    expect(String(r.stderr)).toMatch(/logs.*outside the repository/);
    out.unchanged();
  });

  it("today's chat file linked outside: chat append refuses with exit 3", async () => {
    const cwd = tempDir();
    mkdirSync(join(cwd, 'logs'));
    const out = outsideFile();
    symlinkSync(out.path, join(cwd, 'logs', `${today()}.jsonl`));
    const r = await vpm(['chat', 'append', '--text', 'hello'], { cwd });
    expect(r.exitCode, String(r.stderr)).toBe(3);
    out.unchanged();
  });

  it('.ops/ linked outside: freeze on refuses with exit 3', async () => {
    const cwd = tempDir();
    const out = outsideDir();
    symlinkSync(out.path, join(cwd, '.ops'));
    const r = await vpm(['freeze', 'on', '--reason', 'release'], { cwd });
    expect(r.exitCode, String(r.stderr)).toBe(3);
    expect(String(r.stderr)).toMatch(/\.ops.*outside the repository/);
    out.unchanged();
  });

  function runnerRepo(): string {
    const cwd = tempDir('vpm-runner-');
    mkdirSync(join(cwd, 'codex', 'inbox'), { recursive: true });
    writeFileSync(join(cwd, 'vpm.config.json'), JSON.stringify({ execution_policy: { default_action: 'allow' } }));
    writeFileSync(
      join(cwd, 'codex', 'inbox', 'j1.json'),
      JSON.stringify({
        id: 'j1',
        kind: 'exec',
        created_at: '2026-01-01T00:00:00.000Z',
        source: 'test',
        steps: [{ name: 'a', argv: ['echo', 'a'] }],
      }),
    );
    return cwd;
  }

  it('an existing reports/codex_runs/<id>/ linked outside: run refuses with exit 3', async () => {
    const cwd = runnerRepo();
    const out = outsideDir();
    mkdirSync(join(cwd, 'reports', 'codex_runs'), { recursive: true });
    symlinkSync(out.path, join(cwd, 'reports', 'codex_runs', 'j1'));
    const r = await vpm(['run'], { cwd });
    expect(r.exitCode, String(r.stderr)).toBe(3);
    out.unchanged();
  });

  it('reports/codex_runs/<id>/run.log linked outside: run refuses with exit 3', async () => {
    const cwd = runnerRepo();
    const out = outsideFile();
    mkdirSync(join(cwd, 'reports', 'codex_runs', 'j1'), { recursive: true });
    symlinkSync(out.path, join(cwd, 'reports', 'codex_runs', 'j1', 'run.log'));
    const r = await vpm(['run'], { cwd });
    expect(r.exitCode, String(r.stderr)).toBe(3);
    expect(String(r.stderr)).toMatch(/run\.log.*symbolic link/);
    out.unchanged();
  });

  it('a link that stays inside the repository is followed as before', async () => {
    const cwd = tempDir();
    mkdirSync(join(cwd, 'real-logs'));
    symlinkSync(join(cwd, 'real-logs'), join(cwd, 'logs'));
    const r = await vpm(['chat', 'append', '--text', 'hello'], { cwd });
    expect(r.exitCode, String(r.stderr)).toBe(0);
    expect(readFileSync(join(cwd, 'real-logs', `${today()}.jsonl`), 'utf8')).toContain('hello');
  });
});

describe('nothing silently lost', () => {
  it('a valid last chat line without a newline survives the next append; a torn fragment is cut', async () => {
    const cwd = tempDir();
    expect((await vpm(['chat', 'append', '--text', 'first'], { cwd })).exitCode).toBe(0);
    const file = join(cwd, 'logs', `${today()}.jsonl`);
    const first = readFileSync(file, 'utf8');
    const handWritten = JSON.stringify({ ...JSON.parse(first), id: 'chat_hand', text: 'added by hand' });
    writeFileSync(file, `${first}${handWritten}`); // no trailing newline
    expect((await vpm(['chat', 'append', '--text', 'second'], { cwd })).exitCode).toBe(0);
    const lines = readFileSync(file, 'utf8')
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.map((l) => l.text)).toEqual(['first', 'added by hand', 'second']);

    writeFileSync(file, `${readFileSync(file, 'utf8')}{"v":1,"id":"torn`);
    expect((await vpm(['chat', 'append', '--text', 'third'], { cwd })).exitCode).toBe(0);
    const after = readFileSync(file, 'utf8');
    expect(after).not.toContain('torn');
    expect(
      after
        .trimEnd()
        .split('\n')
        .map((l) => JSON.parse(l).text),
    ).toEqual(['first', 'added by hand', 'second', 'third']);
  });

  it('memory.json keeps unknown fields (top-level and per entry) across a summary', async () => {
    const cwd = tempDir();
    expect((await vpm(['chat', 'append', '--text', 'we decided to use postgres'], { cwd })).exitCode).toBe(0);
    expect((await vpm(['summary'], { cwd })).exitCode).toBe(0);
    const path = join(cwd, 'memory.json');
    const memory = JSON.parse(readFileSync(path, 'utf8'));
    memory.owner = 'team-a';
    memory.entries[0].tags = ['db', 'decision'];
    writeFileSync(path, JSON.stringify(memory, null, 2));
    expect((await vpm(['chat', 'append', '--text', 'and we decided on redis for caching'], { cwd })).exitCode).toBe(0);
    const r = await vpm(['summary'], { cwd });
    expect(r.exitCode, String(r.stderr)).toBe(0);
    const next = JSON.parse(readFileSync(path, 'utf8'));
    expect(next.entries).toHaveLength(2);
    expect(next.owner).toBe('team-a');
    expect(next.entries[1].tags).toEqual(['db', 'decision']);
  });

  it('a corrupt runner phase_state.json stops the run with exit 2, names it and moves it aside', async () => {
    const cwd = tempDir('vpm-runner-');
    mkdirSync(join(cwd, 'codex', 'inbox'), { recursive: true });
    writeFileSync(
      join(cwd, 'vpm.config.json'),
      JSON.stringify({ execution_policy: { default_action: 'allow' }, job_loop: { enabled: true, max_jobs: 1, job_name: 'x' } }),
    );
    writeFileSync(
      join(cwd, 'codex', 'inbox', 'j1.json'),
      JSON.stringify({
        id: 'j1',
        kind: 'exec',
        created_at: '2026-01-01T00:00:00.000Z',
        source: 't',
        steps: [{ name: 'a', argv: ['echo', 'a'] }],
      }),
    );
    mkdirSync(join(cwd, 'reports', 'codex_runs'), { recursive: true });
    writeFileSync(join(cwd, 'reports', 'codex_runs', 'phase_state.json'), '{"job_index": 5, "jobs_exec');
    const r = await vpm(['run'], { cwd });
    expect(r.exitCode, String(r.stderr)).toBe(2);
    expect(String(r.stderr)).toMatch(/reports\/codex_runs\/phase_state\.json is corrupt/);
    const names = readdirSync(join(cwd, 'reports', 'codex_runs'));
    const aside = names.find((n) => n.startsWith('phase_state.json.corrupt-'));
    expect(aside).toBeDefined();
    expect(readFileSync(join(cwd, 'reports', 'codex_runs', aside!), 'utf8')).toBe('{"job_index": 5, "jobs_exec');
    expect(names).not.toContain('phase_state.json');
    expect(existsSync(join(cwd, 'codex', 'inbox', 'j1.json'))).toBe(true); // the job did not run
  });

  it('state patch keeps CRLF line endings', async () => {
    const cwd = tempDir();
    mkdirSync(join(cwd, 'STATE'));
    writeFileSync(join(cwd, 'STATE', 'current_state.md'), STATE_DOC.replace(/\n/g, '\r\n'));
    writeFileSync(join(cwd, 'p.json'), JSON.stringify([{ op: 'replace', path: '/phase', value: 'S2' }]));
    const r = await vpm(['state', 'patch', 'p.json', '--yes'], { cwd });
    expect(r.exitCode, String(r.stderr)).toBe(0);
    const after = readFileSync(join(cwd, 'STATE', 'current_state.md'), 'utf8');
    expect(after).toContain('phase: "S2"\r\n');
    expect(after.replace(/\r\n/g, '')).not.toContain('\n');
  });

  it('state patch refuses a STATE file that is not UTF-8 (exit 2) and leaves its bytes', async () => {
    const cwd = tempDir();
    mkdirSync(join(cwd, 'STATE'));
    const bytes = Buffer.concat([Buffer.from(STATE_DOC.replace('now', 'caf')), Buffer.from([0xe9, 0x0a])]);
    writeFileSync(join(cwd, 'STATE', 'current_state.md'), bytes);
    writeFileSync(join(cwd, 'p.json'), JSON.stringify([{ op: 'replace', path: '/phase', value: 'S2' }]));
    const r = await vpm(['state', 'patch', 'p.json', '--yes'], { cwd });
    expect(r.exitCode, String(r.stderr)).toBe(2);
    expect(String(r.stderr)).toMatch(/not valid UTF-8/);
    expect(readFileSync(join(cwd, 'STATE', 'current_state.md')).equals(bytes)).toBe(true);
  });

  it('chat append refuses invalid UTF-8 on stdin with exit 2 and stores nothing', async () => {
    const cwd = tempDir();
    const { execa } = await import('execa');
    const { VPM_BIN } = await import('../helpers/cli.js');
    const r = await execa(process.execPath, [VPM_BIN, '--cwd', cwd, 'chat', 'append'], {
      input: Buffer.from([0x68, 0x69, 0xff, 0x21]),
      reject: false,
      env: { VPM_SESSION: undefined },
    });
    expect(r.exitCode, String(r.stderr)).toBe(2);
    expect(String(r.stderr)).toMatch(/not valid UTF-8.*offset 2/);
    expect(String(r.stderr)).toMatch(/--lossy/);
    expect(existsSync(join(cwd, 'logs', `${today()}.jsonl`))).toBe(false);
  });
});

describe('environment errors are not bugs', () => {
  const mounts: string[] = [];
  afterAll(() => {
    for (const m of mounts) spawnSync('umount', ['-l', m]);
  });
  const isRoot = process.getuid?.() === 0;
  const canMount = isRoot && spawnSync('mount', ['--version']).status === 0;

  it.skipIf(!canMount)('ENOSPC on a full tmpfs: exit 1, says the disk is full, no "bug"', async () => {
    const cwd = tempDir();
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', cwd]);
    mounts.push(cwd);
    mkdirSync(join(cwd, 'logs'));
    writeFileSync(join(cwd, 'fill'), Buffer.alloc(48 * 1024)); // leave less room than the entry needs
    const r = await vpm(['chat', 'append', '--role', 'user'], { cwd, input: 'x'.repeat(40 * 1024) });
    expect(r.exitCode, String(r.stderr)).toBe(1);
    expect(String(r.stderr)).toMatch(/disk is full \(ENOSPC\)/);
    expect(String(r.stderr)).not.toMatch(/bug/);
  });

  it.skipIf(!canMount)('EROFS on a read-only tmpfs: exit 1, says read-only, no "bug"', async () => {
    const cwd = tempDir();
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', cwd]);
    mounts.push(cwd);
    execFileSync('mount', ['-o', 'remount,ro', cwd]);
    const r = await vpm(['chat', 'append', '--text', 'hello'], { cwd });
    expect(r.exitCode, String(r.stderr)).toBe(1);
    expect(String(r.stderr)).toMatch(/read-only \(EROFS\)/);
    expect(String(r.stderr)).not.toMatch(/bug/);
  });

  it.skipIf(isRoot && spawnSync('setpriv', ['--version']).status !== 0)(
    'EACCES reading memory.json: exit 1, says permission denied, no "bug"',
    async () => {
      const cwd = tempDir();
      writeFileSync(join(cwd, 'memory.json'), '{"version":1,"cursor":null,"entries":[]}\n');
      chmodSync(join(cwd, 'memory.json'), 0o000);
      // root ignores file modes: as root, run the CLI without the capabilities that let it.
      const { execa } = await import('execa');
      const { VPM_BIN } = await import('../helpers/cli.js');
      const cmd = [process.execPath, VPM_BIN, '--cwd', cwd, 'summary'];
      const r = isRoot
        ? await execa('setpriv', ['--bounding-set', '-dac_override,-dac_read_search', '--', ...cmd], { reject: false })
        : await execa(cmd[0]!, cmd.slice(1), { reject: false });
      expect(r.exitCode, String(r.stderr)).toBe(1);
      expect(String(r.stderr)).toMatch(/permission denied \(EACCES\)/);
      expect(String(r.stderr)).toMatch(/memory\.json/);
      expect(String(r.stderr)).not.toMatch(/bug/);
    },
  );

  it('EISDIR: a directory where memory.json belongs: exit 1, names it, no "bug"', async () => {
    const cwd = tempDir();
    mkdirSync(join(cwd, 'memory.json'));
    const r = await vpm(['summary'], { cwd });
    expect(r.exitCode, String(r.stderr)).toBe(1);
    expect(String(r.stderr)).toMatch(/memory\.json.*directory is where a file should be \(EISDIR\)/);
    expect(String(r.stderr)).not.toMatch(/bug/);
  });
});
