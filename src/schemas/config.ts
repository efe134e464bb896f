import { z } from 'zod';

/** `vpm.config.yaml` / `vpm.config.json` at the repo root. Every section is optional. */
export const ExecutionPolicySchema = z
  .object({
    default_action: z.enum(['allow', 'deny']).default('deny'),
    deny_if_contains: z.array(z.string()).default([]),
    deny_patterns: z.array(z.string()).default([]),
    allowlist: z.array(z.string()).default([]),
    stop_on_deny: z.boolean().default(true),
  })
  .strict();

export const JobLoopSchema = z
  .object({
    enabled: z.boolean().default(false),
    max_jobs: z.number().int().positive().default(1),
    job_name: z.string().default('job'),
    job_input: z
      .object({ path: z.string().default('codex/job_input.json'), required: z.boolean().default(false) })
      .strict()
      .default({ path: 'codex/job_input.json', required: false }),
    job_result: z
      .object({ path: z.string().default('reports/job_result.json') })
      .strict()
      .default({ path: 'reports/job_result.json' }),
  })
  .strict();

export const SloSchema = z
  .object({
    success_rate: z.number().min(0).max(1).default(0.99),
    latency_p95_ms: z.number().positive().default(500),
    min_requests: z.number().int().positive().default(20),
  })
  .strict();

export const ConfigSchema = z
  .object({
    test: z.object({ command: z.string().min(1).default('npm test') }).strict().default({ command: 'npm test' }),
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
    job_loop: JobLoopSchema.optional(),
    kube: z.object({ context: z.string().optional(), namespace: z.string().optional() }).strict().optional(),
    canary: z
      .object({
        steps: z.array(z.number().int().min(1).max(100)).optional(),
        interval: z.string().optional(),
        provider: z.enum(['probe', 'prometheus']).optional(),
        prometheus_url: z.string().url().optional(),
        slo: SloSchema.optional(),
      })
      .strict()
      .optional(),
    github: z.object({ repo: z.string().regex(/^[^/\s]+\/[^/\s]+$/, 'must be owner/name').optional() }).strict().optional(),
    failover: z
      .object({
        socket: z.string().optional(),
        backend: z.string().default('edge'),
        servers: z.record(z.string(), z.string()).optional(),
        target_rto_ms: z.number().positive().optional(),
      })
      .strict()
      .optional(),
  })
  .strict();

export type VpmConfig = z.infer<typeof ConfigSchema>;
export type ExecutionPolicyConfig = z.infer<typeof ExecutionPolicySchema>;
export type JobLoopConfig = z.infer<typeof JobLoopSchema>;
