/**
 * Evidence: the common envelope and the registry of evidence kinds.
 *
 * Convention for adding an evidence kind (read by src/evidence/registry.ts):
 *   1. Put it in `src/schemas/<area>-evidence.ts` (or `<area>-report.ts`): the registry imports
 *      every module with those names, so no index needs editing.
 *   2. `export const CanaryEvidence = defineEvidence('canary', 'reports/canary', { …body shape… })`
 *      — kind is lower-case `[a-z_-]+`, the schema id becomes `vpm.evidence.<kind>/v1`, `dir` is where
 *      its files live under the repo.
 *   3. Write files only through `writeEvidence({ kind: CanaryEvidence, … })` (src/evidence/write.ts):
 *      validated against the schema, secrets masked, never overwritten (a re-run gets a new run_id).
 * `vpm schema export` writes every kind as JSON Schema; `vpm healthcheck` validates every
 * JSON file under `reports/` whose `schema` names a registered kind.
 */
import { z } from 'zod';

/** The common envelope of every evidence file; each kind extends it with its own body. */
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

export function evidenceKindBySchemaId(schemaId: string): EvidenceKind | undefined {
  for (const k of evidenceKinds.values()) if (k.schemaId === schemaId) return k;
  return undefined;
}

export function defineEvidence<B extends z.ZodRawShape>(
  kind: string,
  dir: string,
  body: B,
): EvidenceKind<B> & { schema: z.ZodObject<any> } {
  const schemaId = `vpm.evidence.${kind}/v1`;
  const schema = EvidenceEnvelopeSchema.extend({ schema: z.literal(schemaId), kind: z.literal(kind) }).extend(body);
  const def = { kind, schemaId, schema, dir, body };
  evidenceKinds.set(kind, def);
  return def;
}
