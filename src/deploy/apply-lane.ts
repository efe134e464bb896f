/**
 * The S5 apply lane as `vpm apply` and `vpm release` both run it: traffic ownership and rollout
 * checks on live KServices, diff → apply → get, and the reports (apply.log, after.yaml, run.log,
 * evidence) under reports/codex_runs/<run_id>/.
 */
import { join } from 'node:path';
import type { KObj, KubeClient } from '../adapters/kube.js';
import type { Ctx } from '../core/context.js';
import { VpmError } from '../core/errors.js';
import { writeFileAtomic } from '../core/fs.js';
import { makeId } from '../core/ids.js';
import { maskText, maskValue } from '../core/secrets.js';
import { writeEvidence } from '../evidence/write.js';
import { ApplyEvidence } from '../schemas/deploy-evidence.js';
import { applyObjects, cleanForDiff, type ApplyObjectResult, type ManifestSource } from './apply.js';
import { whoAmI } from './freeze.js';
import type { TrafficTarget } from './ksvc.js';
import {
  assertRoutingNotRejected,
  assertNoRolloutInProgress,
  assertNotRejected,
  checkForce,
  isLive,
  liveKsvcs,
  keptTraffic,
  type Override,
  type OwnershipFlags,
} from './traffic-ownership.js';

export interface ApplyLaneOptions extends OwnershipFlags {
  dryRun: boolean;
  /**
   * The routing to apply for a live KService; undefined for one it does not route, which keeps its live
   * routing, pinned (as without it; `--traffic`: the manifest's).
   */
  trafficFor?: (live: KObj) => TrafficTarget[] | undefined;
  /** A release applying its own template is not refused by its own progress annotation. */
  ownRunId?: string;
  /** Written into run.log: what ran the lane. */
  command: string;
}

export interface TrafficNote {
  ksvc: string;
  kept: boolean;
  traffic: TrafficTarget[] | null;
  note: string;
}

export interface ApplyLaneResult {
  runId: string;
  reportsDir: string;
  status: 'applied' | 'dry-run';
  results: ApplyObjectResult[];
  traffic: TrafficNote[];
  overrides: Array<Override & { by: string; at: string }>;
}

export async function runApplyLane(
  ctx: Ctx,
  kube: KubeClient,
  source: ManifestSource,
  objects: KObj[],
  opts: ApplyLaneOptions,
): Promise<ApplyLaneResult> {
  checkForce(opts);
  const overrides: Override[] = [];
  const traffic: TrafficNote[] = [];
  const live = await liveKsvcs(kube, objects);
  for (const [obj, current] of live) {
    if (!isLive(current)) {
      traffic.push({
        ksvc: obj.metadata.name,
        kept: false,
        traffic: obj.spec?.traffic ?? null,
        note: 'first deploy: the manifest’s own traffic',
      });
      continue;
    }
    if (!opts.dryRun) assertNoRolloutInProgress(current, opts, overrides, opts.ownRunId);
    if (opts.traffic) {
      if (!opts.dryRun) assertRoutingNotRejected(current, obj.spec?.traffic, opts, overrides);
      traffic.push({
        ksvc: obj.metadata.name,
        kept: false,
        traffic: obj.spec?.traffic ?? null,
        note: 'the manifest’s traffic (--traffic)',
      });
      continue;
    }
    const routed = opts.trafficFor?.(current);
    if (routed) {
      obj.spec = { ...(obj.spec ?? {}), traffic: routed };
      traffic.push({ ksvc: obj.metadata.name, kept: false, traffic: routed, note: 'routing set by the release' });
      continue;
    }
    const kept = await keptTraffic(kube, obj, current);
    obj.spec = { ...(obj.spec ?? {}), traffic: kept.traffic };
    traffic.push({
      ksvc: obj.metadata.name,
      kept: true,
      traffic: kept.traffic,
      note: `live traffic kept${kept.pinned ? ', latestRevision pinned to the revision serving now' : ''} (pass --traffic to apply the manifest’s)`,
    });
  }
  const vet = (plan: Array<{ obj: KObj; live: KObj | null; dry: KObj }>) => {
    if (opts.dryRun) return;
    for (const p of plan) if (live.has(p.obj) && isLive(p.live)) assertNotRejected(p.live, p.dry, opts, overrides);
  };

  const started = ctx.now();
  const runId = makeId('apply', started);
  const reportsDir = join('reports', 'codex_runs', runId);
  const log: string[] = [];
  const runLog: string[] = [
    `${started.toISOString()} ${opts.command} ${source.manifest}${opts.dryRun ? ' --dry-run' : ''} (context ${kube.context}, namespace ${kube.namespace}, run ${runId})`,
  ];
  for (const t of traffic) runLog.push(`${started.toISOString()} Service/${t.ksvc}: ${t.note}`);
  let results: ApplyObjectResult[] = [];
  let failure: VpmError | undefined;
  try {
    results = await applyObjects(kube, objects, { dryRun: opts.dryRun, log: (l) => log.push(l), vet });
  } catch (err) {
    if (!(err instanceof VpmError)) throw err;
    failure = err;
  }
  const at = new Date().toISOString();
  const recorded = overrides.map((o) => ({ ...o, by: whoAmI(ctx.env), at }));
  for (const o of recorded) runLog.push(`${at} OVERRIDE (--force) ${o.object}: ${o.what}; reason: ${o.reason}; by ${o.by}`);
  const { stringify } = await import('yaml');
  for (const r of results) if (r.diff) log.push(r.diff);
  // The API server's answers (a 422 quotes the rejected values) and the objects themselves are
  // masked before they are stored: a label or annotation may hold a token.
  await writeFileAtomic(join(ctx.root, reportsDir, 'apply.log'), `${maskText(log.join('\n'), ctx.env)}\n`);
  await writeFileAtomic(
    join(ctx.root, reportsDir, 'after.yaml'),
    results.map((r) => stringify(maskValue(cleanForDiff(r.after ?? null), ctx.env))).join('---\n'),
  );
  runLog.push(
    `${new Date().toISOString()} ${failure ? `failed: ${failure.message}` : `${opts.dryRun ? 'dry-run' : 'applied'}: ${results.map((r) => `${r.kind}/${r.name} ${r.action}`).join(', ')}`}`,
  );
  await writeFileAtomic(join(ctx.root, reportsDir, 'run.log'), `${maskText(runLog.join('\n'), ctx.env)}\n`);
  const status = failure ? 'failed' : opts.dryRun ? 'dry-run' : 'applied';
  await writeEvidence({
    kind: ApplyEvidence,
    cwd: ctx.root,
    runId,
    startedAt: started,
    status,
    path: `${runId}/evidence.json`,
    env: ctx.env,
    body: {
      context: kube.context,
      namespace: kube.namespace,
      reports_dir: reportsDir,
      manifest: source.manifest,
      dry_run: opts.dryRun,
      ts: new Date().toISOString(),
      objects: failure
        ? objects.map((o) => ({
            kind: o.kind,
            name: o.metadata.name,
            namespace: o.metadata.namespace ?? null,
            action: 'failed' as const,
            error: failure!.message,
          }))
        : results.map((r) => ({ kind: r.kind, name: r.name, namespace: r.namespace, action: r.action })),
      traffic: traffic as unknown as Record<string, unknown>[],
      overrides: recorded,
    },
  });
  if (failure) {
    Object.assign(failure, { details: { ...(failure.details as object), run_id: runId, reports_dir: reportsDir } });
    throw failure;
  }
  return { runId, reportsDir, status: opts.dryRun ? 'dry-run' : 'applied', results, traffic, overrides: recorded };
}
