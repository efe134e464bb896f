import { describe, expect, it } from 'vitest';
import { renderDigest } from '../../src/memory/digest.js';
import type { ChatEntry } from '../../src/memory/chat-log.js';

const entry = (n: number, text: string, session = 's1'): ChatEntry => ({
  v: 1,
  id: `chat_20260101T000000Z_${String(n).padStart(6, '0')}`,
  ts: new Date(Date.UTC(2026, 0, 1) + n * 1000).toISOString(),
  session,
  role: n % 2 ? 'assistant' : 'user',
  text,
});

describe('renderDigest', () => {
  it('keeps the newest 100 items of a section and says how many were omitted', () => {
    const entries = Array.from({ length: 250 }, (_, n) => entry(n, `We decided on option ${n}.`));
    const out = renderDigest({ cwd: '/nonexistent', date: '2026-01-01', entries, memory: [] });
    const decisions = out.digest.split('## Decisions\n\n')[1].split('\n\n')[0].split('\n');
    expect(decisions[0]).toBe('- (150 earlier items omitted)');
    expect(decisions).toHaveLength(101);
    expect(decisions.at(-1)).toBe('- We decided on option 249. — [`chat_20260101T000000Z_000249`](../../logs/2026-01-01.jsonl)');
    expect(out.stats.decisions).toBe(250);
  });

  it('is independent of entry order within a day and groups the diagram by session', () => {
    const entries = [entry(1, 'first in s2 reports/a.json', 's2'), entry(0, 'first in s1 see docs/x.md', 's1'), entry(2, 'reply', 's1')];
    const a = renderDigest({
      cwd: '/nonexistent',
      date: '2026-01-01',
      entries: [...entries].sort((x, y) => x.ts.localeCompare(y.ts)),
      memory: [],
    });
    expect(a.nav).toMatch(/S0\["session s1 #40;2 turns#41;"\][\s\S]*S1\["session s2 #40;1 turns#41;"\]/);
    expect(a.nav).toContain('F0[("docs/x.md")]');
  });
});
