/**
 * `vpm ask`: turns an /ask request into an inbox job. `S5 apply: <env> <target>` in the text makes
 * an apply job for infra/k8s/overlays/<env>/<target>.yaml; anything else is an ask job that records
 * the request (and carries it as payload).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { JobSchema, SAFE_NAME, type Job } from '../schemas/job.js';
import { writeJsonAtomic } from '../core/fs.js';
import { maskSecrets } from '../core/secrets.js';
import { makeId } from '../core/ids.js';
import { UsageError } from '../core/errors.js';
import { formatZodIssues } from '../core/zod-issues.js';
import { INBOX_DIR } from './paths.js';

const S5_APPLY = /\bS5\s+apply:\s*(\S+)\s+(\S+)/i;

export interface AskRequest {
  text: string;
  source: Job['source'];
  context?: string;
  namespace?: string;
}

export interface AskResult {
  job: Job;
  file: string;
  overlay_exists?: boolean;
}

function safeName(value: string, what: string): string {
  const v = value.replace(/[.,;:!?)\]}'"]+$/, '');
  if (!SAFE_NAME.test(v)) {
    throw new UsageError(`S5 apply: ${what} ${JSON.stringify(value)} is not a safe name`, {
      hint: `use letters, digits, "-" and "_" only, e.g. "S5 apply: dev hello-ksvc"`,
    });
  }
  return v;
}

/** Builds the job for a request (no I/O). */
export function buildAskJob(req: AskRequest, now: Date, env: NodeJS.ProcessEnv): Job {
  const text = maskSecrets(req.text.replace(/^\s*\/ask\b\s*/i, ''), env).trim();
  if (!text) throw new UsageError('the /ask text is empty', { hint: 'pass the request text, e.g. vpm ask "S5 apply: dev hello-ksvc"' });
  const created_at = now.toISOString();
  const m = S5_APPLY.exec(text);
  let candidate: unknown;
  if (m) {
    const envName = safeName(m[1], 'env');
    const target = safeName(m[2], 'target');
    candidate = {
      v: 1,
      id: makeId(`apply_${target}_${envName}`, now),
      kind: 'apply',
      created_at,
      source: req.source,
      text,
      apply: {
        overlay: `infra/k8s/overlays/${envName}/${target}.yaml`,
        env: envName,
        target,
        ...(req.context ? { context: req.context } : {}),
        ...(req.namespace ? { namespace: req.namespace } : {}),
      },
    };
  } else {
    candidate = { v: 1, id: makeId('ask', now), kind: 'ask', created_at, source: req.source, text };
  }
  const parsed = JobSchema.safeParse(candidate);
  if (!parsed.success) {
    throw new UsageError(`cannot build a valid job:\n  ${formatZodIssues(parsed.error).join('\n  ')}`, {
      hint: 'check --context/--namespace and the S5 apply names',
    });
  }
  return parsed.data;
}

/** Writes the job atomically to codex/inbox/<id>.json. */
export async function writeAskJob(cwd: string, job: Job): Promise<AskResult> {
  const file = join(INBOX_DIR, `${job.id}.json`);
  await writeJsonAtomic(join(cwd, file), job);
  return { job, file, ...(job.apply ? { overlay_exists: existsSync(join(cwd, job.apply.overlay)) } : {}) };
}
