/**
 * Which revisions `vpm canary undo` may go back to, from the evidence history: what passed a gate or
 * served 100%, and never a revision an undo moved away from until it passes a gate again.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { passedRevisions, readHistory, undoCandidates, type HistoryEntry } from '../../src/deploy/history.ts';
import { tempDir } from '../helpers/cli.ts';

let clock = 0;
function entry(kind: HistoryEntry['kind'], revision: string, previous: string | null, result: string): HistoryEntry {
  clock++;
  return {
    at: `2026-01-01T00:00:${String(clock).padStart(2, '0')}Z`,
    finished_at: null,
    kind,
    run_id: `${kind}_${clock}`,
    namespace: 'ns',
    context: 'c',
    revision,
    previous,
    result,
    reason: null,
    by: 'me',
    evidence: `reports/${kind}/hello/${clock}.json`,
  };
}

describe('undo candidates', () => {
  it('a second undo does not put back what the first undo moved away from; the undo target gains nothing', () => {
    const history = [
      entry('release', 'r1', null, 'first_deploy'),
      entry('canary', 'r2', 'r1', 'promoted'),
      entry('canary', 'r3', 'r2', 'promoted'),
      entry('undo', 'r2', 'r3', 'restored'),
    ];
    expect(undoCandidates(history)).toEqual({ candidates: ['r2', 'r1'], undone: ['r3'] });
    history.push(entry('undo', 'r1', 'r2', 'restored'));
    expect(undoCandidates(history)).toEqual({ candidates: ['r1'], undone: ['r3', 'r2'] });
  });

  it('a revision undone away from is a candidate again once it passes a gate again, not when it merely serves again', () => {
    const history = [
      entry('release', 'r1', null, 'first_deploy'),
      entry('canary', 'r2', 'r1', 'promoted'),
      entry('undo', 'r1', 'r2', 'restored'),
      entry('undo', 'r2', 'r1', 'restored'),
      entry('canary', 'r3', 'r2', 'aborted'),
    ];
    expect(undoCandidates(history)).toEqual({ candidates: [], undone: ['r2', 'r1'] });
    history.push(entry('guard', 'r2', 'r1', 'ok'));
    expect(undoCandidates(history)).toEqual({ candidates: ['r2'], undone: ['r1'] });
  });

  it('passed: revisions a release, canary or guard passed and the stables rollouts started from; not a failed candidate nor an undo target', () => {
    const history = [
      entry('release', 'r1', null, 'first_deploy'),
      entry('canary', 'r2', 'r1', 'aborted'),
      entry('guard', 'r4', 'r1', 'ng'),
      entry('undo', 'r3', 'r1', 'restored'),
    ];
    expect([...passedRevisions(history)]).toEqual(['r1']);
  });
});

describe('readHistory', () => {
  it('skips evidence files that hold JSON but no object (null, a number, a list, a string)', () => {
    const root = tempDir();
    const write = (kind: string, file: string, text: string) => {
      mkdirSync(join(root, 'reports', kind, 'hello'), { recursive: true });
      writeFileSync(join(root, 'reports', kind, 'hello', file), text);
    };
    for (const [kind, text] of [
      ['release', 'null'],
      ['canary', '1'],
      ['guard', '[]'],
      ['undo', '"x"'],
    ])
      write(kind, 'bad.json', text);
    write('guard', 'good.json', JSON.stringify({ run_id: 'g', namespace: 'ns', revision: 'r1', result: 'ok', started_at: 'x' }));
    expect(readHistory(root, 'hello', 'ns').map((e) => `${e.kind}:${e.revision}:${e.result}`)).toEqual(['guard:r1:ok']);
    expect(readHistory(root, 'hello', 'other')).toEqual([]);
    expect(readHistory(root, 'hello')).toHaveLength(1);
  });
});
