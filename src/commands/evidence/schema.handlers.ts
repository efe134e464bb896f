import { readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import type { CommandHandler } from '../../core/command.js';
import { writeFileAtomic } from '../../core/fs.js';
import type { schemaExport } from './schema-export.js';
import type { FlagsOf } from '../../cli/spec.js';

/**
 * `vpm schema export [--out DIR] [--check]`: every registered evidence kind and every other file
 * format (config, chat entry, memory, state, job, …) as JSON Schema (draft 2020-12, zod's
 * `z.toJSONSchema`). `--check` writes nothing and exits 1 when a file is missing or stale (for CI).
 */
export const schemaExportCommand: CommandHandler<FlagsOf<typeof schemaExport>> = async (ctx, { opts }) => {
  const { buildJsonSchemas } = await import('../../evidence/json-schema.js');
  const outDir = resolve(ctx.root, opts.out ?? 'schemas');
  const files = await buildJsonSchemas();
  const written: string[] = [];
  const stale: string[] = [];
  const unchanged: string[] = [];
  for (const f of files) {
    const path = join(outDir, f.path);
    const text = `${JSON.stringify(f.schema, null, 2)}\n`;
    let current: string | undefined;
    try {
      current = readFileSync(path, 'utf8');
    } catch {
      current = undefined;
    }
    const rel = relative(ctx.root, path) || path;
    if (current === text) unchanged.push(rel);
    else if (opts.check) stale.push(rel);
    else {
      await writeFileAtomic(path, text);
      written.push(rel);
    }
  }
  const data = {
    out: relative(ctx.root, outDir) || '.',
    schemas: files.map((f) => ({ path: f.path, id: f.id })),
    written,
    unchanged,
    stale,
  };
  const human = opts.check
    ? stale.length
      ? `stale or missing:\n${stale.map((s) => `  ${s}`).join('\n')}\nrun 'vpm schema export' to update them`
      : `${files.length} schemas up to date in ${data.out}`
    : `${written.length} written, ${unchanged.length} unchanged in ${data.out}${written.length ? `\n${written.map((w) => `  ${w}`).join('\n')}` : ''}`;
  return { data, human, outcome: stale.length ? 'failed' : 'ok' };
};
