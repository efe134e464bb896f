/**
 * The git adapter: the only place vpm runs `git`, through simple-git. Domain code (src/git/) gets a
 * `GitRunner` and speaks plain git argv; this module decides how processes are spawned, which
 * environment they see, how a non-zero exit becomes an error and how `index.lock` contention is
 * reported.
 */
import type { SimpleGit } from 'simple-git';
import { OperationalError } from '../core/errors.js';
import { MAX_BATCH, runBatch, type BatchResult } from './shell-batch.js';

/** A git process that exited non-zero (or could not start). */
export class GitCommandError extends Error {
  constructor(
    readonly args: readonly string[],
    readonly exitCode: number,
    readonly stderr: string,
    readonly stdout: string,
  ) {
    super(`git ${args.join(' ')} failed (exit ${exitCode})${stderr.trim() ? `: ${stderr.trim()}` : ''}`);
    this.name = 'GitCommandError';
  }
}

export interface GitResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export interface GitRunner {
  /** Runs git in the repository; resolves with stdout, rejects with GitCommandError on a non-zero exit. */
  run(args: string[]): Promise<string>;
  /** Runs git and resolves with its exit code and output whatever the exit code (for probes like `merge-base`). */
  probe(args: string[]): Promise<GitResult>;
  /** Runs a network command (fetch), killed when it prints nothing for `idleTimeoutMs`. */
  runRemote(args: string[], idleTimeoutMs: number): Promise<string>;
}

/**
 * Environment variables passed through to git. simple-git strips (or refuses) every `GIT_*` variable
 * and a few editor/pager ones unless allowed, because they can make git run arbitrary programs.
 * These come from the user's own environment, so commit identity and the SSH/askpass set-up that
 * `git fetch` may need are kept; everything else guarded is dropped (GIT_DIR and friends would
 * point git at another repository when vpm is run from a hook).
 */
const PASSED_GIT_ENV = [
  'GIT_AUTHOR_NAME',
  'GIT_AUTHOR_EMAIL',
  'GIT_AUTHOR_DATE',
  'GIT_COMMITTER_NAME',
  'GIT_COMMITTER_EMAIL',
  'GIT_COMMITTER_DATE',
  'GIT_TERMINAL_PROMPT',
  'GIT_OPTIONAL_LOCKS',
  'GIT_SSH_COMMAND',
  'GIT_SSH',
  'GIT_ASKPASS',
  'SSH_ASKPASS',
];
const GUARDED_PLAIN_ENV = new Set(['editor', 'visual', 'pager', 'prefix', 'ssh_askpass']);

export function gitEnvironment(env: NodeJS.ProcessEnv): Record<string, string> {
  const allowed = new Set(PASSED_GIT_ENV.map((k) => k.toLowerCase()));
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) {
    if (value === undefined) continue;
    const lower = key.toLowerCase();
    if ((lower.startsWith('git_') || GUARDED_PLAIN_ENV.has(lower)) && !allowed.has(lower)) continue;
    out[key] = value;
  }
  // Never let git sit waiting for a password or an editor on a terminal nobody is watching.
  out.GIT_TERMINAL_PROMPT ??= '0';
  return out;
}

const INDEX_LOCK_RE = /index\.lock'?: File exists|Unable to create '.*\.lock'/;
const INDEX_LOCK_WAIT_MS = 3_000;

export interface OpenGitOptions {
  env?: NodeJS.ProcessEnv;
  /** Called with one line per git command (argv, exit code, ms): --debug shows them on stderr. */
  trace?: (line: string) => void;
  /** Reads started before the command loaded; used only when they were started in `dir`. */
  prefetched?: PrefetchedReads;
  /**
   * Variables vpm itself sets for these git processes (e.g. GIT_INDEX_FILE for a snapshot in a
   * temporary index, commit identity for vpm's own commits): added after the inherited environment
   * is filtered, so they are never taken from the caller's environment by accident.
   */
  setEnv?: Record<string, string>;
}

/**
 * Read-only git commands started ahead of time by a start-up fast path (see src/cli/fast/), keyed by
 * argv: on a hot path whose first step is a walk over a large tree, the walk then overlaps the
 * start-up instead of following it. They run through one shell per batch (see shell-batch.ts), so
 * starting them costs the main thread one spawn. The object is handed explicitly to the git runner
 * of the same directory; a `probe` of the same argv takes the result instead of running git again —
 * when it succeeded (the batch keeps no stderr, so a failed command runs again to say why), and
 * only once. Only for commands without side effects: a result nobody asks for is simply dropped.
 */
export class PrefetchedReads {
  private readonly results = new Map<string, Promise<BatchResult>>();

  constructor(
    readonly dir: string,
    env: NodeJS.ProcessEnv,
    argsList: string[][],
  ) {
    const childEnv = gitEnvironment(env);
    for (let from = 0; from < argsList.length; from += MAX_BATCH) {
      const batch = argsList.slice(from, from + MAX_BATCH);
      runBatch('git', batch, { cwd: dir, env: childEnv }).forEach((result, i) => this.results.set(batch[i].join('\0'), result));
    }
  }

  /** The prefetched result of `args`, once; undefined when it was not prefetched or failed. */
  async take(args: string[]): Promise<GitResult | undefined> {
    const key = args.join('\0');
    const result = this.results.get(key);
    if (!result) return undefined;
    this.results.delete(key);
    const { exitCode, stdout } = await result;
    return exitCode === 0 ? { exitCode, stdout, stderr: '' } : undefined;
  }
}

export async function openGit(dir: string, opts: OpenGitOptions = {}): Promise<GitRunner> {
  const { simpleGit, GitError } = await import('simple-git');
  const env = { ...gitEnvironment(opts.env ?? process.env), ...opts.setEnv };

  const make = (extra: { idleTimeoutMs?: number } = {}): SimpleGit => {
    const git = simpleGit({
      baseDir: dir,
      maxConcurrentProcesses: 8,
      trimmed: false,
      // Treat a child as finished on 'close' only. The default also arms a 50 ms timer on 'exit',
      // which outlives the command and holds the process open for up to 50 ms before it can exit.
      completion: { onClose: true, onExit: false },
      allowEnvironment: [...PASSED_GIT_ENV, ...Object.keys(opts.setEnv ?? {})],
      unsafe: { allowUnsafeSshCommand: true, allowUnsafeAskPass: true },
      ...(extra.idleTimeoutMs ? { timeout: { block: extra.idleTimeoutMs } } : {}),
      // Every non-zero exit is an error we can inspect (simple-git's default only fails when stderr is
      // non-empty). It must be a GitError: simple-git wraps anything else and drops these fields.
      errors(error, result) {
        if (result.exitCode !== 0) {
          return Object.assign(new GitError(undefined, 'git exited non-zero'), {
            exitCode: result.exitCode,
            stderrText: Buffer.concat(result.stdErr).toString('utf8'),
            stdoutText: Buffer.concat(result.stdOut).toString('utf8'),
          });
        }
        return error;
      },
    }).env(env);
    // simple-git waits an extra 50 ms after a child exits when it printed nothing (update-ref,
    // clean with nothing to remove, …). Marking the end of stdout as "data" skips that wait, which
    // matters on the rollback path where several commands are silent.
    git.outputHandler((_command, stdout) => {
      stdout.once('end', () => stdout.emit('data', Buffer.alloc(0)));
    });
    return git;
  };

  const git = make();
  const prefetched = opts.prefetched?.dir === dir ? opts.prefetched : undefined;

  const execOnce = async (instance: SimpleGit, args: string[]): Promise<GitResult> => {
    const early = instance === git ? await prefetched?.take(args) : undefined;
    if (early) return early;
    try {
      const stdout = await instance.raw(args);
      return { exitCode: 0, stdout, stderr: '' };
    } catch (err) {
      const e = err as Error & { exitCode?: number; stderrText?: string; stdoutText?: string; task?: unknown };
      if (typeof e.exitCode === 'number') return { exitCode: e.exitCode, stdout: e.stdoutText ?? '', stderr: e.stderrText ?? '' };
      // Spawn failures (git missing, killed by the timeout plugin) carry no exit code.
      return { exitCode: -1, stdout: '', stderr: e.message };
    }
  };
  const trace = opts.trace;
  const exec = !trace
    ? execOnce
    : async (instance: SimpleGit, args: string[]): Promise<GitResult> => {
        const started = performance.now();
        const r = await execOnce(instance, args);
        trace(`+${Math.round(started)} ms: git ${args.join(' ')} → exit ${r.exitCode} in ${Math.round(performance.now() - started)} ms`);
        return r;
      };

  const runChecked = async (instance: SimpleGit, args: string[]): Promise<string> => {
    const started = Date.now();
    for (let attempt = 0; ; attempt++) {
      const r = await exec(instance, args);
      if (r.exitCode === 0) return r.stdout;
      if (INDEX_LOCK_RE.test(r.stderr)) {
        // Another git process (an editor's background `git status`, a user's shell) holds the index;
        // git fails before changing anything, so waiting briefly and retrying is safe.
        if (Date.now() - started < INDEX_LOCK_WAIT_MS) {
          await new Promise((res) => setTimeout(res, Math.min(50 * 2 ** attempt, 400)));
          continue;
        }
        throw new OperationalError(`another git process is using this repository (its index.lock exists): git ${args[0]} could not start`, {
          retryable: true,
          hint: 'wait for the other git command (editor, shell, CI step) to finish, then re-run; remove .git/index.lock only if no git process is running',
          cause: new GitCommandError(args, r.exitCode, r.stderr, r.stdout),
        });
      }
      throw new GitCommandError(args, r.exitCode, r.stderr, r.stdout);
    }
  };

  return {
    run: (args) => runChecked(git, args),
    probe: (args) => exec(git, args),
    runRemote: (args, idleTimeoutMs) => runChecked(make({ idleTimeoutMs }), args),
  };
}
