import type { CommandResult } from '../../core/command.js';
import type { Ctx } from '../../core/context.js';
import type { HandlerInput } from '../../cli/spec.js';
import type { chatImport } from './chat-import.js';
import type { ImportReport } from '../../memory/import/index.js';
import type { ImportTool, ToolFormat } from '../../memory/import/types.js';

type ChatImportInput = HandlerInput<(typeof chatImport)['flags']>;

async function formatOf(tool: ImportTool): Promise<ToolFormat> {
  if (tool === 'codex') return (await import('../../memory/import/codex.js')).codexFormat;
  if (tool === 'claude-code') return (await import('../../memory/import/claude-code.js')).claudeCodeFormat;
  return (await import('../../memory/import/aider.js')).aiderFormat;
}

/** The import itself, shared with `vpm loop --import` (every tool, default locations only). */
export async function runImport(ctx: Ctx, tools: readonly ImportTool[], paths: readonly string[], dryRun: boolean): Promise<ImportReport> {
  const { importChats } = await import('../../memory/import/index.js');
  const sources: Array<{ format: ToolFormat; files: string[] }> = [];
  for (const tool of tools) {
    const format = await formatOf(tool);
    const files: string[] = [];
    if (paths.length === 0) files.push(...(await format.defaultFiles(ctx.root, ctx.env)));
    for (const p of paths) files.push(...(await format.expandPath(ctx.userPath(p))));
    sources.push({ format, files: [...new Set(files)] });
  }
  return importChats({ root: ctx.root, sources, dryRun, now: ctx.now(), env: ctx.env });
}

export function renderImport(report: ImportReport): string {
  const lines: string[] = [];
  for (const f of report.files) {
    const roles = Object.entries(f.by_role)
      .map(([r, n]) => `${r} ${n}`)
      .join(', ');
    const unknown = Object.entries(f.unknown)
      .map(([t, n]) => `${t}×${n}`)
      .join(', ');
    lines.push(
      `${f.tool} ${f.file}: ${f.status}${f.reason ? ` (${f.reason})` : ''}; ${report.dry_run ? 'would import' : 'imported'} ${f.imported}` +
        `${roles ? ` (${roles})` : ''}${f.duplicates ? `, ${f.duplicates} already imported` : ''}` +
        `${unknown ? `, unknown record types skipped: ${unknown}` : ''}${f.too_long ? `, ${f.too_long} over the 1 MiB line limit skipped` : ''}`,
    );
    for (const m of f.malformed) lines.push(`  malformed line skipped: ${f.file}:${m.line}: ${m.reason}`);
  }
  const t = report.totals;
  lines.push(
    `${report.dry_run ? 'dry run: would import' : 'imported'} ${t.imported} turn(s) from ${t.files} file(s)` +
      `${t.duplicates ? `; ${t.duplicates} already imported` : ''}${t.unknown ? `; ${t.unknown} unknown record(s) skipped` : ''}` +
      `${t.malformed ? `; ${t.malformed} malformed line(s) skipped` : ''}`,
  );
  return lines.join('\n');
}

export async function chatImportCommand(ctx: Ctx, { args, opts }: ChatImportInput): Promise<CommandResult> {
  const report = await runImport(ctx, [opts.from as ImportTool], args, opts.dryRun);
  if (report.files.length === 0) ctx.status(`chat import: no ${opts.from} transcripts found for this repository`);
  for (const f of report.files)
    for (const m of f.malformed) ctx.status(`warning: malformed line skipped: ${f.file}:${m.line}: ${m.reason}`);
  return { data: report, human: renderImport(report) };
}
