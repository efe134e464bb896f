/** Evidence kinds written by deploy control: apply, ready, sli, canary, guard. */
import { z } from 'zod';
import { defineEvidence } from './evidence.js';

const Target = {
  context: z.string(),
  namespace: z.string(),
};

const GateCheck = z.object({
  name: z.string(),
  value: z.number().nullable(),
  threshold: z.number(),
  comparator: z.enum(['>=', '<=']),
  ok: z.boolean().nullable(),
});

/** One named metric of the analysis in one window (src/deploy/analysis.ts). */
const MetricRecordSchema = z.object({
  name: z.string(),
  dry_run: z.boolean(),
  query: z.string(),
  value: z.number().nullable(),
  condition: z.string().nullable(),
  stable: z.object({ revision: z.string(), query: z.string(), value: z.number().nullable() }).optional(),
  comparison: z.object({ kind: z.enum(['difference', 'ratio']), value: z.number().nullable(), condition: z.string() }).optional(),
  samples: z
    .object({ min: z.number(), query: z.string(), candidate: z.number().nullable(), stable: z.number().nullable().optional() })
    .optional(),
  decision: z.enum(['pass', 'fail', 'inconclusive', 'error']),
  reason: z.string(),
  consecutive_errors: z.number().optional(),
});

/** One run of a rollout hook: the runner job it was, and each step's decision and (masked) output. */
const HookRecordSchema = z.object({
  kind: z.enum(['pre_rollout', 'pre_step', 'post_rollout', 'on_abort']),
  job_id: z.string(),
  at: z.iso.datetime(),
  phase: z.enum(['running', 'done', 'deny', 'fatal_error']),
  end_reason: z.string(),
  reports_dir: z.string(),
  steps: z.array(
    z.object({
      name: z.string(),
      decision: z.string().nullable(),
      matched_rule: z.string().nullable(),
      exit_code: z.number().nullable(),
      sandbox: z.string().nullable(),
      stdout_tail: z.string(),
      stderr_tail: z.string(),
    }),
  ),
});

/** One SLO evaluation: what was measured (query or probe), the raw values, thresholds, window, decision. */
export const SloCheckSchema = z.object({
  step: z.number().int().nullable(),
  percent: z.number().nullable(),
  revision: z.string(),
  provider: z.enum(['probe', 'prometheus']),
  query: z.record(z.string(), z.unknown()),
  raw: z.record(z.string(), z.unknown()),
  thresholds: z.object({ success_rate: z.number(), latency_p95_ms: z.number(), min_requests: z.number() }),
  window_ms: z.number(),
  checks: z.array(GateCheck),
  metrics: z.array(MetricRecordSchema).optional(),
  decision: z.enum(['pass', 'fail', 'inconclusive']),
  reason: z.string(),
  at: z.iso.datetime(),
});

const TimelineEvent = z.object({ at: z.iso.datetime(), event: z.string(), detail: z.record(z.string(), z.unknown()).optional() });

export const ApplyEvidence = defineEvidence('apply', 'reports/codex_runs', {
  ...Target,
  reports_dir: z.string(),
  manifest: z.string(),
  dry_run: z.boolean(),
  ts: z.iso.datetime(),
  objects: z.array(
    z.object({
      kind: z.string(),
      name: z.string(),
      namespace: z.string().nullable(),
      action: z.enum(['created', 'configured', 'unchanged', 'failed', 'would-create', 'would-configure']),
      error: z.string().optional(),
    }),
  ),
  /** Per KService: whether the live routing was kept (traffic ownership) and what was applied. */
  traffic: z.array(z.record(z.string(), z.unknown())).optional(),
  /** `--force --reason` overrides of a rollout in progress or a rejected revision. */
  overrides: z
    .array(z.object({ object: z.string(), what: z.string(), reason: z.string(), by: z.string(), at: z.iso.datetime() }))
    .optional(),
});

export const ReadyEvidence = defineEvidence('ready', 'reports/ready', {
  ...Target,
  ksvc: z.string(),
  generation: z.number().nullable(),
  observed_generation: z.number().nullable(),
  conditions: z.array(z.record(z.string(), z.unknown())),
  url: z.string().nullable(),
  latest_ready_revision: z.string().nullable(),
  waited_ms: z.number(),
});

export const SliEvidence = defineEvidence('sli', 'reports/sli', {
  target: z.string(),
  /** The ingress the requests were sent to (config ingress.url) with the target's host as Host. */
  via_ingress: z.string().nullable().optional(),
  ksvc: z.string().nullable(),
  namespace: z.string().nullable(),
  context: z.string().nullable(),
  reported_ready: z.boolean().nullable(),
  mismatch: z.boolean(),
  summary: z.record(z.string(), z.unknown()),
});

export const CanaryEvidence = defineEvidence('canary', 'reports/canary', {
  ...Target,
  ksvc: z.string(),
  stable: z.string(),
  candidate: z.string(),
  steps: z.array(z.number()),
  interval_ms: z.number(),
  provider: z.enum(['probe', 'prometheus']),
  resumed_from: z.object({ run_id: z.string(), step_index: z.number() }).nullable(),
  result: z.enum(['promoted', 'aborted', 'held', 'failed']),
  reason: z.string(),
  checks: z.array(SloCheckSchema),
  timeline: z.array(TimelineEvent),
  detect_to_restore_ms: z.number().nullable(),
  traffic_final: z.array(z.record(z.string(), z.unknown())),
  /** Every hook run (pre_rollout, pre_step, post_rollout, on_abort) with its steps' decisions and output. */
  hooks: z.array(HookRecordSchema).optional(),
  /** Who ran it (user name), for `vpm history`. */
  by: z.string().optional(),
});

export const GuardEvidence = defineEvidence('guard', 'reports/guard', {
  ...Target,
  ksvc: z.string(),
  revision: z.string(),
  previous_revision: z.string(),
  window_ms: z.number(),
  interval_ms: z.number(),
  provider: z.enum(['probe', 'prometheus']),
  result: z.enum(['ok', 'ng', 'inconclusive']),
  reason: z.string(),
  checks: z.array(SloCheckSchema),
  rollback: z
    .object({ done: z.boolean(), traffic: z.array(z.record(z.string(), z.unknown())), at: z.iso.datetime().nullable() })
    .nullable(),
  freeze: z.record(z.string(), z.unknown()).nullable(),
  issue: z.object({ number: z.number().nullable(), url: z.string().nullable(), error: z.string().nullable() }).nullable(),
  timeline: z.array(TimelineEvent),
  by: z.string().optional(),
});

/** One release: the apply, ready, canary and guard evidence it produced, each with its verdict. */
export const ReleaseEvidence = defineEvidence('release', 'reports/release', {
  ...Target,
  ksvc: z.string(),
  manifest: z.string(),
  template_hash: z.string(),
  by: z.string(),
  first_deploy: z.boolean(),
  stable: z.string().nullable(),
  candidate: z.string().nullable(),
  steps: z.array(z.union([z.number(), z.literal('pause')])),
  interval_ms: z.number(),
  guard_window_ms: z.number(),
  resumed_from: z.object({ run_id: z.string(), phase: z.string() }).nullable(),
  result: z.enum(['released', 'first_deploy', 'unchanged', 'aborted', 'guard_failed', 'held', 'failed']),
  reason: z.string(),
  /** Every notification sent (target URL shown without credentials), with its outcome. */
  notifications: z.array(z.record(z.string(), z.unknown())),
  phases: z.array(
    z.object({
      phase: z.enum(['apply', 'ready', 'canary', 'guard']),
      run_id: z.string().nullable(),
      evidence: z.string().nullable(),
      verdict: z.string(),
      at: z.iso.datetime(),
    }),
  ),
  timeline: z.array(TimelineEvent),
});

/** `vpm canary undo`: 100% back on an earlier good revision. */
export const UndoEvidence = defineEvidence('undo', 'reports/undo', {
  ...Target,
  ksvc: z.string(),
  from: z.string().nullable(),
  to: z.string(),
  by: z.string(),
  reason: z.string(),
  traffic: z.array(z.record(z.string(), z.unknown())),
  override: z.object({ what: z.string(), reason: z.string() }).nullable(),
  /** Good revisions a default undo passed over because they no longer exist on the cluster. */
  skipped: z.array(z.string()),
});
