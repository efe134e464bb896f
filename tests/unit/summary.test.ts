import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { summariseExtractive } from '../../src/memory/summarisers/extractive.js';
import { graphemeLength, graphemes, truncateGraphemes } from '../../src/memory/graphemes.js';

const JA_SENTENCES = [
  '今日はカナリアリリースの手順を確認しました。',
  'エラー率が上がったらすぐに安定版へ戻す方針に決定しました！',
  'p95 レイテンシは 500ms 以下を目標にします。',
  '次に guard のウィンドウを 30 秒に設定する予定です？',
  '家族の絵文字👨‍👩‍👧‍👦と国旗🇯🇵、そして合成文字か\u3099を含めて確認します。',
  'reports/canary/hello/run1.json に証跡を保存しました。',
  'ロールバック後に自動でテストが走ることを確認しました。',
];

function japaneseConversation(minChars: number): Array<{ role: string; text: string }> {
  const turns: Array<{ role: string; text: string }> = [];
  let chars = 0;
  for (let i = 0; chars < minChars; i++) {
    const text = `${JA_SENTENCES[i % JA_SENTENCES.length]}（${i}回目）${JA_SENTENCES[(i * 3 + 1) % JA_SENTENCES.length]}`;
    turns.push({ role: i % 2 ? 'assistant' : 'user', text });
    chars += [...text].length;
  }
  return turns;
}

/** True when every grapheme of `summary` (except a closing ellipsis) is a whole grapheme of the source. */
function graphemesComeFromSource(summary: string, source: string): boolean {
  const allowed = new Set(graphemes(source));
  allowed.add(' ');
  allowed.add('…');
  return graphemes(summary).every((g) => allowed.has(g));
}

describe('extractive summariser', () => {
  it('summarises a 5,000-character Japanese conversation to ≤ 400 graphemes without splitting a grapheme', () => {
    const turns = japaneseConversation(5000);
    const source = turns.map((t) => t.text).join('\n');
    expect([...source].length).toBeGreaterThanOrEqual(5000);
    const summary = summariseExtractive(turns, 400);
    expect(graphemeLength(summary)).toBeLessThanOrEqual(400);
    expect(graphemeLength(summary)).toBeGreaterThan(200); // it fills the budget, not just one sentence
    expect(graphemesComeFromSource(summary, source)).toBe(true);
    expect(summary).toContain('決定');
  });

  it('cuts a single over-long sentence at a grapheme boundary with an ellipsis', () => {
    const family = '👨‍👩‍👧‍👦';
    const text = family.repeat(450);
    const summary = summariseExtractive([{ role: 'user', text }], 400);
    expect(graphemeLength(summary)).toBe(400);
    expect(summary.endsWith(`${family}…`)).toBe(true);
    expect(
      graphemes(summary)
        .slice(0, -1)
        .every((g) => g === family),
    ).toBe(true);
  });

  it('is deterministic', () => {
    const turns = japaneseConversation(3000);
    expect(summariseExtractive(turns, 400)).toBe(summariseExtractive(turns, 400));
  });

  it('never exceeds the cap nor splits a grapheme, for any input (property)', () => {
    const grapheme = fc.oneof(
      fc.constantFrom('あ', '。', '！', '？', '.', ' ', '\n', 'a', 'Z', '👍🏽', '🇯🇵', '👨‍👩‍👧', 'か\u3099', 'e\u0301', '漢'),
      fc.string({ minLength: 1, maxLength: 3 }),
    );
    const text = fc.array(grapheme, { minLength: 1, maxLength: 900 }).map((gs) => gs.join(''));
    fc.assert(
      fc.property(fc.array(text, { minLength: 1, maxLength: 5 }), fc.integer({ min: 1, max: 400 }), (texts, cap) => {
        const turns = texts.map((t) => ({ role: 'user', text: t }));
        const summary = summariseExtractive(turns, cap);
        return graphemeLength(summary) <= cap && graphemesComeFromSource(summary, texts.join('\n'));
      }),
      { numRuns: 300 },
    );
  });

  it('truncateGraphemes keeps whole graphemes', () => {
    expect(truncateGraphemes('🇯🇵🇯🇵🇯🇵', 2)).toBe('🇯🇵…');
    expect(truncateGraphemes('abc', 3)).toBe('abc');
  });
});
