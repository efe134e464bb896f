/**
 * The very first thing `vpm rollback --yes` does, loaded by bin/vpm.js before the rest of vpm: it
 * starts the git reads the rollback begins with — the working-tree check (a walk over the whole
 * tree), the repository lookup and the plan's reads — so they run while the command loads, and
 * returns them for bin/vpm.js to hand to the rollback (src/cli/fast/rollback.ts). Bundled on its own
 * and kept to what that needs, so it costs next to nothing to load.
 *
 * Only with --yes: without it nothing may be looked at before the confirmation rules are checked.
 * Anything odd (no repository, no recorded target, flags the fast path does not read) just skips it.
 */
import { PrefetchedReads } from '../../adapters/git.js';
import { rollback } from '../../commands/git/rollback.js';
import { findRepoRoot, startDirectory } from '../../core/repo-root.js';
import { locateRepoArgs } from '../../git/repo.js';
import { fastTargetRevParse, planProbeArgs, preflightCheckArgs, rollbackTargetSpec } from '../../git/rollback.js';
import { parseFast } from './parse.js';

export function prestartRollback(argv: string[], env: NodeJS.ProcessEnv = process.env): PrefetchedReads | undefined {
  const parsed = parseFast(rollback, argv);
  if (!parsed?.input.flags.yes) return undefined;
  try {
    const root = findRepoRoot(startDirectory(parsed.globals.cwd, env, process.cwd()));
    if (root === undefined) return undefined;
    const spec = rollbackTargetSpec(root, parsed.input.flags.to as string | undefined);
    // The plan's reads too, when the target is the recorded checkpoint (a full hash, as vpm writes it).
    const plan = spec.recorded && /^[0-9a-f]{40}$/.test(spec.recorded) ? planProbeArgs(spec.recorded) : [];
    return new PrefetchedReads(root, env, [...preflightCheckArgs(), locateRepoArgs(fastTargetRevParse(spec)), ...plan]);
  } catch {
    return undefined;
  }
}
