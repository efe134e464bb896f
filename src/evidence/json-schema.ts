/** JSON Schema (draft 2020-12) for every evidence kind and every other file format, from the zod schemas. */
import { z } from 'zod';
import { loadEvidenceKinds, loadFileFormats } from './registry.js';

export interface JsonSchemaFile {
  /** Path under the output directory. */
  path: string;
  id: string;
  schema: Record<string, unknown>;
}

const SCHEMA_ID_BASE = 'urn:vpm:schema:';

export async function buildJsonSchemas(): Promise<JsonSchemaFile[]> {
  const out: JsonSchemaFile[] = [];
  const kinds = await loadEvidenceKinds();
  for (const kind of [...kinds.values()].sort((a, b) => a.kind.localeCompare(b.kind))) {
    const schema = z.toJSONSchema(kind.schema, { io: 'output', unrepresentable: 'any' }) as Record<string, unknown>;
    out.push({
      path: `evidence/${kind.kind}.schema.json`,
      id: kind.schemaId,
      schema: {
        $id: `${SCHEMA_ID_BASE}evidence/${kind.kind}.schema.json`,
        title: kind.schemaId,
        description: `vpm evidence '${kind.kind}' (files under ${kind.dir}/)`,
        ...schema,
      },
    });
  }
  for (const format of await loadFileFormats()) {
    // Input side: what vpm accepts when it reads the file (defaults may be omitted).
    const schema = z.toJSONSchema(format.schema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
    out.push({
      path: `${format.name}.schema.json`,
      id: `${format.module}.${format.exportName}`,
      schema: { $id: `${SCHEMA_ID_BASE}${format.name}.schema.json`, title: `${format.module}.${format.exportName}`, ...schema },
    });
  }
  return out;
}
