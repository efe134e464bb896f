import type { CommandHandler } from '../../core/command.js';

async function run(ctx: Parameters<CommandHandler>[0], write: boolean) {
  const { checkAndExportDiagrams, formatDiagramProblem } = await import('../../diagrams/export.js');
  const { withProgress } = await import('../../core/progress.js');
  const out = await withProgress(ctx, write ? 'diagrams: rendering SVGs in headless Chromium' : 'diagrams: checking', () =>
    checkAndExportDiagrams({ cwd: ctx.root, env: ctx.env, write }),
  );
  const lines = out.invalid.map(formatDiagramProblem);
  if (write) lines.push(...out.exported.map((p) => `exported ${p}`), ...out.unchanged.map((p) => `unchanged ${p}`));
  lines.push(`${out.checked} diagram(s) checked, ${out.invalid.length} invalid`);
  return {
    data: { ok: out.invalid.length === 0, ...out },
    human: lines.join('\n'),
    outcome: out.invalid.length ? ('failed' as const) : ('ok' as const),
  };
}

/** `vpm diagrams check`: validate every Mermaid diagram under diagrams/src/ (file:line on errors). */
export const diagramsCheckCommand: CommandHandler = async (ctx) => run(ctx, false);

/** `vpm diagrams export`: validate and write SVGs to diagrams/export/. */
export const diagramsExportCommand: CommandHandler = async (ctx) => run(ctx, true);
