/**
 * What happened to a KService, from the evidence: releases, canaries, guards and undos, oldest
 * first, each with its revision, the revision before it, the verdict, who and when.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { readTextIfExists } from '../core/fs.js';

export interface HistoryEntry {
  at: string;
  finished_at: string | null;
  kind: 'release' | 'canary' | 'guard' | 'undo';
  run_id: string;
  namespace: string | null;
  context: string | null;
  revision: string | null;
  previous: string | null;
  result: string;
  reason: string | null;
  by: string | null;
  evidence: string;
}

const SOURCES: Array<{ kind: HistoryEntry['kind']; dir: string; revision: string; previous: string }> = [
  { kind: 'release', dir: 'reports/release', revision: 'candidate', previous: 'stable' },
  { kind: 'canary', dir: 'reports/canary', revision: 'candidate', previous: 'stable' },
  { kind: 'guard', dir: 'reports/guard', revision: 'revision', previous: 'previous_revision' },
  { kind: 'undo', dir: 'reports/undo', revision: 'to', previous: 'from' },
];

function files(dir: string): string[] {
  try {
    return readdirSync(dir).filter((f) => f.endsWith('.json'));
  } catch {
    return [];
  }
}

function isRecord(doc: unknown): doc is Record<string, unknown> {
  return typeof doc === 'object' && doc !== null && !Array.isArray(doc);
}

/** Every namespace's runs when `namespace` is undefined. */
export function readHistory(root: string, ksvc: string, namespace?: string): HistoryEntry[] {
  const entries: HistoryEntry[] = [];
  for (const source of SOURCES) {
    const dir = join(source.dir, ksvc);
    for (const file of files(join(root, dir))) {
      let doc: unknown;
      try {
        doc = JSON.parse(readTextIfExists(join(root, dir, file)) ?? '');
      } catch {
        continue; // not evidence vpm can read; history lists what it can
      }
      if (!isRecord(doc)) continue; // `null`, a number, a list: JSON, but no evidence either
      if (namespace && doc.namespace !== namespace) continue;
      const str = (k: string) => (typeof doc[k] === 'string' ? (doc[k] as string) : null);
      entries.push({
        at: str('started_at') ?? '',
        finished_at: str('finished_at'),
        kind: source.kind,
        run_id: str('run_id') ?? file.replace(/\.json$/, ''),
        namespace: str('namespace'),
        context: str('context'),
        revision: str(source.revision),
        previous: str(source.previous),
        result: str('result') ?? str('status') ?? 'unknown',
        reason: str('reason'),
        by: str('by'),
        evidence: join(dir, file),
      });
    }
  }
  return entries.sort((a, b) => a.at.localeCompare(b.at) || a.kind.localeCompare(b.kind));
}

/** The verdicts by which a release, canary or guard passed its gate; an undo passes none. */
const PASSED: Record<HistoryEntry['kind'], ReadonlySet<string>> = {
  release: new Set(['released', 'first_deploy', 'promoted']),
  canary: new Set(['released', 'first_deploy', 'promoted']),
  guard: new Set(['ok']),
  undo: new Set(),
};

export function passedGate(e: HistoryEntry): boolean {
  return e.revision !== null && PASSED[e.kind].has(e.result);
}

/**
 * Revisions that served users or passed a gate: each release, canary or guard revision that passed,
 * and each one that served 100% when a release, canary or guard started (its `previous`). An undo's
 * `to` is not among them for being restored: it is only as good as it was before.
 */
export function passedRevisions(entries: HistoryEntry[]): Set<string> {
  const passed = new Set<string>();
  for (const e of entries) {
    if (e.kind === 'undo') continue;
    if (passedGate(e)) passed.add(e.revision as string);
    if (e.previous) passed.add(e.previous);
  }
  return passed;
}

/**
 * Where a default undo may go (`entries` oldest first): the revisions of `passedRevisions`, the one
 * seen good most recently first, without those an undo moved away from since they last passed a gate
 * (so a second undo does not put back what the first one took away). `undone` lists those.
 */
export function undoCandidates(entries: HistoryEntry[]): { candidates: string[]; undone: string[] } {
  const lastPass = new Map<string, number>();
  const lastUndone = new Map<string, number>();
  const lastSeenGood = new Map<string, number>();
  // Within one entry its revision ranks before its previous: the later of the two to serve.
  entries.forEach((e, i) => {
    if (e.kind === 'undo') {
      if (e.previous) lastUndone.set(e.previous, i);
      return;
    }
    if (e.previous) lastSeenGood.set(e.previous, 2 * i);
    if (passedGate(e)) {
      lastPass.set(e.revision as string, i);
      lastSeenGood.set(e.revision as string, 2 * i + 1);
    }
  });
  const isUndone = (rev: string) => (lastUndone.get(rev) ?? -1) > (lastPass.get(rev) ?? -1);
  const ranked = [...lastSeenGood.entries()].sort((a, b) => b[1] - a[1]).map(([rev]) => rev);
  return { candidates: ranked.filter((r) => !isUndone(r)), undone: ranked.filter(isUndone) };
}
