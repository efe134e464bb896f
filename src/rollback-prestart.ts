/**
 * The very first thing `vpm rollback --yes` does, loaded by bin/vpm.js before the rest of vpm: it
 * starts the git reads the rollback begins with — the working-tree check (a walk over the whole
 * tree), the repository lookup and the plan's reads — so that they run while the command loads. The
 * command then takes their results (same argv, same directory; see prestartGitProbes). This file is
 * bundled on its own and kept to what that needs, so it costs next to nothing to load.
 *
 * Only with --yes: without it nothing may be looked at before the confirmation rules are checked.
 * Anything odd (no such directory, no recorded target, flags the fast path does not read) just skips it.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { prestartGitProbes } from './adapters/git.js';
import { locateRepoArgs } from './git/repo.js';
import { fastTargetRevParse, planProbeArgs, preflightCheckArgs, rollbackTargetSpec } from './git/rollback.js';
import { parseRollbackArgs } from './rollback-args.js';

export function prestartRollback(argv: string[], env: NodeJS.ProcessEnv = process.env): void {
  const values = parseRollbackArgs(argv);
  if (!values?.yes) return;
  const cwd = resolve(values.cwd ?? env.VPM_CWD ?? process.cwd());
  if (!existsSync(cwd)) return;
  let spec;
  try {
    spec = rollbackTargetSpec(cwd, values.to);
  } catch {
    return;
  }
  // The plan's reads too, when the target is the recorded checkpoint (a full hash, as vpm writes it).
  const plan = spec.recorded && /^[0-9a-f]{40}$/.test(spec.recorded) ? planProbeArgs(spec.recorded) : [];
  prestartGitProbes(cwd, env, [...preflightCheckArgs(), locateRepoArgs(fastTargetRevParse(spec)), ...plan]);
}
