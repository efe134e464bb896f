import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { CommandHandler } from '../../core/command.js';
import { VpmError } from '../../core/errors.js';
import { writeFileAtomic } from '../../core/fs.js';
import { maskText, maskValue } from '../../core/secrets.js';
import { makeId } from '../../core/ids.js';
import { applyObjects, cleanForDiff, loadObjects, resolveManifest, type ApplyObjectResult } from '../../deploy/apply.js';
import { assertNamespaceNotFrozen, assertNotFrozen } from '../../deploy/freeze.js';
import { writeEvidence } from '../../evidence/write.js';
import { ApplyEvidence } from '../../schemas/deploy-evidence.js';
import type { FlagsOf } from '../../cli/spec.js';
import type { apply } from './apply.js';

type ApplyFlags = FlagsOf<typeof apply>;

/** `vpm apply`: diff → apply → get, with apply.log, after.yaml, run.log and an evidence record. */
export const applyCommand: CommandHandler<ApplyFlags> = async (ctx, { args, opts }) => {
  // A path as the user typed it (from where vpm was started) wins; else an overlay name under the root.
  const fromStart = ctx.userPath(args[0]);
  const source = resolveManifest(ctx.root, existsSync(fromStart) ? fromStart : args[0]);
  const objects = await loadObjects(ctx.root, source.files);
  if (!opts.dryRun)
    await assertNotFrozen(ctx.root, ctx.now(), { forceFreeze: opts.forceFreeze, reason: opts.reason, command: `apply ${args[0]}` });
  const kube = await ctx.kube(opts);
  if (!opts.dryRun) {
    // A freeze set from any checkout is on the namespaces themselves.
    const guard = { forceFreeze: opts.forceFreeze, reason: opts.reason, command: `apply ${args[0]}` };
    for (const ns of new Set(objects.map((o) => o.metadata?.namespace ?? kube.namespace)))
      await assertNamespaceNotFrozen(ctx.root, kube, ns, ctx.now(), guard);
  }
  const started = ctx.now();
  const runId = makeId('apply', started);
  const reportsDir = join('reports', 'codex_runs', runId);
  const log: string[] = [];
  const runLog: string[] = [
    `${started.toISOString()} vpm apply ${source.manifest}${opts.dryRun ? ' --dry-run' : ''} (context ${kube.context}, namespace ${kube.namespace}, run ${runId})`,
  ];
  let results: ApplyObjectResult[] = [];
  let failure: VpmError | undefined;
  try {
    results = await applyObjects(kube, objects, { dryRun: Boolean(opts.dryRun), log: (l) => log.push(l) });
  } catch (err) {
    if (!(err instanceof VpmError)) throw err;
    failure = err;
  }
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
      dry_run: Boolean(opts.dryRun),
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
    },
  });
  if (failure) {
    Object.assign(failure, { details: { ...(failure.details as object), run_id: runId, reports_dir: reportsDir } });
    throw failure;
  }
  if (!ctx.json) for (const r of results) if (r.diff) ctx.io.stderr.write(r.diff);
  return {
    data: {
      run_id: runId,
      reports_dir: reportsDir,
      manifest: source.manifest,
      dry_run: Boolean(opts.dryRun),
      status,
      objects: results.map(({ after: _a, ...r }) => r),
    },
    human: [...results.map((r) => `${r.kind.toLowerCase()}/${r.name} ${r.action}`), `evidence: ${reportsDir}/`].join('\n'),
  };
};
