/**
 * The command layer as a new user meets it (issue 14): run from a subdirectory, --cwd that is
 * missing or a file, the Node.js version refusal, vpm init, --json for parse errors, date
 * validation, the freeze gate for scripts, a patch on stdin, and vpm loop's failure reason and piped
 * text. Every case runs the built CLI as a child process against real git repositories.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { tempDir, VPM_BIN, vpm, vpmJson } from '../helpers/cli.ts';
import { makeGitRepo, type TempRepo } from '../helpers/gitrepo.ts';
import { freePort } from '../support/net.ts';

const repos: TempRepo[] = [];
function repo(
  files: Record<string, string> = { 'infra/k8s/overlays/dev/hello.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: hello}\n' },
): TempRepo {
  const r = makeGitRepo({ files });
  repos.push(r);
  return r;
}
afterEach(() => {
  for (const r of repos.splice(0)) r.cleanup();
});

describe('vpm works from anywhere inside the repository', () => {
  it('a freeze set at the root holds from a subdirectory: status says frozen, apply and canary start refuse (exit 3)', async () => {
    const r = repo();
    const sub = join(r.dir, 'infra', 'k8s');
    expect((await vpm(['freeze', 'on', '--reason', 'incident 7'], { cwd: r.dir })).exitCode).toBe(0);
    const status = await vpmJson(['freeze', 'status'], { cwd: sub });
    expect(status.json.active).toBe(true);
    const apply = await vpm(['apply', 'overlays/dev/hello.yaml', '--kubeconfig', '/nonexistent'], { cwd: sub });
    expect(apply.exitCode, String(apply.stderr)).toBe(3);
    expect(apply.stderr).toContain('frozen');
    const canary = await vpm(['canary', 'start', 'hello', '--kubeconfig', '/nonexistent'], { cwd: sub });
    expect(canary.exitCode, String(canary.stderr)).toBe(3);
    expect(r.exists('infra/k8s/.ops')).toBe(false);
  });

  it('chat append and checkpoint from a subdirectory write the root’s logs/, never a stray one', async () => {
    const r = repo();
    const sub = join(r.dir, 'infra', 'k8s');
    expect((await vpm(['chat', 'append', '--text', 'from below'], { cwd: sub })).exitCode).toBe(0);
    expect((await vpm(['checkpoint', 'below'], { cwd: sub })).exitCode).toBe(0);
    expect(r.exists('infra/k8s/logs')).toBe(false);
    expect(r.read('logs/last_checkpoint.txt').trim()).toBe(r.head());
    const day = new Date().toISOString().slice(0, 10);
    expect(r.read(`logs/${day}.jsonl`)).toContain('from below');
  });

  it('a user path (the patch file) is read from where vpm was started, like any shell command', async () => {
    const r = repo({
      'STATE/current_state.md':
        '---\nphase: "S1"\nupdated_at: "2026-01-01T00:00:00.000Z"\n---\n\n## C\n\nnow\n\n## G\n\n- G-1: one\n\n## δ\n\nnext\n',
      'docs/x.txt': 'x\n',
    });
    writeFileSync(join(r.dir, 'docs', 'p.json'), JSON.stringify([{ op: 'replace', path: '/phase', value: 'S2' }]));
    const res = await vpm(['state', 'patch', 'p.json', '--yes'], { cwd: join(r.dir, 'docs') });
    expect(res.exitCode, String(res.stderr)).toBe(0);
    expect(r.read('STATE/current_state.md')).toContain('phase: "S2"');
  });
});

describe('found by an outside attack', () => {
  it('--cwd through a symbolic link into the repository finds the root: the freeze holds, no state in the subdirectory', () => {
    const r = repo({ 'deep/er/keep.txt': 'x\n' });
    const link = join(tempDir(), 'link');
    symlinkSync(join(r.dir, 'deep'), link);
    const run = (args: string[]) => spawnSync(process.execPath, [VPM_BIN, ...args], { cwd: r.dir, encoding: 'utf8' });
    expect(run(['--cwd', join(link, 'er'), 'freeze', 'on', '--reason', 'x']).status).toBe(0);
    expect(JSON.parse(run(['--json', 'freeze', 'status']).stdout).active).toBe(true);
    expect(r.exists('deep/er/.ops')).toBe(false);
    expect(run(['--cwd', join(link, 'er'), 'checkpoint', 's']).status).toBe(0);
  });

  it('a current directory that was removed is a usage error that says so, not a bug', () => {
    const r = repo();
    const gone = join(r.dir, 'gone');
    mkdirSync(gone);
    const out = spawnSync('sh', ['-c', `cd "${gone}" && rmdir "${gone}" && "${process.execPath}" "${VPM_BIN}" chat append --text hi`], {
      encoding: 'utf8',
    });
    expect(out.status).toBe(2);
    expect(out.stderr).toContain('the current directory no longer exists');
    expect(out.stderr).not.toContain('bug in vpm');
  });

  it('sli of a KService URL through an ingress that is down names the ingress and where it is configured (exit 1)', async () => {
    const r = repo();
    const ingress = `http://127.0.0.1:${await freePort()}`;
    const res = await vpmJson(['sli', '--url', 'http://hello.default.example.com/', '-n', '2'], {
      cwd: r.dir,
      env: { VPM_INGRESS_URL: ingress },
    });
    expect(res.result.exitCode).toBe(1);
    expect(res.json.error.message).toBe(
      `http://hello.default.example.com/ could not be reached through the ingress ${ingress} (connection_refused)`,
    );
    expect(res.json.error.hint).toContain(`ingress.url / VPM_INGRESS_URL (${ingress})`);
  });

  it('a bad value from a VPM_* variable is blamed on the variable, one from the file on the file (exit 2)', async () => {
    const r = repo({ 'vpm.config.yaml': 'canary:\n  prometheus_url: not-a-url\n' });
    const res = await vpmJson(['sli', '--url', 'http://127.0.0.1:9/', '-n', '1'], { cwd: r.dir, env: { VPM_INGRESS_URL: 'ingress:8081' } });
    expect(res.result.exitCode).toBe(2);
    expect(res.json.error.message).toMatch(/^invalid configuration:\n/);
    expect(res.json.error.message).toMatch(/\n {2}vpm\.config\.yaml: canary\.prometheus_url: /);
    expect(res.json.error.message).toMatch(/\n {2}VPM_INGRESS_URL \(ingress\.url: /);
    expect(res.json.error.hint).toBe('fix VPM_INGRESS_URL and vpm.config.yaml');
  });

  it('chat append --meta with a "__proto__" key is refused (exit 2), not stored without it', async () => {
    const r = repo();
    for (const meta of ['{"__proto__":{"polluted":1},"b":2}', '{"a":{"__proto__":1}}']) {
      const res = await vpmJson(['chat', 'append', '--meta', meta, '--text', 'hi'], { cwd: r.dir });
      expect(res.result.exitCode, meta).toBe(2);
      expect(res.json.error.message).toBe('--meta may not use the key "__proto__"');
    }
    expect(existsSync(join(r.dir, 'logs', `${new Date().toISOString().slice(0, 10)}.jsonl`))).toBe(false);
  });

  it('sli --url that is not an http(s) URL is a usage error (exit 2)', async () => {
    const r = repo();
    for (const url of ['notaurl', 'http://[::1', 'ftp://127.0.0.1/']) {
      const res = await vpm(['sli', '--url', url, '-n', '1'], { cwd: r.dir });
      expect(res.exitCode, url).toBe(2);
      expect(res.stderr).not.toContain('bug in vpm');
    }
  });
});

describe('--cwd must name an existing directory', () => {
  // Started inside the repository, pointed elsewhere by --cwd.
  const fromRepo = (r: TempRepo, args: string[]) => spawnSync(process.execPath, [VPM_BIN, ...args], { cwd: r.dir, encoding: 'utf8' });

  it('a missing directory: exit 2, nothing created, the real repository untouched', () => {
    const r = repo();
    const missing = join(tempDir(), 'nope');
    const res = fromRepo(r, ['--cwd', missing, 'freeze', 'on', '--reason', 'x']);
    expect(res.status).toBe(2);
    expect(res.stderr).toContain('no such directory');
    expect(existsSync(missing)).toBe(false);
    expect(r.exists('.ops')).toBe(false);
  });

  it('a file: exit 2 with a clear message, not an internal error', () => {
    const r = repo();
    const res = fromRepo(r, ['--json', '--cwd', 'infra/k8s/overlays/dev/hello.yaml', 'freeze', 'status']);
    expect(res.status).toBe(2);
    expect(JSON.parse(res.stdout)).toMatchObject({
      ok: false,
      error: { exit_code: 2, message: expect.stringContaining('not a directory') },
    });
    expect(res.stderr).not.toContain('internal error');
  });

  it('commands that need a repository say so outside one (exit 2, with the fix)', async () => {
    const dir = tempDir();
    const res = await vpm(['checkpoint', 'x'], { cwd: dir });
    expect(res.exitCode).toBe(2);
    expect(res.stderr).toContain('not inside a git repository');
    expect(res.stderr).toContain('git init');
  });
});

describe('Node.js version', () => {
  // A real older Node when the machine has one (the CI image's system Node is 20), else a preload
  // that makes the running Node report 20.
  const systemNode = ['/usr/bin/node', '/usr/local/bin/node'].find((p) => {
    if (!existsSync(p)) return false;
    const v = spawnSync(p, ['-p', 'process.versions.node'], { encoding: 'utf8' }).stdout.trim();
    return Number(v.split('.')[0]) < 22;
  });

  it('refuses Node < 22 with one clear line and exit 2', () => {
    const stubDir = tempDir();
    const stub = join(stubDir, 'node20.cjs');
    writeFileSync(stub, "Object.defineProperty(process.versions, 'node', { value: '20.11.1' });\n");
    const run = systemNode
      ? spawnSync(systemNode, [VPM_BIN, 'version'], { encoding: 'utf8' })
      : spawnSync(process.execPath, ['--require', stub, VPM_BIN, 'version'], { encoding: 'utf8' });
    expect(run.status).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(/^vpm needs Node\.js 22 or newer; this is 20\.\d+\.\d+\n$/);
  });
});

describe('vpm init', () => {
  it('prepares a fresh repository, is idempotent, and leaves git status clean after vpm commands', async () => {
    const r = repo({ 'README.md': '# app\n' });
    const first = await vpmJson(['init'], { cwd: r.dir });
    expect(first.result.exitCode, String(first.result.stderr)).toBe(0);
    expect(first.json.created).toEqual(
      expect.arrayContaining(['STATE/current_state.md', 'vpm.config.yaml', 'codex/inbox/.gitkeep', '.gitignore']),
    );
    // The starter STATE is valid as it is.
    expect((await vpm(['state', 'check'], { cwd: r.dir })).exitCode).toBe(0);
    // The config is all comments: it loads as the defaults.
    expect((await vpm(['state', 'show'], { cwd: r.dir })).exitCode).toBe(0);
    r.commitAll('vpm init');
    const again = await vpmJson(['init'], { cwd: r.dir });
    expect(again.json.created).toEqual([]);
    expect(again.json.updated).toEqual([]);
    expect(r.gitStatus('status', '--porcelain').stdout).toBe('');
    for (const args of [
      ['chat', 'append', '--text', 'hello'],
      ['freeze', 'on', '--reason', 'r'],
      ['summary'],
      ['checkpoint', 'one'],
      ['run'],
    ]) {
      const res = await vpm(args, { cwd: r.dir });
      expect(res.exitCode, `${args.join(' ')}: ${res.stderr}`).toBe(0);
      expect(r.gitStatus('status', '--porcelain').stdout, args.join(' ')).toBe('');
    }
  });

  it('adds only the missing entries to an existing .gitignore and keeps what was there', async () => {
    const r = repo({ '.gitignore': 'node_modules/\n/logs/\n' });
    const res = await vpmJson(['init'], { cwd: r.dir });
    expect(res.json.updated).toContain('.gitignore');
    const text = r.read('.gitignore');
    expect(text.startsWith('node_modules/\n/logs/\n')).toBe(true);
    expect(text.match(/^\/logs\/$/gm)).toHaveLength(1);
    expect(text).toContain('/memory.json');
  });
});

describe('--json: one document on stdout, errors included', () => {
  it.each([
    [['nosuchcommand'], /unknown command/],
    [['freeze', 'off', '--nosuchflag'], /unknown option/],
    [['contract', 'check'], /missing required argument/],
    [['freeze', 'on'], /required option/],
    [['chat', 'append', '--role', 'robot', '--text', 'x'], /argument 'robot' is invalid|Allowed choices/],
  ])('parse error %j → {ok:false,error} and exit 2', async (args, message) => {
    const r = repo();
    const res = await vpm(['--json', ...args], { cwd: r.dir });
    expect(res.exitCode).toBe(2);
    const doc = JSON.parse(String(res.stdout));
    expect(doc).toMatchObject({ ok: false, error: { exit_code: 2 } });
    expect(doc.error.message).toMatch(message);
  });

  it.each([
    [['--json'], 'vpm [options] <command>'],
    [['--json', '--help'], 'vpm [options] <command>'],
    [['help', '--json'], 'vpm [options] <command>'],
    [['--json', 'release', '--help'], 'vpm release [options] <ksvc>'],
    [['canary', 'start', '-h', '--json'], 'vpm canary start [options] <ksvc>'],
    [['--json', 'help', 'canary', 'start'], 'vpm canary start [options] <ksvc>'],
  ])('help %j with --json is one help document (usage, options, examples), exit 0', async (args, usage) => {
    const res = await vpm(args, { cwd: repo().dir });
    expect(res.exitCode).toBe(0);
    const doc = JSON.parse(String(res.stdout));
    expect(doc.usage).toBe(usage);
    expect(doc.options.map((o: { flags: string }) => o.flags)).toContain('--json');
    if (usage.startsWith('vpm [options]')) {
      expect(doc.commands.map((c: { name: string }) => c.name)).toEqual(expect.arrayContaining(['release', 'canary', 'help']));
      expect(doc.exit_codes.map((e: { code: number }) => e.code)).toEqual([0, 1, 2, 3, 4, 5]);
    } else expect(doc.examples[0].command).toMatch(/^vpm /);
  });

  it('help exit-codes --json, -V --json and an unknown help topic answer in JSON', async () => {
    const cwd = repo().dir;
    const codes = await vpm(['help', 'exit-codes', '--json'], { cwd });
    expect(JSON.parse(String(codes.stdout)).exit_codes[4]).toEqual({ code: 4, meaning: expect.stringMatching(/^SLO gate failed/) });
    const version = await vpm(['--json', '-V'], { cwd });
    expect(JSON.parse(String(version.stdout))).toMatchObject({ version: expect.any(String), node: process.versions.node });
    const unknown = await vpm(['help', 'nosuch', '--json'], { cwd });
    expect(unknown.exitCode).toBe(2);
    expect(JSON.parse(String(unknown.stdout))).toMatchObject({ ok: false, error: { message: "unknown help topic 'nosuch'" } });
  });
});

describe('input validation', () => {
  it.each(['2026-13-45', '2026-02-30', 'tomorrow'])('digest --date %s → exit 2, nothing written', async (date) => {
    const r = repo();
    const res = await vpm(['digest', '--date', date], { cwd: r.dir });
    expect(res.exitCode).toBe(2);
    expect(res.stderr).toMatch(/--date .*(not written YYYY-MM-DD|not a day of the calendar)/);
    expect(r.exists('docs/sessions')).toBe(false);
  });

  it('freeze status --exit-code: 3 while frozen, 0 when not (plain status stays 0)', async () => {
    const r = repo();
    expect((await vpm(['freeze', 'status', '--exit-code'], { cwd: r.dir })).exitCode).toBe(0);
    await vpm(['freeze', 'on', '--reason', 'x'], { cwd: r.dir });
    expect((await vpm(['freeze', 'status', '--exit-code'], { cwd: r.dir })).exitCode).toBe(3);
    expect((await vpm(['freeze', 'status'], { cwd: r.dir })).exitCode).toBe(0);
  });

  it('state patch - reads the patch from stdin', async () => {
    const r = repo();
    await vpm(['init'], { cwd: r.dir });
    const res = await vpm(['state', 'patch', '-', '--yes'], {
      cwd: r.dir,
      input: JSON.stringify([{ op: 'replace', path: '/phase', value: 'S7' }]),
    });
    expect(res.exitCode, String(res.stderr)).toBe(0);
    expect(r.read('STATE/current_state.md')).toContain('phase: "S7"');
  });
});

describe('vpm loop', () => {
  it('names the failing stage, its reason and a hint', async () => {
    const r = repo();
    await vpm(['init'], { cwd: r.dir });
    writeFileSync(join(r.dir, 'vpm.config.yaml'), 'test:\n  command: node -e "process.exit(3)"\n');
    const res = await vpm(['loop', '--text', 'try the loop'], { cwd: r.dir, env: { VPM_CHROMIUM: '/nonexistent' } });
    expect(res.exitCode).toBe(1);
    expect(res.stdout).toMatch(/loop stopped at healthcheck: .+/);
    expect(res.stdout).toMatch(/hint: .+/);
  });

  it('appends text piped on stdin first, like chat append', () => {
    const r = repo();
    // A real pipe (not the socket a test runner would hand over): the shell's `|`.
    const out = spawnSync('sh', ['-c', `printf 'piped into the loop' | "${process.execPath}" "${VPM_BIN}" --json loop`], {
      cwd: r.dir,
      encoding: 'utf8',
    });
    const doc = JSON.parse(out.stdout);
    expect(doc.stages[0]).toMatchObject({ stage: 'chat append', status: 'ok' });
    const day = new Date().toISOString().slice(0, 10);
    expect(readFileSync(join(r.dir, 'logs', `${day}.jsonl`), 'utf8')).toContain('piped into the loop');
  });
});

describe('vpm version', () => {
  it('--json: version, node, platform and the commit it was built from', async () => {
    const dir = tempDir();
    const res = await vpmJson(['version'], { cwd: dir });
    const pkg = JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', 'package.json'), 'utf8'));
    expect(res.json).toMatchObject({ version: pkg.version, node: process.versions.node, platform: `${process.platform}-${process.arch}` });
    const sha = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: join(import.meta.dirname, '..', '..'), encoding: 'utf8' }).trim();
    expect([sha, null]).toContain(res.json.git_sha);
    expect((await vpm(['--version'], { cwd: dir })).stdout.trim()).toBe(pkg.version);
  });
});
