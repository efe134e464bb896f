/**
 * Loads every evidence kind and every other file format vpm defines, by convention rather than by an
 * index someone must remember to edit: each `src/schemas/*-evidence.ts` / `*-report.ts` module is
 * imported (which registers its kinds through `defineEvidence`), and every other schema module's
 * exported zod schemas named `…Schema` are file formats for `vpm schema export`.
 */
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { z } from 'zod';
import { evidenceKinds, type EvidenceKind } from '../schemas/evidence.js';

const SCHEMAS_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'schemas');
const MODULE_RE = /^[a-z0-9-]+\.(js|ts)$/;
const EVIDENCE_MODULE_RE = /-(evidence|report)\.(js|ts)$/;

function schemaModules(): string[] {
  // Both the compiled tree (dist/schemas/*.js) and the sources under test (src/schemas/*.ts).
  const files = readdirSync(SCHEMAS_DIR).filter((f) => MODULE_RE.test(f) && !f.endsWith('.d.ts'));
  const ext = files.some((f) => f.endsWith('.js')) ? '.js' : '.ts';
  return files.filter((f) => f.endsWith(ext)).sort();
}

let loaded: Promise<Map<string, EvidenceKind>> | undefined;

/** Imports every evidence module once; returns the registry (kind → definition). */
export function loadEvidenceKinds(): Promise<Map<string, EvidenceKind>> {
  loaded ??= (async () => {
    for (const file of schemaModules().filter((f) => EVIDENCE_MODULE_RE.test(f))) {
      await import(pathToFileURL(join(SCHEMAS_DIR, file)).href);
    }
    return evidenceKinds;
  })();
  return loaded;
}

export interface FileFormat {
  /** Kebab-case name used for the exported file, e.g. `config`, `chat-entry`. */
  name: string;
  module: string;
  exportName: string;
  schema: z.ZodType;
}

function kebab(name: string): string {
  return name
    .replace(/Schema$/, '')
    .replace(/([a-z0-9])([A-Z])/g, '$1-$2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1-$2')
    .toLowerCase();
}

/** Every exported `…Schema` of the non-evidence schema modules (config, chat, memory, state, job, …). */
export async function loadFileFormats(): Promise<FileFormat[]> {
  const out: FileFormat[] = [];
  for (const file of schemaModules()) {
    if (EVIDENCE_MODULE_RE.test(file) || /^evidence\./.test(file)) continue;
    const mod = (await import(pathToFileURL(join(SCHEMAS_DIR, file)).href)) as Record<string, unknown>;
    for (const [exportName, value] of Object.entries(mod)) {
      if (!exportName.endsWith('Schema') || !isZod(value)) continue;
      out.push({ name: kebab(exportName), module: file.replace(/\.(js|ts)$/, ''), exportName, schema: value });
    }
  }
  // Two modules exporting the same name: qualify both with their module.
  const counts = new Map<string, number>();
  for (const f of out) counts.set(f.name, (counts.get(f.name) ?? 0) + 1);
  for (const f of out) if ((counts.get(f.name) ?? 0) > 1) f.name = `${f.module}-${f.name}`;
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

function isZod(v: unknown): v is z.ZodType {
  return typeof v === 'object' && v !== null && '_zod' in v && typeof (v as { safeParse?: unknown }).safeParse === 'function';
}
