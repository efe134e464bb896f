import type { CommandResult } from '../../core/command.js';
import { defineCommand } from '../../cli/spec.js';

export const schemaExport = defineCommand({
  path: ['schema', 'export'],
  summary: 'write every evidence kind and file format as JSON Schema (default into schemas/)',
  repo: 'optional',
  flags: {
    out: { type: 'string', placeholder: '<dir>', description: 'output directory (default: schemas/ at the repository root)' },
    check: { type: 'boolean', description: 'write nothing; exit 1 when a schema file is missing or stale' },
  },
  examples: [
    { command: 'vpm schema export', description: 'into schemas/' },
    { command: 'vpm schema export --check', description: 'CI: fail when the committed schemas are stale' },
  ],
  run: async (ctx, input): Promise<CommandResult> => (await import('./schema.handlers.js')).schemaExportCommand(ctx, input),
});
