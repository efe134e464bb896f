/**
 * `vpm digest`: a day's (or one session's) digest in Markdown plus a Mermaid navigation diagram.
 * Output depends only on the chat log, memory.json and which report files exist — no clock — so a
 * re-run on the same input is byte-identical.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { ChatEntry } from './chat-log.js';
import { listChatFiles, readChatDay } from './chat-reader.js';
import { markdownCode, markdownInline, mermaidLabel } from './escape.js';
import { extractFindings, pathsOf, type Finding } from './findings.js';
import { graphemes, truncateGraphemes } from './graphemes.js';
import type { MemoryEntry } from '../schemas/memory.js';

export interface DigestInput {
  cwd: string;
  date?: string;
  session?: string;
  entries: ChatEntry[];
  memory: MemoryEntry[];
}

export interface DigestOutput {
  digestPath: string;
  navPath: string;
  digest: string;
  nav: string;
  stats: {
    entries: number;
    summaries: number;
    decisions: number;
    commands: number;
    evidence: number;
    open_items: number;
    goals: number;
    slo_facts: number;
  };
}

function uniq<T>(xs: T[]): T[] {
  return [...new Set(xs)];
}

function digestFileStem(date: string, session?: string): string {
  return session ? `${date}_${session.replace(/[^\w.-]/g, '_')}` : date;
}

/** Loads the entries to digest: one day, or one session across all days. */
export function loadDigestEntries(
  cwd: string,
  date: string | undefined,
  session: string | undefined,
): { date: string; entries: ChatEntry[] } {
  if (session) {
    const all = listChatFiles(cwd).flatMap((f) => readChatDay(cwd, f.slice(0, 10)).entries.filter((e) => e.session === session));
    all.sort((a, b) => a.ts.localeCompare(b.ts) || a.id.localeCompare(b.id));
    return { date: all[0]?.ts.slice(0, 10) ?? date ?? '', entries: all };
  }
  const day = date!;
  const entries = readChatDay(cwd, day).entries;
  entries.sort((a, b) => a.ts.localeCompare(b.ts) || a.id.localeCompare(b.id));
  return { date: day, entries };
}

export function renderDigest(input: DigestInput & { date: string }): DigestOutput {
  const { entries, cwd, date, session } = input;
  const ids = new Set(entries.map((e) => e.id));
  const sessions = uniq(entries.map((e) => e.session)).sort();
  const summaries = input.memory
    .filter((m) => (m.source.from_id && ids.has(m.source.from_id)) || (m.source.to_id && ids.has(m.source.to_id)))
    .sort((a, b) => a.created_at.localeCompare(b.created_at) || a.id.localeCompare(b.id));

  const findings = extractFindings(entries);
  const of = (kind: Finding['kind']) => findings.filter((f) => f.kind === kind);
  const decisions = of('decision');
  const openItems = of('next');
  const commands = of('command');
  const evidence = of('evidence');
  const goals = of('goal');
  const slo = of('slo');
  const reportLinks = uniq(evidence.map((f) => f.text))
    .filter((p) => p.startsWith('reports/') && existsSync(join(cwd, p)))
    .sort();
  const title = session ? `Session digest — ${markdownInline(session)} (${date})` : `Session digest — ${date}`;
  // A digest stays readable on a busy day: each section keeps its newest items.
  const list = <T>(items: T[], render: (s: T) => string) => {
    if (items.length === 0) return '- (none)';
    const kept = items.slice(-MAX_ITEMS_PER_SECTION).map((s) => `- ${render(s)}`);
    const omitted = items.length - MAX_ITEMS_PER_SECTION;
    return (omitted > 0 ? [`- (${omitted} earlier items omitted)`, ...kept] : kept).join('\n');
  };
  // Every finding links back to the chat entry it came from (its id, in that day's log file).
  const source = (f: Finding) => ` — [${markdownCode(f.entry_id)}](../../logs/${f.ts.slice(0, 10)}.jsonl)`;
  const roles = ['user', 'assistant', 'system', 'tool']
    .map((r) => [r, entries.filter((e) => e.role === r).length] as const)
    .filter(([, n]) => n > 0)
    .map(([r, n]) => `${r} ${n}`)
    .join(', ');
  const digest = [
    `# ${title}`,
    '',
    `- Sessions: ${sessions.length ? sessions.map(markdownInline).join(', ') : '(none)'}`,
    `- Turns: ${entries.length}${roles ? ` (${roles})` : ''}`,
    `- Period: ${entries.length ? `${entries[0].ts} → ${entries[entries.length - 1].ts}` : '(no entries)'}`,
    '',
    '## Summaries',
    '',
    list(
      summaries.map((m) => `${m.created_at}\u0000${m.provider}\u0000${m.summary}`),
      (s) => {
        const [at, provider, text] = s.split('\u0000');
        return `${at} (${markdownInline(provider)}): ${markdownInline(text)}`;
      },
    ),
    '',
    '## Decisions',
    '',
    list(decisions, (f) => `${markdownInline(f.text)}${source(f)}`),
    '',
    '## Commands',
    '',
    list(commands, (f) => `${markdownCode(f.text)}${f.exit_code === undefined ? '' : ` (exit ${f.exit_code ?? 'unknown'})`}${source(f)}`),
    '',
    '## Evidence',
    '',
    list(evidence, (f) => `${markdownCode(f.text)}${source(f)}`),
    '',
    '## Open items',
    '',
    list(openItems, (f) => `${markdownInline(f.text)}${source(f)}`),
    '',
    '## Goals',
    '',
    list(goals, (f) => `${markdownInline(f.text)}${source(f)}`),
    '',
    '## SLO facts',
    '',
    list(slo, (f) => `${markdownInline(f.text)}${source(f)}`),
    '',
    '## Reports',
    '',
    list(reportLinks, (p) => `[${markdownInline(p)}](../../${p.split('/').map(encodeURIComponent).join('/')})`),
    '',
  ].join('\n');

  const nav = renderNavDiagram(date, session, entries);
  const stem = digestFileStem(date, session);
  return {
    digestPath: join('docs', 'sessions', `${stem}_digest.md`),
    navPath: join('diagrams', 'src', `${stem}_nav.md`),
    digest,
    nav,
    stats: {
      entries: entries.length,
      summaries: summaries.length,
      decisions: decisions.length,
      commands: commands.length,
      evidence: evidence.length,
      open_items: openItems.length,
      goals: goals.length,
      slo_facts: slo.length,
    },
  };
}

const MAX_TOPICS = 12;
const MAX_ITEMS_PER_SECTION = 100;

/** session → topics (each user turn opens one) → evidence and files mentioned in that exchange. */
function renderNavDiagram(date: string, session: string | undefined, entries: ChatEntry[]): string {
  const lines = ['flowchart LR'];
  const bySession = new Map<string, ChatEntry[]>();
  for (const e of entries) {
    const list = bySession.get(e.session);
    if (list) list.push(e);
    else bySession.set(e.session, [e]);
  }
  const fileIds = new Map<string, string>();
  let s = 0;
  let t = 0;
  for (const [name, turns] of [...bySession.entries()].sort(([a], [b]) => a.localeCompare(b))) {
    const sid = `S${s++}`;
    lines.push(`  ${sid}["${mermaidLabel(`session ${name} (${turns.length} turns)`)}"]`);
    const topics: Array<{ title: string; text: string[] }> = [];
    for (const turn of turns) {
      if (turn.role === 'user' || topics.length === 0) topics.push({ title: turn.text, text: [turn.text] });
      else topics[topics.length - 1].text.push(turn.text);
    }
    for (const topic of topics.slice(-MAX_TOPICS)) {
      const tid = `T${t++}`;
      const title = truncateGraphemes(graphemes(topic.title.replace(/\s+/g, ' ').trim()).join(''), 48);
      lines.push(`  ${tid}["${mermaidLabel(title)}"]`, `  ${sid} --> ${tid}`);
      for (const path of uniq(topic.text.flatMap((x) => pathsOf(x))).sort()) {
        let fid = fileIds.get(path);
        if (!fid) {
          fid = `F${fileIds.size}`;
          fileIds.set(path, fid);
          lines.push(`  ${fid}[("${mermaidLabel(path)}")]`);
        }
        lines.push(`  ${tid} --> ${fid}`);
      }
    }
  }
  if (entries.length === 0) lines.push(`  S0["${mermaidLabel(`no chat on ${session ?? date}`)}"]`);
  return [`# Navigation — ${session ? `session ${markdownInline(session)}` : date}`, '', '```mermaid', ...lines, '```', ''].join('\n');
}
