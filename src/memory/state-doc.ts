/**
 * STATE/current_state.md ⇄ its parsed form. Front matter (YAML) carries `phase` and `updated_at`;
 * `## C` is where we are, `## G` the goals (`- G-1: text`), `## δ` direction and distance.
 * Everything else in the file (other front-matter keys, text under the title, prose and sub-items in
 * `## G`, checkboxes, other or repeated sections) is part of the parsed form too, so a patch that
 * does not touch it writes it back unchanged.
 */
import { join } from 'node:path';
import { UsageError } from '../core/errors.js';
import { maskValue } from '../core/secrets.js';
import { inLineEndingsOf, readUtf8FileIfExists } from '../core/utf8.js';
import { formatZodIssues } from '../core/zod-issues.js';
import { GOAL_LINE, StateSchema, type ProjectState } from '../schemas/state.js';

export const STATE_FILE = join('STATE', 'current_state.md');

async function parseStateMarkdown(given: string): Promise<unknown> {
  // Line endings are the file's, not the content's: CRLF files parse to the same state as LF ones
  // (renderStateForWrite puts the file's line endings back).
  const text = given.replace(/\r\n/g, '\n');
  const fm = /^---\r?\n([\s\S]*?)\r?\n---\r?\n?/.exec(text);
  if (!fm) throw new UsageError(`${STATE_FILE} has no front matter`, { hint: 'start the file with ---, phase: …, updated_at: …, ---' });
  const { parse } = await import('yaml');
  let front: unknown;
  try {
    front = parse(fm[1], { logLevel: 'error' });
  } catch (err) {
    throw new UsageError(`${STATE_FILE} front matter is not valid YAML: ${(err as Error).message}`);
  }
  const body = text.slice(fm[0].length);
  const [head, ...chunks] = body.split(/^## /m);
  const titleMatch = /^#\s+(.+)$/m.exec(head);
  const title = titleMatch?.[1]?.trim() ?? 'Current state';
  const intro = (titleMatch ? head.slice(0, titleMatch.index) + head.slice(titleMatch.index + titleMatch[0].length) : head).trim();
  const sections = chunks.map((chunk) => {
    const nl = chunk.indexOf('\n');
    return { heading: (nl === -1 ? chunk : chunk.slice(0, nl)).trim(), body: nl === -1 ? '' : chunk.slice(nl + 1).trim() };
  });
  // The first C, G and δ are the model; everything else (other sections, repeats) is kept verbatim.
  const first = new Map<string, (typeof sections)[number]>();
  for (const s of sections) if (['C', 'G', 'δ'].includes(s.heading) && !first.has(s.heading)) first.set(s.heading, s);
  const missing = ['C', 'G', 'δ'].filter((h) => !first.has(h));
  if (missing.length) {
    throw new UsageError(`${STATE_FILE} is missing section(s) ${missing.map((h) => `## ${h}`).join(', ')}`);
  }
  const { goalsIntro, goals } = parseGoals(first.get('G')!.body);
  const f = front && typeof front === 'object' && !Array.isArray(front) ? (front as Record<string, unknown>) : {};
  const extra = Object.fromEntries(Object.entries(f).filter(([k]) => k !== 'phase' && k !== 'updated_at'));
  return {
    phase: f.phase === undefined ? undefined : String(f.phase),
    updated_at: f.updated_at instanceof Date ? f.updated_at.toISOString() : f.updated_at,
    title,
    ...(Object.keys(extra).length ? { front_matter: jsonSafe(extra) } : {}),
    ...(intro ? { intro } : {}),
    current: first.get('C')!.body,
    ...(goalsIntro ? { goals_intro: goalsIntro } : {}),
    goals,
    delta: first.get('δ')!.body,
    other_sections: sections.filter((s) => first.get(s.heading) !== s),
  };
}

function jsonSafe(value: Record<string, unknown>): Record<string, unknown> {
  try {
    return JSON.parse(JSON.stringify(value)) as Record<string, unknown>;
  } catch (err) {
    throw new UsageError(`${STATE_FILE} front matter cannot be kept: ${(err as Error).message.split('\n')[0]}`, {
      hint: 'use plain YAML values (no self-referencing anchors)',
    });
  }
}

/** `## G`: text before the first goal, then each goal item with the lines under it (its notes). */
function parseGoals(body: string): { goalsIntro: string; goals: Array<{ id: string; text: string; done?: boolean; notes?: string }> } {
  const intro: string[] = [];
  const goals: Array<{ id: string; text: string; done?: boolean; notes: string[] }> = [];
  for (const line of body.split(/\r?\n/)) {
    const m = GOAL_LINE.exec(line);
    if (m) goals.push({ id: m[2], text: m[3].trim(), ...(m[1] ? { done: m[1][1] !== ' ' } : {}), notes: [] });
    else (goals.length ? goals[goals.length - 1].notes : intro).push(line);
  }
  return {
    goalsIntro: intro.join('\n').trim(),
    goals: goals.map(({ notes, ...g }) => {
      const text = notes.join('\n').replace(/\s+$/, '');
      return text.trim() ? { ...g, notes: text } : g;
    }),
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

/** STATE's text (refused through a link out of the repository, or when it is not UTF-8). */
export function readStateText(cwd: string): string | undefined {
  return readUtf8FileIfExists(join(cwd, STATE_FILE), STATE_FILE);
}

/**
 * The text to write for `state`: values masked before rendering, and the line endings of the
 * file being replaced kept (a CRLF file stays CRLF).
 */
export function renderStateForWrite(state: ProjectState, beforeText: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  return inLineEndingsOf(renderStateMarkdown(maskValue(state, env)), beforeText);
}

export async function readState(cwd: string): Promise<ProjectState> {
  const text = readStateText(cwd);
  if (text === undefined) {
    throw new UsageError(`${STATE_FILE} not found`, {
      hint: 'create it (see the starter in the vpm repository) or run from the repo root with --cwd',
    });
  }
  return validateState(await parseStateMarkdown(text));
}

const yamlKey = (k: string) => (/^[A-Za-z_][A-Za-z0-9_-]*$/.test(k) ? k : JSON.stringify(k));

function renderStateMarkdown(state: ProjectState): string {
  const block = (s: string | undefined) => (s === undefined || s.trim() === '' ? '' : `${s.trim()}\n\n`);
  const goal = (g: ProjectState['goals'][number]) =>
    `- ${g.done === undefined ? '' : g.done ? '[x] ' : '[ ] '}${g.id}: ${g.text.replace(/\s*\n\s*/g, ' ')}${g.notes?.trim() ? `\n${g.notes.replace(/\s+$/, '')}` : ''}`;
  return [
    '---',
    `phase: ${JSON.stringify(state.phase)}`,
    `updated_at: ${JSON.stringify(state.updated_at)}`,
    // JSON is YAML: every extra front-matter value reads back as it was.
    ...Object.entries(state.front_matter ?? {}).map(([k, v]) => `${yamlKey(k)}: ${JSON.stringify(v) ?? 'null'}`),
    '---',
    '',
    `# ${state.title}`,
    '',
    block(state.intro) + '## C',
    '',
    block(state.current) + '## G',
    '',
    block(state.goals_intro) + block(state.goals.map(goal).join('\n')) + '## δ',
    '',
    block(state.delta) + state.other_sections.map((s) => `## ${s.heading}\n\n${block(s.body)}`).join(''),
  ]
    .join('\n')
    .replace(/\n{3,}/g, '\n\n')
    .replace(/\n*$/, '\n');
}
