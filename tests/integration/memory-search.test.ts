/**
 * `vpm memory search`: words (Japanese by ICU segmentation, case-folded, NFKC) across chat entries,
 * summaries and digests, newest first; unrelated entries are not returned.
 */
import { describe, expect, it } from 'vitest';
import { tempDir, vpm, vpmJson } from '../helpers/cli.js';

describe('vpm memory search', () => {
  it('カナリア and canary find the right entries, summaries and digests, newest first, and nothing unrelated', async () => {
    const cwd = tempDir();
    const turns = [
      ['s1', 'hello のカナリアを開始しました。'], // 0 ja canary
      ['s1', 'The CANARY for hello is at 10%.'], // 1 en canary (case-folded)
      ['s1', 'Lunch at noon? Canaryfoo is not a word.'], // 2 unrelated: canary only inside a longer word
      ['s2', 'ｶﾅﾘｱ の p95 が 420ms です。'], // 3 half-width katakana: NFKC → カナリア
      ['s2', 'プールサイズを 20 に上げます。'], // 4 unrelated
      ['s2', 'We aborted the canary rollout.'], // 5 en canary
    ];
    const ids: string[] = [];
    for (const [session, text] of turns) {
      const r = await vpmJson(['chat', 'append', '--session', session, '--text', text], { cwd });
      expect(r.result.exitCode).toBe(0);
      ids.push(r.json.id);
    }
    expect((await vpm(['digest', '--session', 's2'], { cwd })).exitCode).toBe(0);

    const ja = await vpmJson(['memory', 'search', 'カナリア'], { cwd });
    expect(ja.result.exitCode, String(ja.result.stderr)).toBe(0);
    const jaChat = ja.json.hits.filter((h: any) => h.kind === 'chat').map((h: any) => h.id);
    expect(jaChat).toEqual([ids[3], ids[0]]); // newest first
    // The s2 digest lists "We aborted the canary rollout." (a decision), not the katakana line.
    expect(ja.json.hits.filter((h: any) => h.kind === 'digest')).toEqual([]);
    expect(ja.json.hits[0]).toMatchObject({ kind: expect.any(String), ts: expect.stringMatching(/^\d{4}-/), snippet: expect.any(String) });
    expect(ja.json.hits.find((h: any) => h.id === ids[0]).snippet).toContain('カナリア');

    const en = await vpmJson(['memory', 'search', 'canary'], { cwd });
    const enChat = en.json.hits.filter((h: any) => h.kind === 'chat').map((h: any) => h.id);
    expect(enChat).toEqual([ids[5], ids[1]]);
    const digestHit = en.json.hits.find((h: any) => h.kind === 'digest');
    expect(digestHit.id).toMatch(/^docs\/sessions\/.*_s2_digest\.md$/);
    expect(digestHit.snippet).toContain('We aborted the canary rollout.');
    expect(en.json.hits.map((h: any) => h.ts)).toEqual([...en.json.hits.map((h: any) => h.ts)].sort().reverse());

    // A summary is found too, and a multi-word Japanese query needs every word.
    expect((await vpm(['summary'], { cwd })).exitCode).toBe(0);
    const both = await vpmJson(['memory', 'search', 'カナリアを開始'], { cwd });
    expect(both.json.terms).toEqual(['カナリア', '開始']);
    expect(both.json.hits.map((h: any) => h.kind).sort()).toEqual(['chat', 'summary']);
    expect(both.json.hits.find((h: any) => h.kind === 'chat').id).toBe(ids[0]);

    const limited = await vpmJson(['memory', 'search', '--limit', '1', 'canary'], { cwd });
    expect(limited.json.hits).toHaveLength(1);
    expect(limited.json.total).toBeGreaterThan(1);

    const human = await vpm(['memory', 'search', 'canary'], { cwd });
    expect(String(human.stdout)).toContain(ids[5]);
    const none = await vpm(['memory', 'search', 'kubernetes'], { cwd });
    expect(none.exitCode).toBe(0);
    expect(String(none.stdout)).toContain("no chat entry, summary or digest contains 'kubernetes'");
  });
});
