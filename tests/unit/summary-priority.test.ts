/**
 * Issue 20: when a batch does not fit in 400 graphemes, the extractive summary keeps the decisions
 * and next actions and drops the chatter — even chatter that repeats the batch's frequent words
 * (which a pure frequency score rewards).
 */
import { describe, expect, it } from 'vitest';
import { graphemeLength } from '../../src/memory/graphemes.js';
import { summariseExtractive } from '../../src/memory/summarisers/extractive.js';

function chatter(lang: 'ja' | 'en', n: number): Array<{ role: string; text: string }> {
  const ja = [
    'カナリアのダッシュボードを見ています、カナリアのグラフはいつものカナリアのグラフと同じ形です。',
    'カナリアのログも眺めていますが、カナリアのポッドはカナリアらしく元気に動いています。',
    'なるほど、カナリアのグラフとカナリアのログ、どちらもカナリアの話ですね。',
  ];
  const en = [
    'Looking at the canary dashboard, the canary graph looks like the usual canary graph for the canary pods.',
    'The canary logs also look like canary logs, the canary pods are doing canary things as canary pods do.',
    'Right, so the canary graph and the canary logs are both about the canary, as canary things are.',
  ];
  const pool = lang === 'ja' ? ja : en;
  return Array.from({ length: n }, (_, i) => ({
    role: i % 2 ? 'assistant' : 'user',
    text: pool[i % pool.length].replace(/。$|\.$/, ` (${i})${lang === 'ja' ? '。' : '.'}`),
  }));
}

describe('extractive summary under pressure', () => {
  it.each([
    ['ja', 'SLO 違反のためカナリアを中止しました。', '次はプールサイズを 20 に上げて再デプロイします。'],
    ['en', 'We decided to abort the canary because of the SLO breach.', 'Next, raise the pool size to 20 and redeploy.'],
  ] as const)('%s: keeps the decision and the next action over chatter', (lang, decision, next) => {
    const turns = [
      ...chatter(lang, 6),
      { role: 'user', text: decision },
      ...chatter(lang, 6).slice(3),
      { role: 'assistant', text: next },
      ...chatter(lang, 4),
    ];
    const total = turns.reduce((n, t) => n + graphemeLength(t.text), 0);
    expect(total).toBeGreaterThan(600);
    const summary = summariseExtractive(turns, 400);
    expect(graphemeLength(summary)).toBeLessThanOrEqual(400);
    expect(summary).toContain(decision);
    expect(summary).toContain(next);
  });
});
