import { z } from 'zod';

/**
 * The common envelope of every evidence file. Each evidence kind extends it with its own body
 * (see `defineEvidence`); `vpm schema export` writes all of them as JSON Schema.
 */
export const EvidenceEnvelopeSchema = z.object({
  schema: z.string().regex(/^vpm\.evidence\.[a-z_-]+\/v\d+$/),
  run_id: z.string().min(1),
  kind: z.string().min(1),
  started_at: z.iso.datetime(),
  finished_at: z.iso.datetime(),
  status: z.string().min(1),
  git: z.object({ sha: z.string().nullable(), branch: z.string().nullable() }),
  tool: z.object({ name: z.literal('vpm'), version: z.string() }),
});

export type EvidenceEnvelope = z.infer<typeof EvidenceEnvelopeSchema>;

/** Registry of evidence kinds: kind → { schema id, zod schema of the whole file, where it is written }. */
export interface EvidenceKind<B extends z.ZodRawShape = z.ZodRawShape> {
  kind: string;
  schemaId: string;
  schema: z.ZodObject<any>;
  /** Directory under the repo where files of this kind live (for lookup and validation). */
  dir: string;
  body: B;
}

export const evidenceKinds = new Map<string, EvidenceKind>();

export function defineEvidence<B extends z.ZodRawShape>(kind: string, dir: string, body: B): EvidenceKind<B> & { schema: z.ZodObject<any> } {
  const schemaId = `vpm.evidence.${kind}/v1`;
  const schema = EvidenceEnvelopeSchema.extend({ schema: z.literal(schemaId), kind: z.literal(kind) }).extend(body);
  const def = { kind, schemaId, schema, dir, body };
  evidenceKinds.set(kind, def);
  return def;
}
