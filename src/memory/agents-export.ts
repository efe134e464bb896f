/**
 * `vpm memory export`: the project's memory handed back to the coding agents, as a marked section of
 * AGENTS.md (Codex and others) or CLAUDE.md (Claude Code) at the repository root — the current STATE
 * goals with their coverage, active freezes, open items from the newest chat day and the latest
 * summaries — within a size budget, since these files are read into every agent's context.
 *
 * Only the text between the markers is vpm's: the rest of the file is kept byte for byte (its line
 * endings included), and the same state always renders the same section, so a second export leaves
 * the file byte-identical. The section is masked and the file written atomically under a lock.
 */
import { join } from 'node:path';
import { UsageError } from '../core/errors.js';
import { readTextIfExists, withLock, writeFileAtomic } from '../core/fs.js';
import { maskText } from '../core/secrets.js';
import { inLineEndingsOf, readUtf8FileIfExists } from '../core/utf8.js';
import { isFreezeActive, readFreeze, FREEZE_FILE } from '../deploy/freeze.js';
import { listChatFiles, readChatDay } from './chat-reader.js';
import { markdownInline } from './escape.js';
import { extractFindings } from './findings.js';
import { graphemeLength, truncateGraphemes } from './graphemes.js';
import { readMemory } from './memory-store.js';
import { readState, STATE_FILE } from './state-doc.js';

const MARKER_START = '<!-- vpm:memory:start -->';
const MARKER_END = '<!-- vpm:memory:end -->';
const ITEM_MAX = 240;
const OPEN_ITEMS_MAX = 10;

export interface ExportOptions {
  file: 'AGENTS.md' | 'CLAUDE.md';
  maxChars: number;
  summaries: number;
  now: Date;
  env: NodeJS.ProcessEnv;
}

export interface ExportResult {
  file: string;
  changed: boolean;
  created: boolean;
  chars: number;
  max_chars: number;
  included: Record<SectionKey, number>;
  omitted: Record<SectionKey, number>;
}

type SectionKey = 'goals' | 'freezes' | 'open_items' | 'summaries';

interface Section {
  key: SectionKey;
  heading: string;
  items: string[];
  /** Said instead of the list when there is nothing to list. */
  empty: string;
  /** Where the items left out can be read in full. */
  source: string;
  note?: string;
}

const item = (s: string) => `- ${truncateGraphemes(markdownInline(s), ITEM_MAX)}`;

async function goalsSection(cwd: string): Promise<Section> {
  const section: Section = { key: 'goals', heading: `Goals (${STATE_FILE})`, items: [], empty: '- (no goals)', source: STATE_FILE };
  let goals: Array<{ id: string; text: string; done?: boolean }>;
  try {
    goals = (await readState(cwd)).goals;
  } catch (err) {
    section.empty = item(`(${STATE_FILE} could not be read: ${(err as Error).message.split('\n')[0]})`);
    return section;
  }
  let coverage: { items?: Array<{ id: string; evidence: string[] }>; gaps?: Array<{ id: string }>; ratio?: number | null } | undefined;
  try {
    const text = readTextIfExists(join(cwd, 'reports', 'coverage.json'));
    coverage = text === undefined ? undefined : (JSON.parse(text) as { goals?: typeof coverage }).goals;
  } catch {
    coverage = undefined; // an unreadable report is shown as unknown coverage, not fatal
  }
  const evidence = new Map((coverage?.items ?? []).map((g) => [g.id, g.evidence ?? []]));
  const gaps = new Set((coverage?.gaps ?? []).map((g) => g.id));
  section.items = goals.map((g) => {
    const ev = evidence.get(g.id);
    const cov = !coverage
      ? 'coverage unknown'
      : ev?.length
        ? `covered by ${ev[0]}${ev.length > 1 ? ` (+${ev.length - 1})` : ''}`
        : gaps.has(g.id)
          ? 'gap: no evidence names it'
          : 'not in reports/coverage.json';
    return item(`${g.id}${g.done === undefined ? '' : g.done ? ' [done]' : ' [open]'}: ${g.text} — ${cov}`);
  });
  if (coverage && typeof coverage.ratio === 'number') {
    section.note = `Coverage ${Math.round(coverage.ratio * 100)}% (reports/coverage.json, from \`vpm healthcheck\`).`;
  }
  return section;
}

function freezeSection(cwd: string, now: Date): Section {
  const section: Section = {
    key: 'freezes',
    heading: 'Active freezes',
    items: [],
    empty: '- none: deploys are not frozen',
    source: FREEZE_FILE,
  };
  try {
    const f = readFreeze(cwd);
    if (f && isFreezeActive(f, now)) {
      section.items.push(item(`deploys frozen since ${f.at} by ${f.by} (${f.source}): ${f.reason}${f.until ? `; until ${f.until}` : ''}`));
    }
  } catch (err) {
    // vpm treats an unreadable freeze file as frozen; the agents must hear the same.
    section.items.push(item(`${FREEZE_FILE} is unreadable, so deploys count as frozen: ${(err as Error).message.split('\n')[0]}`));
  }
  return section;
}

function openItemsSection(cwd: string): Section {
  const files = listChatFiles(cwd);
  const day = files.at(-1)?.slice(0, 10);
  const section: Section = { key: 'open_items', heading: 'Open items', items: [], empty: '- none found', source: 'logs/' };
  if (!day) return section;
  const entries = readChatDay(cwd, day).entries.sort((a, b) => a.ts.localeCompare(b.ts) || a.id.localeCompare(b.id));
  section.heading = `Open items (logs/${day}.jsonl)`;
  section.source = `logs/${day}.jsonl, or \`vpm digest --date ${day}\``;
  section.items = extractFindings(entries)
    .filter((f) => f.kind === 'next')
    .slice(-OPEN_ITEMS_MAX)
    .map((f) => `${item(f.text)} (${f.entry_id})`);
  return section;
}

function summariesSection(cwd: string, n: number): Section {
  const entries = readMemory(cwd).entries.slice(0, n); // memory.json is newest first
  return {
    key: 'summaries',
    heading: 'Recent summaries (memory.json, newest first)',
    items: entries.map((m) => item(`${m.created_at}: ${m.summary}`)),
    empty: '- none yet (`vpm summary` writes them)',
    source: 'memory.json',
  };
}

function render(sections: Section[], kept: Record<SectionKey, number>): string {
  const lines = [
    MARKER_START,
    '## Project memory (vpm)',
    '',
    'Written by `vpm memory export` from STATE, memory.json, the chat log and the deploy freeze; the next export replaces the text between these markers.',
  ];
  for (const s of sections) {
    lines.push('', `### ${s.heading}`, '');
    if (s.note) lines.push(s.note, '');
    // Open items are listed oldest first: the newest are the ones kept.
    const shown = s.key === 'open_items' ? s.items.slice(s.items.length - kept[s.key]) : s.items.slice(0, kept[s.key]);
    if (s.items.length === 0) lines.push(s.empty);
    else lines.push(...shown);
    const left = s.items.length - shown.length;
    if (left > 0) lines.push(`- … ${left} ${s.key === 'open_items' ? 'older' : 'more'} in ${s.source}`);
  }
  lines.push(MARKER_END);
  return lines.join('\n');
}

/**
 * The section within `maxChars` graphemes, markers included: items are left out (and counted) first
 * from the oldest summaries, then the oldest open items, then goals; freezes last.
 */
function fitSection(sections: Section[], maxChars: number): { text: string; kept: Record<SectionKey, number> } {
  const kept = Object.fromEntries(sections.map((s) => [s.key, s.items.length])) as Record<SectionKey, number>;
  const order: SectionKey[] = ['summaries', 'open_items', 'goals', 'freezes'];
  let text = render(sections, kept);
  while (graphemeLength(text) > maxChars) {
    const key = order.find((k) => kept[k] > 0);
    if (!key) {
      const minimum = graphemeLength(text);
      throw new UsageError(
        `--max-chars ${maxChars} is too small: the section needs at least ${minimum} characters with every item left out`,
        {
          hint: `give --max-chars ${minimum} or more (default 4000)`,
        },
      );
    }
    kept[key]--;
    text = render(sections, kept);
  }
  return { text, kept };
}

/** The file with the section replaced between its markers, or appended when there are none. */
function spliceSection(before: string | undefined, section: string, fileName: string): string {
  if (before === undefined || before === '') return `${section}\n`;
  const body = inLineEndingsOf(section, before);
  const nl = body === section ? '\n' : '\r\n';
  const starts = before.split(MARKER_START).length - 1;
  const ends = before.split(MARKER_END).length - 1;
  if (starts === 0 && ends === 0) return `${before}${before.endsWith('\n') ? nl : nl + nl}${body}${nl}`;
  const s = before.indexOf(MARKER_START);
  const e = before.indexOf(MARKER_END);
  if (starts !== 1 || ends !== 1 || e < s) {
    throw new UsageError(
      `${fileName} has ${starts} '${MARKER_START}' and ${ends} '${MARKER_END}' markers${e < s && starts === 1 && ends === 1 ? ' in the wrong order' : ''}; it was left untouched`,
      { hint: `keep exactly one start marker followed by one end marker (or remove both to have the section appended), then run again` },
    );
  }
  return before.slice(0, s) + body + before.slice(e + MARKER_END.length);
}

export async function exportMemory(cwd: string, opts: ExportOptions): Promise<ExportResult> {
  const sections = [await goalsSection(cwd), freezeSection(cwd, opts.now), openItemsSection(cwd), summariesSection(cwd, opts.summaries)];
  const totals = Object.fromEntries(sections.map((s) => [s.key, s.items.length])) as Record<SectionKey, number>;
  // Masked before it is measured and written: a token in a summary or reason never reaches the file.
  for (const s of sections) {
    s.items = s.items.map((i) => maskText(i, opts.env));
    if (s.note) s.note = maskText(s.note, opts.env);
  }
  const { text, kept } = fitSection(sections, opts.maxChars);
  const path = join(cwd, opts.file);
  return withLock(
    path,
    async () => {
      const before = readUtf8FileIfExists(path, opts.file);
      const after = spliceSection(before, text, opts.file);
      const changed = after !== before;
      if (changed) await writeFileAtomic(path, after);
      const omitted = Object.fromEntries(Object.entries(totals).map(([k, n]) => [k, n - kept[k as SectionKey]])) as Record<
        SectionKey,
        number
      >;
      return {
        file: opts.file,
        changed,
        created: before === undefined,
        chars: graphemeLength(text),
        max_chars: opts.maxChars,
        included: kept,
        omitted,
      };
    },
    { what: opts.file },
  );
}
