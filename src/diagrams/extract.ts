/**
 * Finds the Mermaid diagrams of a repository: every ```mermaid (or ~~~mermaid) fenced block of
 * `diagrams/src/*.md`, and every `diagrams/src/*.mmd` file as a whole. Each diagram knows the file
 * line its text starts on, so a parse error can be reported as `file:line`.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { basename, extname, join } from 'node:path';

const DIAGRAMS_SRC = join('diagrams', 'src');
const DIAGRAMS_EXPORT = join('diagrams', 'export');

export interface MermaidDiagram {
  /** Repo-relative path of the source file. */
  file: string;
  /** 1-based line of the file where the diagram text starts. */
  startLine: number;
  /** 1-based index of the block within its file. */
  index: number;
  /** How many diagrams the file holds (decides the export name). */
  ofFile: number;
  text: string;
  /** Repo-relative path of the SVG export. */
  exportPath: string;
}

export interface UnclosedFence {
  file: string;
  line: number;
}

const OPEN_RE = /^ {0,3}(`{3,}|~{3,})\s*mermaid\b[^`]*$/i;

/** CommonMark: a closing fence is the same character, at least as long, and nothing else. */
function closes(line: string, fence: string): boolean {
  const m = /^ {0,3}(`{3,}|~{3,})\s*$/.exec(line);
  return m !== null && m[1][0] === fence[0] && m[1].length >= fence.length;
}

export function extractMermaidBlocks(
  file: string,
  text: string,
): { blocks: Array<{ startLine: number; text: string }>; unclosed: number[] } {
  if (extname(file) === '.mmd') return { blocks: [{ startLine: 1, text }], unclosed: [] };
  const lines = text.split(/\r?\n/);
  const blocks: Array<{ startLine: number; text: string }> = [];
  const unclosed: number[] = [];
  let otherFence: string | undefined;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (otherFence) {
      // Inside a non-mermaid fence: a ```mermaid line there is content, not a diagram.
      if (closes(line, otherFence)) otherFence = undefined;
      continue;
    }
    const open = OPEN_RE.exec(line);
    if (!open) {
      const other = /^ {0,3}(`{3,}|~{3,})/.exec(line);
      if (other) otherFence = other[1];
      continue;
    }
    const fence = open[1];
    const body: string[] = [];
    let j = i + 1;
    for (; j < lines.length; j++) {
      if (closes(lines[j], fence)) break;
      body.push(lines[j]);
    }
    if (j >= lines.length) unclosed.push(i + 1);
    blocks.push({ startLine: i + 2, text: body.join('\n') });
    i = j;
  }
  return { blocks, unclosed };
}

export function findDiagrams(cwd: string): { diagrams: MermaidDiagram[]; unclosed: UnclosedFence[] } {
  let names: string[];
  try {
    names = readdirSync(join(cwd, DIAGRAMS_SRC))
      .filter((f) => /\.(md|mmd)$/.test(f))
      .sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { diagrams: [], unclosed: [] };
    throw err;
  }
  const diagrams: MermaidDiagram[] = [];
  const unclosed: UnclosedFence[] = [];
  for (const name of names) {
    const file = join(DIAGRAMS_SRC, name);
    const { blocks, unclosed: open } = extractMermaidBlocks(file, readFileSync(join(cwd, file), 'utf8'));
    for (const line of open) unclosed.push({ file, line });
    const stem = basename(name, extname(name));
    blocks.forEach((b, i) =>
      diagrams.push({
        file,
        startLine: b.startLine,
        index: i + 1,
        ofFile: blocks.length,
        text: b.text,
        exportPath: join(DIAGRAMS_EXPORT, blocks.length === 1 ? `${stem}.svg` : `${stem}-${i + 1}.svg`),
      }),
    );
  }
  return { diagrams, unclosed };
}
