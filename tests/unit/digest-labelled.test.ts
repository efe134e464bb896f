/**
 * The digest's finder against a labelled set of sessions (tests/fixtures/digest-sessions/, ja, en and
 * mixed): decisions and next actions / open items must be found with recall ≥ 0.9 and precision ≥ 0.8.
 * A found item is correct when it contains one of its session's labels of the same kind; a label is
 * recalled when some found item of its kind contains it. The figures are printed.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ChatEntry } from '../../src/memory/chat-log.js';
import { extractFindings } from '../../src/memory/findings.js';

interface Session {
  lang: 'ja' | 'en' | 'mixed';
  holdout?: boolean;
  turns: Array<{ role: ChatEntry['role']; text: string; meta?: Record<string, unknown> }>;
  expect: { decisions: string[]; next_actions: string[] };
}

const DIR = join(import.meta.dirname, '..', 'fixtures', 'digest-sessions');
const norm = (s: string) => s.normalize('NFKC').replace(/\s+/g, ' ').trim();

function load(): Array<{ name: string; session: Session }> {
  return readdirSync(DIR)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((name) => ({ name, session: JSON.parse(readFileSync(join(DIR, name), 'utf8')) as Session }));
}

function entriesOf(name: string, s: Session): ChatEntry[] {
  return s.turns.map((t, i) => ({
    v: 1,
    id: `chat_20260301T0000${String(i).padStart(2, '0')}Z_${name.slice(0, 8)}`,
    ts: new Date(Date.UTC(2026, 2, 1, 0, 0, i)).toISOString(),
    session: name,
    role: t.role,
    text: t.text,
    ...(t.meta ? { meta: t.meta } : {}),
  }));
}

describe('digest finder on the labelled sessions', () => {
  const sessions = load();

  it('has at least 20 labelled sessions in Japanese, English and mixed', () => {
    expect(sessions.length).toBeGreaterThanOrEqual(20);
    expect(new Set(sessions.map((s) => s.session.lang))).toEqual(new Set(['ja', 'en', 'mixed']));
  });

  it('finds decisions and next actions with recall ≥ 0.9 and precision ≥ 0.8', () => {
    const all = score(sessions);
    // The holdout sessions were written after the cue lists were last changed: their figures show
    // how the finder does on phrasing it was not tuned on.
    const holdout = score(sessions.filter((s) => s.session.holdout));
    console.log(
      `digest finder on ${sessions.length} labelled sessions: ${JSON.stringify(all.figures)}\n` +
        `  of which ${sessions.filter((s) => s.session.holdout).length} holdout sessions: ${JSON.stringify(holdout.figures)}\n  ${all.misses.join('\n  ')}`,
    );
    for (const f of Object.values(all.figures)) {
      expect(f.recall).toBeGreaterThanOrEqual(0.9);
      expect(f.precision).toBeGreaterThanOrEqual(0.8);
    }
  });
});

function score(sessions: Array<{ name: string; session: Session }>) {
  const totals = { decision: { tp: 0, fp: 0, labels: 0, recalled: 0 }, next: { tp: 0, fp: 0, labels: 0, recalled: 0 } };
  const misses: string[] = [];
  for (const { name, session } of sessions) {
    const findings = extractFindings(entriesOf(name, session));
    for (const [kind, labels] of [
      ['decision', session.expect.decisions],
      ['next', session.expect.next_actions],
    ] as const) {
      const found = findings.filter((f) => f.kind === kind).map((f) => norm(f.text));
      const t = totals[kind];
      for (const f of found) {
        if (labels.some((l) => f.includes(norm(l)))) t.tp++;
        else {
          t.fp++;
          misses.push(`${name} ${kind} false positive: ${f}`);
        }
      }
      for (const l of labels) {
        t.labels++;
        if (found.some((f) => f.includes(norm(l)))) t.recalled++;
        else misses.push(`${name} ${kind} missed: ${l}`);
      }
    }
  }
  const sum = Object.values(totals).reduce((a, t) => ({
    tp: a.tp + t.tp,
    fp: a.fp + t.fp,
    labels: a.labels + t.labels,
    recalled: a.recalled + t.recalled,
  }));
  const fig = (t: typeof sum) => ({
    recall: Number((t.recalled / Math.max(1, t.labels)).toFixed(3)),
    precision: Number((t.tp / Math.max(1, t.tp + t.fp)).toFixed(3)),
    labels: t.labels,
    found: t.tp + t.fp,
  });
  return { figures: { decisions: fig(totals.decision), next_actions: fig(totals.next), overall: fig(sum) }, misses };
}
