/**
 * `vpm diagrams check|export`: validate every Mermaid diagram under diagrams/src/ and write SVGs to
 * diagrams/export/. Errors name the file and line (`diagrams/src/x.md:12: Parse error …`).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../core/fs.js';
import { findDiagrams, type MermaidDiagram } from './extract.js';
import { launchMermaidRenderer } from './render.js';

export interface DiagramProblem {
  file: string;
  line: number | null;
  message: string;
}

export interface DiagramsOutcome {
  checked: number;
  invalid: DiagramProblem[];
  exported: string[];
  /** Exports whose content did not change (left untouched). */
  unchanged: string[];
}

export interface DiagramsOptions {
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** Write SVGs (export) or only validate (check). */
  write: boolean;
  timeoutMs?: number;
}

/** Mermaid's message on one line: the caret line (meaningless without monospace alignment) dropped. */
function shortMessage(message: string): string {
  const lines = message
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !/^-*\^$/.test(l));
  return lines.slice(0, 4).join(' ').slice(0, 600);
}

export async function checkAndExportDiagrams(opts: DiagramsOptions): Promise<DiagramsOutcome> {
  const { diagrams, unclosed } = findDiagrams(opts.cwd);
  const invalid: DiagramProblem[] = unclosed.map((u) => ({ file: u.file, line: u.line, message: 'mermaid code fence is never closed' }));
  const exported: string[] = [];
  const unchanged: string[] = [];
  if (diagrams.length === 0) return { checked: 0, invalid, exported, unchanged };
  const renderer = await launchMermaidRenderer({ env: opts.env, timeoutMs: opts.timeoutMs });
  let results;
  try {
    results = await renderer.render(diagrams);
  } finally {
    await renderer.close();
  }
  for (const r of results) {
    if (!r.ok) {
      invalid.push({ file: r.diagram.file, line: r.line ?? null, message: shortMessage(r.message ?? 'invalid diagram') });
      continue;
    }
    if (!opts.write) continue;
    const target = join(opts.cwd, r.diagram.exportPath);
    const svg = `${r.svg!.trim()}\n`;
    let current: string | undefined;
    try {
      current = readFileSync(target, 'utf8');
    } catch {
      current = undefined;
    }
    if (current === svg) unchanged.push(r.diagram.exportPath);
    else {
      await writeFileAtomic(target, svg);
      exported.push(r.diagram.exportPath);
    }
  }
  return { checked: diagrams.length, invalid, exported, unchanged };
}

export function formatDiagramProblem(p: DiagramProblem): string {
  return `${p.file}${p.line ? `:${p.line}` : ''}: ${p.message}`;
}

export type { MermaidDiagram };
