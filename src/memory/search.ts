/**
 * `vpm memory search`: chat entries (logs/*.jsonl), summaries (memory.json) and digests
 * (docs/sessions/*.md) that contain every word of a query, newest first.
 *
 * Words: the query is NFKC-normalised, case-folded and split with ICU word segmentation
 * (Intl.Segmenter), so "カナリアを中止" is the words カナリア and 中止 and "Canary" finds "canary".
 * Texts are normalised the same way. A Latin word must match a whole word ("canary" is not found in
 * "canaryfoo"); a Japanese word matches inside a run of text, since Japanese has no spaces to bound it.
 * No index: one linear scan, with a cheap substring test on each raw log line before it is parsed, so
 * a log of 100,000 entries is searched in well under a second (bench/memory-search.bench.js).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../core/errors.js';
import { listChatFiles } from './chat-reader.js';
import { graphemes } from './graphemes.js';
import { readMemory } from './memory-store.js';

export type SearchKind = 'chat' | 'summary' | 'digest';

export interface SearchHit {
  kind: SearchKind;
  /** Chat entry or summary id; a digest's path. */
  id: string;
  ts: string;
  /** Where it is stored: logs/<day>.jsonl, memory.json, docs/sessions/<file>. */
  file: string;
  session?: string;
  role?: string;
  snippet: string;
}

export interface SearchResult {
  query: string;
  terms: string[];
  total: number;
  hits: SearchHit[];
}

const wordSegmenter = new Intl.Segmenter('ja', { granularity: 'word' });
const fold = (s: string) => s.normalize('NFKC').toLowerCase();
const LATIN_WORD = /^[\p{Script=Latin}\d_]+$/u;
const WORD_CHAR = /[\p{L}\p{N}_]/u;

/** The query's words: NFKC, case-folded, word-segmented; lone kana particles dropped when there is more. */
function queryTerms(query: string): string[] {
  const words = Array.from(wordSegmenter.segment(fold(query)))
    .filter((w) => w.isWordLike)
    .map((w) => w.segment);
  const content = words.filter((w) => !/^[\u3040-\u309f]{1,2}$/.test(w));
  return [...new Set(content.length ? content : words)];
}

function hasWord(text: string, term: string): boolean {
  if (!LATIN_WORD.test(term)) return text.includes(term);
  for (let i = text.indexOf(term); i !== -1; i = text.indexOf(term, i + 1)) {
    const before = i === 0 ? '' : text[i - 1];
    const after = text[i + term.length] ?? '';
    if (!(before && WORD_CHAR.test(before)) && !(after && WORD_CHAR.test(after))) return true;
  }
  return false;
}

const matchesAll = (folded: string, terms: string[]) => terms.every((t) => hasWord(folded, t));

/** About `width` graphemes of text around the first term, whitespace collapsed. */
function snippetOf(text: string, terms: string[], width = 80): string {
  const flat = text.normalize('NFKC').replace(/\s+/g, ' ').trim();
  const at = Math.max(0, flat.toLowerCase().indexOf(terms[0] ?? ''));
  const before = graphemes(flat.slice(0, at));
  const after = graphemes(flat.slice(at));
  const lead = Math.min(before.length, Math.floor(width / 3));
  const head = before.slice(before.length - lead).join('');
  const tail = after.slice(0, width - lead).join('');
  return `${before.length > lead ? '…' : ''}${head}${tail}${after.length > width - lead ? '…' : ''}`;
}

interface Candidate extends Omit<SearchHit, 'snippet'> {
  text: string;
}

function searchChat(cwd: string, terms: string[], out: Candidate[]): void {
  for (const file of listChatFiles(cwd)) {
    let content: string;
    try {
      content = readFileSync(join(cwd, 'logs', file), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw err;
    }
    for (const line of content.split('\n')) {
      if (line === '') continue;
      // Cheap test on the raw line first: most lines fail it and are never parsed.
      const raw = fold(line);
      if (!terms.every((t) => raw.includes(t))) continue;
      let e: { id?: unknown; ts?: unknown; text?: unknown; session?: unknown; role?: unknown };
      try {
        e = JSON.parse(line);
      } catch {
        continue; // a torn or corrupt line: `vpm summary` reports those; search skips them
      }
      if (typeof e.text !== 'string' || typeof e.id !== 'string' || typeof e.ts !== 'string') continue;
      if (!matchesAll(fold(e.text), terms)) continue;
      out.push({
        kind: 'chat',
        id: e.id,
        ts: e.ts,
        file: `logs/${file}`,
        ...(typeof e.session === 'string' ? { session: e.session } : {}),
        ...(typeof e.role === 'string' ? { role: e.role } : {}),
        text: e.text,
      });
    }
  }
}

function searchSummaries(cwd: string, terms: string[], out: Candidate[]): void {
  for (const m of readMemory(cwd).entries) {
    if (matchesAll(fold(m.summary), terms)) out.push({ kind: 'summary', id: m.id, ts: m.created_at, file: 'memory.json', text: m.summary });
  }
}

function searchDigests(cwd: string, terms: string[], out: Candidate[]): void {
  let files: string[];
  try {
    files = readdirSync(join(cwd, 'docs', 'sessions')).filter((f) => f.endsWith('.md'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  for (const f of files.sort()) {
    const text = readFileSync(join(cwd, 'docs', 'sessions', f), 'utf8');
    if (!matchesAll(fold(text), terms)) continue;
    // A digest is as new as the last turn it covers (its "Period" line); else its file's date.
    const period = /^- Period: .* → (\S+)$/m.exec(text)?.[1];
    const ts = period && !Number.isNaN(Date.parse(period)) ? period : `${f.slice(0, 10)}T00:00:00.000Z`;
    // The snippet comes from the first line holding a term, not the digest's title.
    const line = text.split('\n').find((l) => terms.some((t) => hasWord(fold(l), t))) ?? text;
    out.push({ kind: 'digest', id: `docs/sessions/${f}`, ts, file: `docs/sessions/${f}`, text: line });
  }
}

export function searchMemory(cwd: string, query: string, opts: { limit: number }): SearchResult {
  const terms = queryTerms(query);
  if (terms.length === 0) {
    throw new UsageError(`the query '${query}' has no words to search for`, {
      hint: 'give at least one word, e.g. vpm memory search canary',
    });
  }
  const found: Candidate[] = [];
  searchChat(cwd, terms, found);
  searchSummaries(cwd, terms, found);
  searchDigests(cwd, terms, found);
  // Newest first; ties in a fixed order so the same store always answers the same way.
  found.sort((a, b) => (a.ts < b.ts ? 1 : a.ts > b.ts ? -1 : a.kind.localeCompare(b.kind) || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0)));
  return {
    query,
    terms,
    total: found.length,
    hits: found.slice(0, opts.limit).map(({ text, ...hit }) => ({ ...hit, snippet: snippetOf(text, terms) })),
  };
}
