/**
 * vpm's own runtime state inside a user's repository, from the root: the logs, memory, the freeze
 * flag and locks, the healthcheck's per-run copies, finished and failed runner jobs and the runner's
 * per-job records. A checkpoint never commits these (they change on every command, so tracking them
 * would leave the tree dirty after each one and block `git checkout`); `vpm init` writes the matching
 * .gitignore entries. Queued jobs (codex/inbox/*.json), STATE/ and the top-level reports
 * (coverage/lag/quality) are the user's to commit.
 */
export const RUNTIME_STATE_PATHS = [
  'logs',
  'memory.json',
  '.ops',
  'reports/healthcheck',
  'reports/codex_runs',
  'codex/inbox/_done',
  'codex/inbox/_failed',
] as const;

/** The same paths as .gitignore entries anchored at the root (directories with a trailing slash). */
export const RUNTIME_STATE_IGNORES = RUNTIME_STATE_PATHS.map((p) => (p === 'memory.json' ? `/${p}` : `/${p}/`));
