import type { CommandResult } from '../../core/command.js';
import { defineCommand } from '../../cli/spec.js';

export const diagramsExport = defineCommand({
  path: ['diagrams', 'export'],
  summary: 'validate and write SVGs to diagrams/export/ (headless Chromium: /usr/bin/chromium or $VPM_CHROMIUM)',
  flags: {},
  examples: [{ command: 'vpm diagrams export', description: 'one SVG per diagram' }],
  run: async (ctx, input): Promise<CommandResult> => (await import('./diagrams.handlers.js')).diagramsExportCommand(ctx, input),
});
