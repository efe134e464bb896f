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

export function readHistory(root: string, ksvc: string, namespace?: string): HistoryEntry[] {
  const entries: HistoryEntry[] = [];
  for (const source of SOURCES) {
    const dir = join(source.dir, ksvc);
    for (const file of files(join(root, dir))) {
      let doc: Record<string, unknown>;
      try {
        doc = JSON.parse(readTextIfExists(join(root, dir, file)) ?? '') as Record<string, unknown>;
      } catch {
        continue; // not evidence vpm can read; history lists what it can
      }
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
