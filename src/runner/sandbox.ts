/**
 * The OS sandbox every exec step runs in (issue 15): bubblewrap with a read-only root, the
 * repository bind-mounted read-write, a private /tmp and HOME (the invoking user's HOME is hidden
 * under an empty tmpfs), every namespace unshared (no network unless the step or policy opts in),
 * `--die-with-parent` and `--new-session`, and a fixed environment. The policy narrows what runs;
 * this bounds what an allowed step can touch.
 *
 * Works as root in this project's containers with plain `--unshare-all` (bubblewrap 0.8, Debian 12):
 * no setuid bit or extra user-namespace flag is needed. As an unprivileged user it needs
 * unprivileged user namespaces (kernel.unprivileged_userns_clone=1); `checkSandbox` runs bwrap once
 * and reports what failed.
 *
 * Killing the sandbox kills the step: bwrap's pid-namespace init dies with it, and the kernel then
 * kills every process in the namespace, including `setsid -f` and `nohup … &` children; when the
 * step's main process exits, the namespace (and whatever it left running) goes too.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve, sep } from 'node:path';
import { SYSTEM_PATH } from './policy/resolve.js';

export type SandboxMode = 'bwrap' | 'none';

/** HOME inside the sandbox (on its private /tmp). */
export const SANDBOX_HOME = '/tmp/vpm-home';

export interface Sandbox {
  mode: SandboxMode;
  /** Absolute path of bwrap (mode bwrap). */
  bwrap?: string;
  /** Directories mounted read-write: the repository (and its git directory when it lives elsewhere). */
  writable: string[];
  /** Directories under the hidden HOME or /tmp that steps need read-only (tools on PATH, this node). */
  readOnly: string[];
  /** The invoking user's HOME, hidden under a tmpfs. */
  hiddenHome?: string;
  /** PATH for steps: the invoking PATH without relative entries or entries inside the repository. */
  path: string;
  /** Why sandbox is none (recorded in every step log and the phase summary). */
  unsandboxedBecause?: string;
}

export interface SandboxedStep {
  argv: string[];
  cwd: string;
  network: boolean;
  /** Extra read-only files (the kubeconfig of the apply lane). */
  readOnlyFiles?: string[];
}

function within(path: string, dir: string): boolean {
  return path === dir || path.startsWith(dir.endsWith(sep) ? dir : dir + sep);
}

/** bwrap on the system PATH (never from the repository or a relative PATH entry). */
function findBwrap(env: NodeJS.ProcessEnv): string | undefined {
  // VPM_BWRAP names the binary explicitly (a path that does not exist = bubblewrap missing).
  if (env.VPM_BWRAP) return isAbsolute(env.VPM_BWRAP) && existsSync(env.VPM_BWRAP) ? env.VPM_BWRAP : undefined;
  const dirs = `${env.PATH ?? ''}:${SYSTEM_PATH}`.split(':').filter((d) => d && isAbsolute(d));
  for (const d of dirs) {
    const p = join(d, 'bwrap');
    try {
      if (statSync(p).isFile()) return p;
    } catch {
      // next
    }
  }
  return undefined;
}

/** The repository's top level and, for a linked worktree, the git directory it points at. */
function repoDirs(cwd: string): string[] {
  let dir = resolve(cwd);
  for (;;) {
    const dotgit = join(dir, '.git');
    if (existsSync(dotgit)) {
      const out = [dir];
      try {
        if (statSync(dotgit).isFile()) {
          const m = /^gitdir:\s*(.+)$/m.exec(readFileSync(dotgit, 'utf8'));
          if (m) {
            const gitdir = resolve(dir, m[1].trim());
            // .../.git/worktrees/<name> → the common .git directory holds the objects and refs.
            const common = existsSync(join(gitdir, 'commondir'))
              ? resolve(gitdir, readFileSync(join(gitdir, 'commondir'), 'utf8').trim())
              : gitdir;
            out.push(common);
          }
        }
      } catch {
        // an unreadable .git file: git will say so inside the step
      }
      return within(resolve(cwd), dir) ? out : [resolve(cwd)];
    }
    const up = dirname(dir);
    if (up === dir) return [resolve(cwd)];
    dir = up;
  }
}

/** A directory to mount so that `dir` (a PATH entry or a program) works: node_modules trees whole. */
function toolRoot(dir: string): string {
  const i = dir.indexOf(`${sep}node_modules${sep}`);
  return i === -1 ? dir : dir.slice(0, i);
}

export function stepPath(invokingPath: string | undefined, repo: string[]): string {
  const entries = (invokingPath ?? SYSTEM_PATH).split(':').filter((d) => d && isAbsolute(d) && !repo.some((r) => within(resolve(d), r)));
  return [...new Set(entries.length > 0 ? entries : SYSTEM_PATH.split(':'))].join(':');
}

/** Plans the sandbox for one run. `mode` none only when the caller was explicitly told so. */
export function planSandbox(mode: SandboxMode, cwd: string, env: NodeJS.ProcessEnv, unsandboxedBecause?: string): Sandbox {
  const writable = repoDirs(cwd);
  const path = stepPath(env.PATH, writable);
  if (mode === 'none') return { mode, writable, readOnly: [], path, unsandboxedBecause: unsandboxedBecause ?? 'runner.sandbox: none' };
  const home = env.HOME && isAbsolute(env.HOME) && env.HOME !== '/' ? resolve(env.HOME) : undefined;
  // Tools on PATH (and this node) that the private HOME or /tmp would hide are mounted back read-only.
  const readOnly: string[] = [];
  for (const d of [...path.split(':'), dirname(process.execPath)]) {
    if (d === home || d === '/tmp') continue; // never the hidden directory itself
    if (((home && within(d, home)) || within(d, '/tmp')) && existsSync(d)) readOnly.push(toolRoot(d));
  }
  return { mode, bwrap: findBwrap(env), writable, readOnly: [...new Set(readOnly)], hiddenHome: home, path };
}

/** Runs bwrap once; undefined when it works, else what failed. */
export function checkSandbox(sb: Sandbox): Promise<string | undefined> {
  if (sb.mode === 'none') return Promise.resolve(undefined);
  if (!sb.bwrap) return Promise.resolve('bubblewrap (bwrap) is not installed');
  return new Promise((res) => {
    execFile(
      sb.bwrap!,
      ['--ro-bind', '/', '/', '--dev', '/dev', '--proc', '/proc', '--unshare-all', '--die-with-parent', '--', 'true'],
      { timeout: 10_000 },
      (err, _out, stderr) => {
        res(
          err
            ? `bwrap does not start here: ${String(stderr || err.message).trim()} (it needs user namespaces: kernel.unprivileged_userns_clone=1, or run as root)`
            : undefined,
        );
      },
    );
  });
}

/** The argv that runs `step.argv` inside the sandbox (the argv itself when mode is none). */
export function sandboxArgv(sb: Sandbox, step: SandboxedStep): string[] {
  if (sb.mode === 'none') return step.argv;
  const a: string[] = ['--ro-bind', '/', '/', '--dev', '/dev', '--proc', '/proc', '--tmpfs', '/tmp'];
  if (sb.hiddenHome && !sb.writable.some((w) => within(sb.hiddenHome!, w))) a.push('--tmpfs', sb.hiddenHome);
  for (const d of sb.readOnly) if (!sb.writable.some((w) => within(d, w))) a.push('--ro-bind', d, d);
  for (const f of step.readOnlyFiles ?? []) if (existsSync(f)) a.push('--ro-bind', f, f);
  for (const w of sb.writable) a.push('--bind', w, w);
  a.push('--dir', SANDBOX_HOME, '--unshare-all');
  if (step.network) a.push('--share-net');
  a.push('--die-with-parent', '--new-session', '--chdir', step.cwd, '--', ...step.argv);
  return [sb.bwrap!, ...a];
}
