import type { CommandHandler } from '../../core/command.js';
import { OperationalError, UsageError } from '../../core/errors.js';
import { makeId } from '../../core/ids.js';
import { probeMany, routeFor, summariseProbes } from '../../adapters/http.js';
import { isReadyAndCurrent, ksvcRef } from '../../deploy/ksvc.js';
import { writeEvidence } from '../../evidence/write.js';
import { SliEvidence } from '../../schemas/deploy-evidence.js';
import type { FlagsOf } from '../../cli/spec.js';
import type { sli } from './sli.js';

type SliFlags = FlagsOf<typeof sli>;

const UNREACHABLE = new Set(['connection_refused', 'connection_reset', 'timeout', 'dns', 'other']);

/**
 * N requests to the service URL: success rate, p50/p95/p99, error classes. A service the API
 * reports Ready that cannot be reached at all is an "evidence mismatch" (exit 1), never a success.
 */
export const sliCommand: CommandHandler<SliFlags> = async (ctx, { args, opts }) => {
  const count = Number(opts.requests ?? 20);
  if (!Number.isInteger(count) || count < 1 || count > 100_000)
    throw new UsageError('-n/--requests must be a whole number between 1 and 100000');
  const timeoutMs = Number(opts.timeout ?? 2000);
  if (!args[0] && !opts.url) throw new UsageError('name a KService or pass --url URL');
  if (opts.url !== undefined && !/^https?:$/.test(URL.parse(opts.url)?.protocol ?? '')) {
    throw new UsageError(`--url ${opts.url} is not an http(s) URL`, { hint: 'e.g. --url http://127.0.0.1:8080/' });
  }
  let url = opts.url;
  let reportedReady: boolean | null = null;
  let kubeInfo: { context: string; namespace: string } | null = null;
  if (args[0]) {
    const kube = await ctx.kube(opts);
    const obj = await kube.mustGet(ksvcRef(args[0], kube.namespace));
    reportedReady = isReadyAndCurrent(obj);
    url ??= obj.status?.url;
    kubeInfo = { context: kube.context, namespace: kube.namespace };
    if (!url) throw new OperationalError(`${args[0]} has no status.url yet`, { hint: `wait for it: vpm ready ${args[0]}` });
  }
  const started = ctx.now();
  const ingressUrl = (await ctx.config()).ingress?.url;
  const results = await probeMany(url!, { count, concurrency: Number(opts.concurrency ?? 1), timeoutMs, ingressUrl });
  const summary = summariseProbes(url!, results);
  const viaIngress = routeFor(url!, ingressUrl).host !== undefined;
  const unreachable = results.every((r) => r.status === null && UNREACHABLE.has(r.class));
  const mismatch = reportedReady === true && unreachable;
  const runId = makeId('sli', started);
  const name = args[0] ?? new URL(url!).host.replace(/[^\w.-]/g, '_');
  const status = mismatch ? 'mismatch' : unreachable ? 'unreachable' : 'measured';
  const { path } = await writeEvidence({
    kind: SliEvidence,
    cwd: ctx.root,
    runId,
    startedAt: started,
    status,
    path: `${name}/${runId}.json`,
    env: ctx.env,
    body: {
      target: url!,
      via_ingress: viaIngress ? ingressUrl : null,
      ksvc: args[0] ?? null,
      namespace: kubeInfo?.namespace ?? null,
      context: kubeInfo?.context ?? null,
      reported_ready: reportedReady,
      mismatch,
      summary: { ...summary },
    },
  });
  const evidence = path.slice(ctx.root.length + 1);
  // A URL sent through the configured ingress failed there: name it, it is what the user can check.
  const via = viaIngress ? ` through the ingress ${ingressUrl}` : '';
  const ingressHint = viaIngress ? `; the ingress is config ingress.url / VPM_INGRESS_URL (${ingressUrl})` : '';
  if (mismatch) {
    throw new OperationalError(
      `evidence mismatch: ${args[0]} is reported Ready but ${url} could not be reached${via} (${Object.keys(summary.classes).join(', ')})`,
      {
        hint: `check the ingress/route for the service; the READY status is not evidence of serving${ingressHint}`,
        details: { evidence, summary },
      },
    );
  }
  if (unreachable)
    throw new OperationalError(`${url} could not be reached${via} (${Object.keys(summary.classes).join(', ')})`, {
      ...(viaIngress ? { hint: `check that the ingress is up and the address is right${ingressHint}` } : {}),
      details: { evidence, summary },
    });
  const ms = (v: number | null) => (v === null ? '-' : `${v} ms`);
  return {
    data: { ...summary, reported_ready: reportedReady, mismatch, evidence },
    human: `${url}: ${summary.successes}/${summary.requests} ok (${((summary.success_rate ?? 0) * 100).toFixed(1)}%), p50 ${ms(summary.p50_ms)}, p95 ${ms(summary.p95_ms)}, p99 ${ms(summary.p99_ms)}; ${Object.entries(
      summary.classes,
    )
      .map(([k, v]) => `${k}=${v}`)
      .join(' ')}`,
  };
};
