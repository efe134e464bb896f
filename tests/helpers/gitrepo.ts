/**
 * Real git repositories in temp folders for the git safety-net tests: identity set, signing off,
 * an initial commit, optionally a bare "origin" in its own temp folder.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';

/** git for the test's own set-up: no system/global config, so the machine's settings cannot leak in. */
const GIT_ENV = { ...process.env, GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null', GIT_TERMINAL_PROMPT: '0' };

export interface GitRepoOptions {
  /** Files of the initial commit (path → content). Default: a small project. */
  files?: Record<string, string>;
  /** Lines of .gitignore committed initially; omit for no .gitignore. */
  gitignore?: string[];
  /** Create a bare repository as `origin` and push the initial commit to it. */
  remote?: boolean;
}

export interface TempRepo {
  dir: string;
  /** The bare origin, when asked for. */
  remote?: string;
  git(...args: string[]): string;
  /** Runs git and returns its exit status instead of throwing. */
  gitStatus(...args: string[]): { status: number; stdout: string; stderr: string };
  write(path: string, content: string): void;
  read(path: string): string;
  exists(path: string): boolean;
  remove(path: string): void;
  /** `git add -A && git commit`; returns the new HEAD. */
  commitAll(message: string): string;
  head(): string;
  /** Every file under the work tree (not .git) with its content, minus paths under `except`. */
  files(except?: string[]): Record<string, string>;
  cleanup(): void;
}

const DEFAULT_FILES: Record<string, string> = {
  'README.md': '# sample\n',
  'src/index.js': 'export const answer = 42;\n',
  'src/util/math.js': 'export const add = (a, b) => a + b;\n',
  'docs/guide.md': 'guide\n',
};

function run(cwd: string, args: string[]): string {
  return execFileSync('git', args, { cwd, env: GIT_ENV, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function configure(dir: string): void {
  for (const [k, v] of [
    ['user.name', 'vpm test'],
    ['user.email', 'vpm-test@example.invalid'],
    ['commit.gpgsign', 'false'],
    ['tag.gpgsign', 'false'],
    ['core.autocrlf', 'false'],
  ]) {
    run(dir, ['config', k, v]);
  }
}

function walk(root: string, dir: string, out: Record<string, string>, except: string[]): void {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const abs = join(dir, entry.name);
    const rel = relative(root, abs);
    if (rel === '.git' || except.some((e) => rel === e || rel.startsWith(`${e}/`))) continue;
    if (entry.isDirectory()) walk(root, abs, out, except);
    else out[rel] = readFileSync(abs, 'utf8');
  }
}

export function makeGitRepo(opts: GitRepoOptions = {}): TempRepo {
  const dir = mkdtempSync(join(tmpdir(), 'vpm-git-'));
  run(dir, ['init', '-q', '-b', 'main']);
  configure(dir);
  const files = { ...(opts.files ?? DEFAULT_FILES) };
  if (opts.gitignore) files['.gitignore'] = `${opts.gitignore.join('\n')}\n`;
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), content);
  }
  run(dir, ['add', '-A']);
  run(dir, ['commit', '-q', '--allow-empty', '-m', 'initial commit']);

  let remote: string | undefined;
  if (opts.remote) {
    remote = mkdtempSync(join(tmpdir(), 'vpm-git-origin-'));
    run(remote, ['init', '-q', '--bare', '-b', 'main']);
    run(dir, ['remote', 'add', 'origin', remote]);
    run(dir, ['push', '-q', '-u', 'origin', 'main']);
  }

  const repo = makeHandle(dir);
  return {
    ...repo,
    remote,
    cleanup() {
      repo.cleanup();
      if (remote) rmSync(remote, { recursive: true, force: true });
    },
  };
}

/** A second clone of `remote`, to push commits the repository under test has not fetched yet. */
export function cloneOf(remote: string): TempRepo {
  const dir = mkdtempSync(join(tmpdir(), 'vpm-git-clone-'));
  execFileSync('git', ['clone', '-q', remote, dir], { env: GIT_ENV, stdio: 'ignore' });
  configure(dir);
  return makeHandle(dir);
}

function makeHandle(dir: string): TempRepo {
  const handle: TempRepo = {
    dir,
    git: (...args) => run(dir, args),
    gitStatus: (...args) => {
      const r = spawnSync('git', args, { cwd: dir, env: GIT_ENV, encoding: 'utf8' });
      return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
    },
    write(path, content) {
      mkdirSync(dirname(join(dir, path)), { recursive: true });
      writeFileSync(join(dir, path), content);
    },
    read: (path) => readFileSync(join(dir, path), 'utf8'),
    exists: (path) => existsSync(join(dir, path)),
    remove: (path) => rmSync(join(dir, path), { recursive: true, force: true }),
    commitAll(message) {
      run(dir, ['add', '-A']);
      run(dir, ['commit', '-q', '--allow-empty', '-m', message]);
      return handle.head();
    },
    head: () => run(dir, ['rev-parse', 'HEAD']).trim(),
    files(except = []) {
      const out: Record<string, string> = {};
      walk(dir, dir, out, except);
      return out;
    },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
  return handle;
}

/** File mode bits, to check that a rollback restores the executable bit too. */
export function modeOf(path: string): number {
  return statSync(path).mode & 0o777;
}

export function makeExecutable(path: string): void {
  chmodSync(path, 0o755);
}
