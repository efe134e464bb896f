import { z } from 'zod';

/**
 * An inbox job: `codex/inbox/<id>.json`, written by `vpm ask` (or by hand / an agent) and executed
 * by `vpm run`. Every path in a job is relative to the repository and may not leave it.
 */

/** A repo-relative path: no absolute paths, no `..` segments, no backslashes or control characters. */
export const RepoPath = z
  .string()
  .min(1)
  .max(1024)
  .refine((p) => !p.startsWith('/') && !/^[A-Za-z]:/.test(p), 'must be relative to the repository, not absolute')
  .refine((p) => !p.split('/').includes('..'), 'must not contain ".." (path traversal)')
  .refine((p) => !/[\\\u0000-\u001f\u007f]/.test(p), 'must not contain backslashes or control characters');

/** Names used in ids, file names and overlay paths: letters, digits, `_`, `-` (and `.` inside ids). */
export const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$/;
export const JOB_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export const JobStepSchema = z
  .object({
    name: z.string().min(1).max(200),
    /** Executed as is (argv[0] looked up on PATH), never through a shell. */
    argv: z.array(z.string().max(65_536)).min(1).max(4096).optional(),
    /** A command line parsed into words; shell syntax in it is denied unless allowlisted verbatim. */
    command: z.string().min(1).max(65_536).optional(),
    timeout_s: z.number().positive().max(86_400).optional(),
    /** Exit codes counted as success (default [0]; `kubectl diff` uses [0, 1]). */
    ok_exit_codes: z.array(z.number().int().min(0).max(255)).min(1).optional(),
    /** The step may use the network (its sandbox shares the host's); default off. */
    network: z.boolean().optional(),
  })
  .strict()
  .refine((s) => (s.argv === undefined) !== (s.command === undefined), { message: 'a step needs exactly one of argv or command' });

export const JobSourceSchema = z.union([
  z.string().max(2048),
  z
    .object({
      type: z.enum(['cli', 'issue_comment', 'issue', 'agent', 'file']),
      url: z.string().max(2048).optional(),
      issue: z.number().int().positive().optional(),
      comment_id: z.union([z.number().int().positive(), z.string().regex(/^\d+$/)]).optional(),
      repo: z.string().max(200).optional(),
    })
    .strict(),
]);

export const ApplyBlockSchema = z
  .object({
    overlay: RepoPath.refine((p) => /\.(ya?ml|json)$/.test(p), 'must name a .yaml, .yml or .json manifest'),
    context: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9._@:/-]{0,252}$/, 'must be a kube context name')
      .optional(),
    namespace: z
      .string()
      .regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, 'must be a namespace name')
      .optional(),
    env: z.string().regex(SAFE_NAME).optional(),
    target: z.string().regex(SAFE_NAME).optional(),
    /**
     * `vpm` (default): one step `vpm apply OVERLAY` (the deploy command: freeze check, server-side
     * apply, evidence). `kubectl`: `kubectl diff -f`, `kubectl apply --server-side -f`, `kubectl get -f`.
     */
    lane: z.enum(['vpm', 'kubectl']).default('vpm'),
  })
  .strict();

export const JobSchema = z
  .object({
    v: z.literal(1).optional(),
    id: z.string().regex(JOB_ID, 'must be letters, digits, ".", "_" or "-" (at most 128)'),
    kind: z.enum(['ask', 'apply', 'exec']),
    created_at: z.iso.datetime({ offset: true }),
    source: JobSourceSchema,
    text: z.string().max(65_536).optional(),
    steps: z.array(JobStepSchema).max(1000).optional(),
    apply: ApplyBlockSchema.optional(),
    payload: z.unknown().optional(),
    job_input: z
      .object({ path: RepoPath, required: z.boolean().default(false) })
      .strict()
      .optional(),
  })
  .strict()
  .superRefine((job, ctx) => {
    if (job.kind === 'apply' && !job.apply)
      ctx.addIssue({ code: 'custom', path: ['apply'], message: 'an apply job needs an apply block {overlay, context?}' });
    if (job.kind !== 'apply' && job.apply)
      ctx.addIssue({ code: 'custom', path: ['apply'], message: `only apply jobs have an apply block (kind is ${job.kind})` });
    if (job.kind === 'exec' && (!job.steps || job.steps.length === 0))
      ctx.addIssue({ code: 'custom', path: ['steps'], message: 'an exec job needs at least one step' });
  });

export type Job = z.infer<typeof JobSchema>;
export type JobStep = z.infer<typeof JobStepSchema>;
export type ApplyBlock = z.infer<typeof ApplyBlockSchema>;
