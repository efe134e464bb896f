/**
 * Lag of the memory loop: chat entry `ts` → `created_at` of the summary that covered it (through its
 * `source.from_id … to_id` range, in log order), and summary `created_at` → the first digest run
 * at or after it.
 */
import { join } from 'node:path';
import { listChatFiles } from '../memory/chat-reader.js';
import { readDigestRuns, DIGEST_RUNS_FILE } from './digest-runs.js';
import { percentile, readJsonLines, readMemoryRaw } from './files.js';

interface LagStats {
  count: number;
  p50_ms: number | null;
  p95_ms: number | null;
  max_ms: number | null;
}

export interface LagResult {
  chat_to_summary: LagStats & { unsummarised: number; unmatched_summaries: number };
  summary_to_digest: LagStats & { undigested: number; source: string; note: string | null };
}

function stats(values: number[]): LagStats {
  const sorted = [...values].sort((a, b) => a - b);
  return {
    count: sorted.length,
    p50_ms: percentile(sorted, 50),
    p95_ms: percentile(sorted, 95),
    max_ms: sorted.length ? sorted[sorted.length - 1] : null,
  };
}

export function computeLag(cwd: string): LagResult {
  // Chat entries in log order (files are per day, lines in append order).
  const chat: Array<{ id: string; ts: number }> = [];
  for (const file of listChatFiles(cwd)) {
    for (const raw of readJsonLines(join(cwd, 'logs', file))) {
      const e = raw as { id?: unknown; ts?: unknown };
      if (typeof e?.id === 'string' && typeof e.ts === 'string' && !Number.isNaN(Date.parse(e.ts)))
        chat.push({ id: e.id, ts: Date.parse(e.ts) });
    }
  }
  const index = new Map(chat.map((c, i) => [c.id, i]));
  const summaries = readMemoryRaw(cwd)
    .entries.filter(
      (e) => (e.kind ?? 'summary') === 'summary' && typeof e.created_at === 'string' && !Number.isNaN(Date.parse(e.created_at as string)),
    )
    .map((e) => ({
      created: Date.parse(e.created_at as string),
      source: (e.source ?? {}) as { from_id?: string | null; to_id?: string | null },
    }));

  const covered = new Set<number>();
  const chatLags: number[] = [];
  let unmatched = 0;
  for (const s of summaries) {
    const from = s.source.from_id ? index.get(s.source.from_id) : undefined;
    const to = s.source.to_id ? index.get(s.source.to_id) : undefined;
    if (from === undefined || to === undefined) {
      unmatched++;
      continue;
    }
    for (let i = Math.min(from, to); i <= Math.max(from, to); i++) {
      if (covered.has(i)) continue;
      covered.add(i);
      chatLags.push(Math.max(0, s.created - chat[i].ts));
    }
  }

  const runs = readDigestRuns(cwd)
    .map((r) => Date.parse(r.ts))
    .sort((a, b) => a - b);
  const digestLags: number[] = [];
  let undigested = 0;
  for (const s of summaries) {
    const next = runs.find((t) => t >= s.created);
    if (next === undefined) undigested++;
    else digestLags.push(next - s.created);
  }
  const note = runs.length === 0 ? `no digest runs recorded yet (${DIGEST_RUNS_FILE} is appended by vpm digest)` : null;
  return {
    chat_to_summary: { ...stats(chatLags), unsummarised: chat.length - covered.size, unmatched_summaries: unmatched },
    summary_to_digest: { ...stats(digestLags), undigested, source: DIGEST_RUNS_FILE, note },
  };
}
