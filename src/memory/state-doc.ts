/**
 * STATE/current_state.md ⇄ its parsed form. Front matter (YAML) carries `phase` and `updated_at`;
 * `## C` is where we are, `## G` the goals (`- G-1: text`), `## δ` direction and distance.
 */
import { join } from 'node:path';
import { UsageError } from '../core/errors.js';
import { readTextIfExists } from '../core/fs.js';
import { formatZodIssues } from '../core/zod-issues.js';
import { StateSchema, type ProjectState } from '../schemas/state.js';

export const STATE_FILE = join('STATE', 'current_state.md');
const GOAL_RE = /^\s*[-*]\s+(?:\[[ xX]\]\s+)?(G-\d+)\s*[:：.-]?\s*(.*)$/;

export interface RawState {
  front: Record<string, unknown>;
  title: string;
  sections: Array<{ heading: string; body: string }>;
}

export async function parseStateMarkdown(text: string): Promise<unknown> {
  const fm = /^---\r?\n([\s\S]*?)\r?\n---\r?\n?/.exec(text);
  if (!fm) throw new UsageError(`${STATE_FILE} has no front matter`, { hint: 'start the file with ---, phase: …, updated_at: …, ---' });
  const { parse } = await import('yaml');
  let front: unknown;
  try {
    front = parse(fm[1]);
  } catch (err) {
    throw new UsageError(`${STATE_FILE} front matter is not valid YAML: ${(err as Error).message}`);
  }
  const body = text.slice(fm[0].length);
  const title = /^#\s+(.+)$/m.exec(body.split(/^## /m)[0])?.[1]?.trim() ?? 'Current state';
  const sections = body
    .split(/^## /m)
    .slice(1)
    .map((chunk) => {
      const nl = chunk.indexOf('\n');
      return { heading: (nl === -1 ? chunk : chunk.slice(0, nl)).trim(), body: nl === -1 ? '' : chunk.slice(nl + 1).trim() };
    });
  const section = (name: string) => sections.find((s) => s.heading === name);
  const goalsBody = section('G')?.body ?? '';
  const goals = goalsBody
    .split(/\r?\n/)
    .map((line) => GOAL_RE.exec(line))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ id: m[1], text: m[2].trim() }));
  const f = (front ?? {}) as Record<string, unknown>;
  const missing = ['C', 'G', 'δ'].filter((h) => !section(h));
  if (missing.length) {
    throw new UsageError(`${STATE_FILE} is missing section(s) ${missing.map((h) => `## ${h}`).join(', ')}`);
  }
  return {
    phase: f.phase === undefined ? undefined : String(f.phase),
    updated_at: f.updated_at instanceof Date ? f.updated_at.toISOString() : f.updated_at,
    title,
    current: section('C')!.body,
    goals,
    delta: section('δ')!.body,
    other_sections: sections.filter((s) => !['C', 'G', 'δ'].includes(s.heading)),
  };
}

export function validateState(raw: unknown, what = STATE_FILE): ProjectState {
  const parsed = StateSchema.safeParse(raw);
  if (!parsed.success) {
    throw new UsageError(`${what} is invalid:\n  ${formatZodIssues(parsed.error).join('\n  ')}`, {
      hint: `fix the listed fields in ${what}`,
      details: { issues: parsed.error.issues },
    });
  }
  return parsed.data;
}

export async function readState(cwd: string): Promise<ProjectState> {
  const text = readTextIfExists(join(cwd, STATE_FILE));
  if (text === undefined) {
    throw new UsageError(`${STATE_FILE} not found`, { hint: 'create it (see the starter in the vpm repository) or run from the repo root with --cwd' });
  }
  return validateState(await parseStateMarkdown(text));
}

export function renderStateMarkdown(state: ProjectState): string {
  const block = (s: string) => (s.trim() === '' ? '' : `${s.trim()}\n\n`);
  return [
    '---',
    `phase: ${JSON.stringify(state.phase)}`,
    `updated_at: ${JSON.stringify(state.updated_at)}`,
    '---',
    '',
    `# ${state.title}`,
    '',
    '## C',
    '',
    block(state.current) + '## G',
    '',
    block(state.goals.map((g) => `- ${g.id}: ${g.text.replace(/\s*\n\s*/g, ' ')}`).join('\n')) + '## δ',
    '',
    block(state.delta) + state.other_sections.map((s) => `## ${s.heading}\n\n${block(s.body)}`).join(''),
  ]
    .join('\n')
    .replace(/\n{3,}/g, '\n\n')
    .replace(/\n*$/, '\n');
}
