/**
 * `vpm checkpoint NAME`: a commit of everything (tracked edits, deletions and untracked files that
 * .gitignore does not exclude) named `CHECKPOINT <NAME>`, remembered three ways: the commit itself,
 * the ref `refs/vpm/checkpoints/<NAME>` and the hash in `logs/last_checkpoint.txt` (the default
 * rollback target). vpm's own runtime state (RUNTIME_STATE_PATHS) is never part of it, whatever
 * .gitignore says: it is left out with pathspecs, so neither .gitignore nor .git/info/exclude is
 * touched.
 */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { GitRunner } from '../adapters/git.js';
import { GitCommandError } from '../adapters/git.js';
import { OperationalError, UsageError } from '../core/errors.js';
import { writeFileAtomic } from '../core/fs.js';
import { CHECKPOINT_REF_PREFIX, LAST_CHECKPOINT_FILE, refuseIfOperationInProgress, withRepoLock, type RepoInfo } from './repo.js';
import { runtimeStateStatus, stageAllButRuntimeState } from './state-files.js';

export interface CheckpointDeps {
  git: GitRunner;
  repo: RepoInfo;
  /** Where vpm keeps its state (logs/ …): the command's --cwd. */
  stateRoot: string;
  env: NodeJS.ProcessEnv;
  now(): Date;
}

export interface CheckpointCreated {
  name: string;
  hash: string;
  ref: string;
  subject: string;
  /** The hash the ref pointed at before, when a checkpoint of this name already existed. */
  replaced: string | null;
  /** True when there was nothing to commit: the checkpoint is an empty commit on top of HEAD. */
  empty: boolean;
  last_checkpoint_file: string;
  created_at: string;
  /**
   * vpm runtime state paths that had files .gitignore does not exclude, left out of the commit
   * (with a trailing `/` for directories, as the user would write them in .gitignore).
   */
  left_out: string[];
  /** One sentence for the user when `left_out` is not empty, else null. */
  warning: string | null;
}

export interface CheckpointInfo {
  name: string;
  hash: string;
  ref: string;
  date: string;
  subject: string;
}

/** Sub-commands of `vpm checkpoint` that therefore cannot be checkpoint names. */
const RESERVED_NAMES = new Set(['list']);

/**
 * A checkpoint name must be one ref component (no `/`), must not look like an option, and must be
 * a ref name git accepts (`git check-ref-format`), since it becomes `refs/vpm/checkpoints/<NAME>`.
 */
export async function validateCheckpointName(git: GitRunner, name: string | undefined): Promise<string> {
  const example = 'S4_before_big_change';
  if (name === undefined || name === '') {
    throw new UsageError('missing checkpoint NAME', {
      hint: `e.g. vpm checkpoint ${example}; list existing ones with vpm checkpoint list`,
    });
  }
  const problem = name.includes('/')
    ? 'it contains "/" (a name is a single ref component)'
    : name.startsWith('-')
      ? 'it starts with "-"'
      : RESERVED_NAMES.has(name)
        ? `"${name}" is a sub-command of vpm checkpoint`
        : undefined;
  if (!problem) {
    const ref = `${CHECKPOINT_REF_PREFIX}${name}`;
    const r = await git.probe(['check-ref-format', '--normalize', ref]);
    if (r.exitCode === 0 && r.stdout.trim() === ref) return name;
  }
  throw new UsageError(
    `invalid checkpoint name "${name}": ${problem ?? 'git does not accept it as a ref name (see git check-ref-format)'}`,
    {
      hint: `use letters, digits, "_", "-" and "."; e.g. ${example}`,
    },
  );
}

/** The one message about left-out runtime state: which paths, why, and that `vpm init` fixes it. */
function leftOutWarning(paths: string[]): string | null {
  if (paths.length === 0) return null;
  return (
    `vpm's own runtime state was left out of the checkpoint: ${paths.join(', ')} ` +
    `(.gitignore has no entries for ${paths.length === 1 ? 'it' : 'them'}); run vpm init to add the entries`
  );
}

function commitFailure(err: unknown): never {
  if (err instanceof GitCommandError) {
    if (/Please tell me who you are|unable to auto-detect email|empty ident/i.test(err.stderr)) {
      throw new OperationalError('git cannot commit the checkpoint: no author identity is configured', {
        hint: 'set one: git config user.name "Your Name" && git config user.email you@example.com',
        cause: err,
      });
    }
    throw new OperationalError(`git could not commit the checkpoint: ${err.stderr.trim() || err.message}`, {
      hint: 'fix the problem git reports, then run vpm checkpoint again (nothing was committed)',
      cause: err,
    });
  }
  throw err;
}

async function isDirectory(path: string): Promise<boolean> {
  return (await stat(path).catch(() => undefined))?.isDirectory() ?? false;
}

export async function createCheckpoint(deps: CheckpointDeps, name: string): Promise<CheckpointCreated> {
  const { git, repo } = deps;
  refuseIfOperationInProgress(repo, 'create a checkpoint');
  const ref = `${CHECKPOINT_REF_PREFIX}${name}`;
  const subject = `CHECKPOINT ${name}`;
  return withRepoLock(repo, deps.env, async () => {
    try {
      await stageAllButRuntimeState(git, repo);
    } catch (err) {
      commitFailure(err);
    }
    // Exit 0: nothing staged against HEAD; 1: changes; 128: no HEAD yet (the first commit is not empty).
    const empty = (await git.probe(['diff', '--cached', '--quiet', 'HEAD', '--'])).exitCode === 0;
    try {
      // Hooks are skipped: a checkpoint is a safety net taken *before* risky work, and a failing
      // lint/test hook must not prevent taking it. --allow-empty makes a checkpoint always exist.
      await git.run(['commit', '--quiet', '--no-verify', '--allow-empty', '-m', subject]);
    } catch (err) {
      commitFailure(err);
    }
    const [hash, previous] = await Promise.all([
      git.run(['rev-parse', '--verify', 'HEAD^{commit}']).then((h) => h.trim()),
      git.probe(['rev-parse', '--verify', '--quiet', `${ref}^{commit}`]),
    ]);
    await git.run(['update-ref', '-m', `vpm checkpoint ${name}`, ref, hash]);
    const file = join(deps.stateRoot, LAST_CHECKPOINT_FILE);
    await writeFileAtomic(file, `${hash}\n`);
    // Asked after logs/last_checkpoint.txt is written, so a first checkpoint names logs/ too.
    const { roots } = await runtimeStateStatus(git, repo);
    const leftOut = await Promise.all(roots.map(async (p) => ((await isDirectory(join(repo.toplevel, p))) ? `${p}/` : p)));
    return {
      name,
      hash,
      ref,
      subject,
      replaced: previous.exitCode === 0 && previous.stdout.trim() !== hash ? previous.stdout.trim() : null,
      empty,
      last_checkpoint_file: file,
      created_at: deps.now().toISOString(),
      left_out: leftOut,
      warning: leftOutWarning(leftOut),
    };
  });
}

/** Every `refs/vpm/checkpoints/*`, newest first. */
export async function listCheckpoints(git: GitRunner): Promise<CheckpointInfo[]> {
  const out = await git.run([
    'for-each-ref',
    '--sort=-committerdate',
    '--sort=-creatordate',
    '--format=%(refname)%00%(objectname)%00%(committerdate:unix)%00%(contents:subject)',
    CHECKPOINT_REF_PREFIX,
  ]);
  return out
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [ref, hash, unix, subject = ''] = line.split('\0');
      return { name: ref.slice(CHECKPOINT_REF_PREFIX.length), hash, ref, date: new Date(Number(unix) * 1000).toISOString(), subject };
    });
}
