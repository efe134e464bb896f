import { existsSync } from 'node:fs';
import type { CommandHandler } from '../../core/command.js';
import { assertNamespaceFlagMatches, loadObjects, resolveManifest } from '../../deploy/apply.js';
import { runApplyLane } from '../../deploy/apply-lane.js';
import { assertNamespaceNotFrozen, assertNotFrozen } from '../../deploy/freeze.js';
import { checkForce } from '../../deploy/traffic-ownership.js';
import type { FlagsOf } from '../../cli/spec.js';
import type { apply } from './apply.js';

type ApplyFlags = FlagsOf<typeof apply>;

/** `vpm apply`: diff → apply → get, with apply.log, after.yaml, run.log and an evidence record. */
export const applyCommand: CommandHandler<ApplyFlags> = async (ctx, { args, opts }) => {
  // A path as the user typed it (from where vpm was started) wins; else an overlay name under the root.
  const fromStart = ctx.userPath(args[0]);
  const source = resolveManifest(ctx.root, existsSync(fromStart) ? fromStart : args[0]);
  const objects = await loadObjects(ctx.root, source.files);
  assertNamespaceFlagMatches(objects, opts.namespace);
  checkForce(opts);
  if (!opts.dryRun)
    await assertNotFrozen(ctx.root, ctx.now(), { forceFreeze: opts.forceFreeze, reason: opts.reason, command: `apply ${args[0]}` });
  const kube = await ctx.kube(opts);
  if (!opts.dryRun) {
    // A freeze set from any checkout is on the namespaces themselves.
    const guard = { forceFreeze: opts.forceFreeze, reason: opts.reason, command: `apply ${args[0]}` };
    for (const ns of new Set(objects.map((o) => o.metadata?.namespace ?? kube.namespace)))
      await assertNamespaceNotFrozen(ctx.root, kube, ns, ctx.now(), guard);
  }
  const lane = await runApplyLane(ctx, kube, source, objects, {
    dryRun: Boolean(opts.dryRun),
    traffic: opts.traffic,
    force: opts.force,
    reason: opts.reason,
    command: 'vpm apply',
  });
  if (!ctx.json) {
    for (const r of lane.results) if (r.diff) ctx.io.stderr.write(r.diff);
    for (const t of lane.traffic) ctx.status(`service/${t.ksvc}: ${t.note}`);
    for (const o of lane.overrides) ctx.status(`override recorded (--force): ${o.what}`);
  }
  return {
    data: {
      run_id: lane.runId,
      reports_dir: lane.reportsDir,
      manifest: source.manifest,
      dry_run: Boolean(opts.dryRun),
      status: lane.status,
      objects: lane.results.map(({ after: _a, ...r }) => r),
      traffic: lane.traffic,
      overrides: lane.overrides,
    },
    human: [...lane.results.map((r) => `${r.kind.toLowerCase()}/${r.name} ${r.action}`), `evidence: ${lane.reportsDir}/`].join('\n'),
  };
};
