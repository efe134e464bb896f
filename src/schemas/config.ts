import { z } from 'zod';
import { JobStepSchema, RepoPath } from './job.js';

/** `vpm.config.yaml` / `vpm.config.json` at the repo root. Every section is optional. */
/** Shell syntax is not allowed in command patterns (only in verbatim allowlist entries). */
const PATTERN_SYNTAX = /[;&|<>()`$*?[\]{}\n\r]/;

/**
 * `execution_policy`: what the runner (`vpm run`) may execute. Decisions are made on the normalised
 * command (wrappers such as env/sudo/nice/timeout/xargs/`sh -c` unwrapped, `VAR=` prefixes and
 * path-spelled program names removed, git global options dropped), deny before allow, and any error
 * denies. Without this section the runner uses a built-in policy (src/runner/defaults.ts).
 *
 * - `deny_if_contains`: command patterns as shell words. First word = the program; later plain words
 *   must all appear in order among its arguments (for git the first must be the subcommand); words
 *   starting with `-` are flags that must be present in any spelling (`-rf` = `-r` and `-f`).
 *   `["rm", "git push"]` denies every rm and every git push, but not `echo rm`.
 * - `deny_patterns`: JavaScript regular expressions over each normalised command (and each wrapper
 *   layer) written as its words joined by single spaces, e.g. `"^kubectl .*\\bdelete\\b"`.
 * - `allowlist`: command prefixes matched word by word (`git status` allows `git status --short`,
 *   not `git push`); an entry equal to a whole string command (or `sh -c` string) also allows it
 *   verbatim, which is the only way for shell syntax (`ls | wc -l`) to pass. sudo/doas/su/chroot/ssh
 *   need an entry of their own.
 * - `default_action`: for commands no rule decided (default deny).
 * - `stop_on_deny`: true stops the job at the first denied step (later steps are `stopped`); false
 *   goes on with the next step. A denied step makes the run exit 1 either way.
 * - `timeout_s`: per-step timeout when the step sets none.
 */
export const ExecutionPolicySchema = z
  .object({
    default_action: z.enum(['allow', 'deny']).default('deny'),
    deny_if_contains: z
      .array(
        z
          .string()
          .trim()
          .min(1)
          .refine((s) => !PATTERN_SYNTAX.test(s), 'must be plain words (shell syntax is only for allowlist entries)'),
      )
      .default([]),
    deny_patterns: z
      .array(
        z
          .string()
          .min(1)
          .refine((s) => {
            try {
              new RegExp(s);
              return true;
            } catch {
              return false;
            }
          }, 'must be a valid JavaScript regular expression'),
      )
      .default([]),
    allowlist: z.array(z.string().trim().min(1)).default([]),
    stop_on_deny: z.boolean().default(true),
    timeout_s: z.number().positive().max(86_400).default(600),
    /** Variable names a job may set (`NAME=value`, `env NAME=value`); every other name denies. */
    env_allow: z.array(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be a variable name')).default([]),
    /** Steps may use the network (the sandbox otherwise has none). */
    network: z.boolean().default(false),
    /** Examples `vpm policy test` checks: string commands or argv arrays the policy must deny / allow. */
    examples: z
      .object({
        deny: z.array(z.union([z.string().min(1), z.array(z.string()).min(1)])).default([]),
        allow: z.array(z.union([z.string().min(1), z.array(z.string()).min(1)])).default([]),
      })
      .strict()
      .optional(),
  })
  .strict();

/**
 * `runner`: how exec steps run. `sandbox: bwrap` (default) runs each step in bubblewrap; `none`
 * runs them unsandboxed and is honoured only together with `vpm run --no-sandbox` (recorded in every
 * step log and the phase summary). `kill_grace_s`: SIGTERM → SIGKILL delay at a step's timeout.
 */
export const RunnerConfigSchema = z
  .object({
    sandbox: z.enum(['bwrap', 'none']).default('bwrap'),
    kill_grace_s: z.number().min(0).max(60).default(2),
  })
  .strict();

/**
 * `job_loop`: one inbox job per `vpm run`; `job_index` (persisted in
 * reports/codex_runs/phase_state.json) starts at 1 and grows after each job an exec run ends `done` (a dry run never moves it); when it
 * exceeds `max_jobs` the run ends in phase `job_loop_complete` (exit 0) and writes `job_result.path`.
 * `job_input.path` (optional JSON object) overrides `job_name` and is passed to each step as the
 * payload (secrets masked, control characters stripped, at most 2000 characters).
 */
export const JobLoopSchema = z
  .object({
    enabled: z.boolean().default(false),
    max_jobs: z.number().int().positive().default(1),
    job_name: z.string().min(1).max(200).default('job'),
    job_input: z
      .object({ path: RepoPath.default('codex/job_input.json'), required: z.boolean().default(false) })
      .strict()
      .default({ path: 'codex/job_input.json', required: false }),
    job_result: z
      .object({ path: RepoPath.default('reports/job_result.json') })
      .strict()
      .default({ path: 'reports/job_result.json' }),
  })
  .strict();

const SLO_THRESHOLDS = {
  success_rate: z.number().min(0).max(1).default(0.99),
  latency_p95_ms: z.number().positive().default(500),
  min_requests: z.number().int().positive().default(20),
};
export const SloSchema = z.object(SLO_THRESHOLDS).strict();

/** `< 0.01`, `>= 0.99`: a comparison operator and a number. */
export const CONDITION = /^\s*(<=|>=|==|!=|<|>)\s*(-?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)\s*$/;
const Condition = z.string().regex(CONDITION, 'must be an operator (<, <=, >, >=, ==, !=) and a number, e.g. "< 0.01"');
/** The placeholders a metric's query may use; anything else in `{{…}}` is a typo. */
export const METRIC_PLACEHOLDERS = ['namespace', 'revision', 'ksvc', 'window'] as const;
const PromqlTemplate = z
  .string()
  .trim()
  .min(1)
  .superRefine((q, ctx) => {
    for (const m of q.matchAll(/\{\{\s*([^}]*?)\s*\}\}/g))
      if (!(METRIC_PLACEHOLDERS as readonly string[]).includes(m[1]))
        ctx.addIssue({
          code: 'custom',
          message: `unknown placeholder {{${m[1]}}} (known: ${METRIC_PLACEHOLDERS.map((p) => `{{${p}}}`).join(', ')})`,
        });
  });

/**
 * One named metric of the analysis: a PromQL template evaluated per window for the candidate (and,
 * with `compare: stable`, for the stable revision), judged by `condition` and/or the comparison.
 */
export const AnalysisMetricSchema = z
  .object({
    name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/, 'must be letters, digits, ".", "_" or "-"'),
    query: PromqlTemplate,
    condition: Condition.optional(),
    compare: z.literal('stable').optional(),
    /** With compare: candidate − stable must satisfy this. */
    difference: Condition.optional(),
    /** With compare: candidate ÷ stable must satisfy this. */
    ratio: Condition.optional(),
    /** Fewer samples (requests of the revision in the window, or `samples_query`) → inconclusive. */
    min_samples: z.number().int().min(1).optional(),
    samples_query: PromqlTemplate.optional(),
    /** Evaluated and recorded, never decides. */
    dry_run: z.boolean().default(false),
  })
  .strict()
  .superRefine((m, ctx) => {
    if (m.compare) {
      if ((m.difference === undefined) === (m.ratio === undefined))
        ctx.addIssue({ code: 'custom', path: ['compare'], message: 'compare: stable needs exactly one of difference or ratio' });
      if (!/\{\{\s*revision\s*\}\}/.test(m.query))
        ctx.addIssue({
          code: 'custom',
          path: ['query'],
          message: 'compare: stable needs {{revision}} in the query (else both sides are the same)',
        });
    } else {
      if (m.condition === undefined)
        ctx.addIssue({ code: 'custom', path: ['condition'], message: 'required (or compare: stable with difference/ratio)' });
      for (const key of ['difference', 'ratio'] as const)
        if (m[key] !== undefined) ctx.addIssue({ code: 'custom', path: [key], message: 'only with compare: stable' });
    }
    if (m.samples_query && m.min_samples === undefined)
      ctx.addIssue({ code: 'custom', path: ['samples_query'], message: 'only with min_samples' });
  });

/** Hooks: runner steps (as in an inbox job) run through the execution policy and the sandbox. */
export const HOOK_KINDS = ['pre_rollout', 'pre_step', 'post_rollout', 'on_abort'] as const;
const HookSteps = z.array(JobStepSchema).min(1).max(20).optional();
export const HooksSchema = z.object({ pre_rollout: HookSteps, pre_step: HookSteps, post_rollout: HookSteps, on_abort: HookSteps }).strict();
export type HookKind = (typeof HOOK_KINDS)[number];

/** The SLO file (and config `canary.slo`): the built-in thresholds, named metrics, their limits, hooks. */
export const AnalysisSchema = z
  .object({
    ...SLO_THRESHOLDS,
    metrics: z
      .array(AnalysisMetricSchema)
      .max(50)
      .default([])
      .superRefine((ms, ctx) => {
        const seen = new Set<string>();
        ms.forEach((m, i) => {
          if (seen.has(m.name)) ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `duplicate metric name ${m.name}` });
          seen.add(m.name);
        });
      }),
    limits: z
      .object({
        /** Query errors in a row (per deciding metric) that fail the gate; fewer hold it. */
        consecutive_errors: z.number().int().min(1).default(2),
        /** Inconclusive windows in a row at one step before the rollout gives up (exit 5); default --max-holds, 3. */
        inconclusive_windows: z.number().int().min(1).optional(),
      })
      .strict()
      .default({ consecutive_errors: 2 }),
    hooks: HooksSchema.optional(),
  })
  .strict();

/** `notify[]`: an HTTP POST per rollout event (Slack-compatible text or a JSON document). */
export const NOTIFY_EVENTS = ['held', 'paused', 'aborted', 'promoted', 'released', 'guard_failed'] as const;
export const NotifyTargetSchema = z
  .object({
    url: z.string().url(),
    events: z
      .array(z.enum(NOTIFY_EVENTS))
      .min(1)
      .default([...NOTIFY_EVENTS]),
    format: z.enum(['slack', 'json']).default('json'),
  })
  .strict();

/**
 * `fleet`: where Argo CD runs and which clusters it deploys to (`vpm clusters status|sync`).
 * Applications are read from `argocd_context` (default: the first of `contexts`), namespace
 * `namespace`; every context in `contexts` is checked for reachability.
 */
export const FleetConfigSchema = z
  .object({
    argocd_context: z.string().min(1).optional(),
    namespace: z.string().min(1).default('argocd'),
    contexts: z.array(z.string().min(1)).min(1).default(['cluster-a', 'cluster-b']),
    /** Label selector for the Applications vpm looks at (default: all in the namespace). */
    selector: z.string().optional(),
    /** Bound on each cluster's reachability check, ms. */
    request_timeout_ms: z.number().int().positive().default(5_000),
    /** How long `clusters sync` waits for the operation (and health), e.g. `5m`. */
    sync_timeout: z.string().default('5m'),
    /** The AppProject of the fleet's Applications (where `vpm freeze` writes its deny sync windows). */
    project: z.string().min(1).default('vpm'),
  })
  .strict();

/** A recurring freeze (`vpm freeze schedule add`), mirrored into the AppProject as a deny sync window. */
export const FreezeScheduleSchema = z
  .object({
    id: z.string().regex(/^[a-z0-9-]{1,40}$/),
    cron: z.string().min(1),
    duration: z.string().min(1),
    tz: z.string().min(1).default('UTC'),
    reason: z.string().min(1),
    by: z.string().optional(),
    added_at: z.string().optional(),
  })
  .strict();

/**
 * `freeze`: where a freeze applies beyond this checkout's `.ops/deploy_freeze.json`. `cluster` (default:
 * on when `fleet` is configured) also writes the AppProject deny window, the namespace annotations and
 * the admission policy; `namespaces` adds namespaces to annotate on every fleet cluster (besides the
 * Applications' destinations); `schedules` are the recurring freezes.
 */
export const FreezeConfigSchema = z
  .object({
    cluster: z.boolean().optional(),
    namespaces: z.array(z.string().min(1)).optional(),
    schedules: z.array(FreezeScheduleSchema).default([]),
  })
  .strict();

const HAPROXY_NAME = /^[A-Za-z0-9_.:-]{1,128}$/;

/**
 * `failover`: edge failover through HAProxy's Runtime API (`vpm failover`). `socket` is the path of
 * `stats socket <path> level admin`; `from`/`to` are server names in `backend`; `servers` maps each
 * server name to the kube context of the cluster behind it (for the Argo CD status in the evidence).
 * Probes go to `probe_url` (the edge, recommended) or, without it, to each server's own address +
 * `probe_path`; a probe succeeds on a 2xx answer within `probe_timeout_ms`.
 */
export const FailoverConfigSchema = z
  .object({
    socket: z.string().min(1).optional(),
    backend: z.string().regex(HAPROXY_NAME, 'must be an HAProxy backend name').default('edge'),
    from: z.string().regex(HAPROXY_NAME, 'must be an HAProxy server name').optional(),
    to: z.string().regex(HAPROXY_NAME, 'must be an HAProxy server name').optional(),
    servers: z.record(z.string().regex(HAPROXY_NAME, 'must be an HAProxy server name'), z.string().min(1)).optional(),
    probe_url: z.string().url().optional(),
    probe_host: z.string().min(1).optional(),
    probe_path: z.string().startsWith('/').default('/'),
    probe_interval_ms: z.number().int().min(10).max(60_000).default(100),
    probe_timeout_ms: z.number().int().positive().max(60_000).default(1_000),
    fail_threshold: z.number().int().min(1).max(100).default(2),
    steady_successes: z.number().int().min(1).max(1_000).default(10),
    target_rto_ms: z.number().positive().default(1_500),
    recovery_timeout_ms: z.number().int().positive().default(30_000),
  })
  .strict();

export const ConfigSchema = z
  .object({
    test: z
      .object({ command: z.string().min(1).default('npm test') })
      .strict()
      .default({ command: 'npm test' }),
    summary: z
      .object({
        provider: z.enum(['extractive', 'openai']).default('extractive'),
        max_entries: z.number().int().positive().default(500),
        timeout_ms: z.number().int().positive().default(20_000),
        base_url: z.string().url().optional(),
        model: z.string().optional(),
      })
      .strict()
      .default({ provider: 'extractive', max_entries: 500, timeout_ms: 20_000 }),
    execution_policy: ExecutionPolicySchema.optional(),
    runner: RunnerConfigSchema.optional(),
    job_loop: JobLoopSchema.optional(),
    kube: z.object({ context: z.string().optional(), namespace: z.string().optional() }).strict().optional(),
    // Where requests for a KService's URL (http://hello.default.example.com) are sent when its domain does
    // not resolve, as with a kind cluster: the ingress's address, with the URL's host as the Host header.
    ingress: z
      .object({ url: z.url({ protocol: /^https?$/, error: 'an http(s) URL, e.g. http://127.0.0.1:8081' }) })
      .strict()
      .optional(),
    canary: z
      .object({
        steps: z.array(z.number().int().min(1).max(100)).optional(),
        interval: z.string().optional(),
        provider: z.enum(['probe', 'prometheus']).optional(),
        prometheus_url: z.url({ protocol: /^https?$/, error: 'an http(s) URL, e.g. http://127.0.0.1:9090' }).optional(),
        /** How often Prometheus gets a sample of the request metrics (a duration, or seconds); read from Prometheus when unset. */
        prometheus_scrape_interval: z.union([z.string(), z.number().positive()]).optional(),
        slo: AnalysisSchema.omit({ hooks: true }).optional(),
        /** Rollout hooks; an SLO file's `hooks` replace these kind by kind. */
        hooks: HooksSchema.optional(),
      })
      .strict()
      .optional(),
    github: z
      .object({
        repo: z
          .string()
          .regex(/^[^/\s]+\/[^/\s]+$/, 'must be owner/name')
          .optional(),
      })
      .strict()
      .optional(),
    fleet: FleetConfigSchema.optional(),
    notify: z.array(NotifyTargetSchema).optional(),
    freeze: FreezeConfigSchema.optional(),
    failover: FailoverConfigSchema.optional(),
  })
  .strict();

export type VpmConfig = z.infer<typeof ConfigSchema>;
export type ExecutionPolicyConfig = z.infer<typeof ExecutionPolicySchema>;
export type JobLoopConfig = z.infer<typeof JobLoopSchema>;
