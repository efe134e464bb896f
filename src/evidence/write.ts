/**
 * Writes evidence files: the common envelope (schema, run_id, kind, times, status, git, tool) plus
 * the kind's body, validated against the kind's zod schema, secret-masked, never overwritten.
 */
import { existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import { OperationalError } from '../core/errors.js';
import { writeJsonAtomic } from '../core/fs.js';
import { makeId } from '../core/ids.js';
import { maskDeep } from '../core/secrets.js';
import type { EvidenceKind } from '../schemas/evidence.js';
import { VERSION } from '../version.js';
import { gitInfo } from '../adapters/git-info.js';

export interface EvidenceWriteInput {
  kind: EvidenceKind;
  cwd: string;
  runId?: string;
  startedAt: Date;
  finishedAt?: Date;
  status: string;
  /** File name under the kind's directory; default `<run_id>.json`. */
  path?: string;
  body: Record<string, unknown>;
  env?: NodeJS.ProcessEnv;
}

export function newRunId(kind: string, now = new Date()): string {
  return makeId(kind, now);
}

export async function writeEvidence(input: EvidenceWriteInput): Promise<{ path: string; document: Record<string, unknown> }> {
  const runId = input.runId ?? newRunId(input.kind.kind, input.startedAt);
  const document = maskDeep(
    {
      schema: input.kind.schemaId,
      run_id: runId,
      kind: input.kind.kind,
      started_at: input.startedAt.toISOString(),
      finished_at: (input.finishedAt ?? new Date()).toISOString(),
      status: input.status,
      git: await gitInfo(input.cwd),
      tool: { name: 'vpm', version: VERSION },
      ...input.body,
    },
    input.env ?? process.env,
  );
  const parsed = input.kind.schema.safeParse(document);
  if (!parsed.success) {
    // A bug, not a user error: evidence that does not match its own schema must not be written.
    throw new OperationalError(
      `internal: ${input.kind.kind} evidence does not match ${input.kind.schemaId}: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    );
  }
  const path = join(input.cwd, input.kind.dir, input.path ?? `${runId}.json`);
  if (existsSync(path)) throw new OperationalError(`evidence ${relative(input.cwd, path)} already exists; evidence is never overwritten`);
  await writeJsonAtomic(path, document);
  return { path, document };
}
