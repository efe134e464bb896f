/**
 * vpm's own runtime state inside a user's repository: written by vpm as it runs, never part of the
 * user's commits (vpm init puts these in .gitignore; vpm checkpoint leaves them out even without).
 * Paths are from the repository root, in .gitignore syntax.
 */
export const RUNTIME_STATE_IGNORES = [
  '/logs/',
  '/memory.json',
  '/.ops/',
  '/reports/codex_runs/',
  '/reports/healthcheck/',
  '/codex/inbox/_done/',
  '/codex/inbox/_failed/',
  '/diagrams/export/',
] as const;
