/**
 * Issue 20: the five-turn session that used to digest to "Decisions: (none)", "Commands: (none)",
 * "Open items: (none)", in Japanese and in English, through the real CLI (`vpm chat append` then
 * `vpm digest --session`): the digest lists the decision, the command, both next actions, the
 * evidence path and G-3, each linked to the chat entry it came from.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir, vpm, vpmJson } from '../helpers/cli.js';

const SESSIONS = {
  ja: [
    'hello のカナリアを開始します。vpm canary start hello --weight 10 を実行しました。',
    'p95 が 420ms で SLO の 300ms を超えました。結果は reports/canary/hello/run1.json にあります。',
    'SLO 違反のためカナリアを中止し、安定版に戻しました。',
    '次はプールサイズを 20 に上げて再デプロイします。',
    '明日 G-3 の coverage を確認する。',
  ],
  en: [
    'Starting the canary for hello: vpm canary start hello --weight 10 is running.',
    'p95 is 420ms, above the 300ms SLO. The result is in reports/canary/hello/run1.json.',
    'Because of the SLO breach we aborted the canary and went back to the stable revision.',
    'Next, I will raise the pool size to 20 and redeploy.',
    'Tomorrow I will check the coverage of G-3.',
  ],
};
const EXPECTED = {
  ja: { decision: 'カナリアを中止し', next: ['次はプールサイズを 20 に上げて再デプロイします。', '明日 G-3 の coverage を確認する。'] },
  en: {
    decision: 'we aborted the canary',
    next: ['Next, I will raise the pool size to 20 and redeploy.', 'Tomorrow I will check the coverage of G-3.'],
  },
};

function section(md: string, heading: string): string[] {
  const body = md.split(`## ${heading}\n\n`)[1]?.split('\n\n')[0] ?? '';
  return body.split('\n').filter((l) => l.startsWith('- '));
}

describe.each(['ja', 'en'] as const)('digest of the five-turn %s session', (lang) => {
  it('lists the decision, the command, both next actions, the evidence path and G-3, each linked to its entry', async () => {
    const cwd = tempDir();
    const ids: string[] = [];
    for (const [i, text] of SESSIONS[lang].entries()) {
      const r = await vpmJson(['chat', 'append', '--session', `s-${lang}`, '--role', i % 2 ? 'assistant' : 'user', '--text', text], {
        cwd,
      });
      expect(r.result.exitCode, String(r.result.stderr)).toBe(0);
      ids.push(r.json.id ?? r.json.entry?.id);
    }
    expect(ids.every(Boolean), JSON.stringify(ids)).toBe(true);
    // A tool turn: its command and exit code come from meta, not from prose.
    const tool = await vpmJson(
      [
        'chat',
        'append',
        '--session',
        `s-${lang}`,
        '--role',
        'tool',
        '--meta',
        JSON.stringify({ command: 'vpm canary abort hello', exit_code: 0 }),
        '--text',
        'canary aborted',
      ],
      { cwd },
    );
    expect(tool.result.exitCode).toBe(0);
    const toolId = tool.json.id ?? tool.json.entry?.id;

    const d = await vpmJson(['digest', '--session', `s-${lang}`], { cwd });
    expect(d.result.exitCode, String(d.result.stderr)).toBe(0);
    const md = readFileSync(join(cwd, d.json.digest), 'utf8');
    const day = new Date().toISOString().slice(0, 10);
    const link = (id: string) => `— [\`${id}\`](../../logs/${day}.jsonl)`;

    const decisions = section(md, 'Decisions');
    expect(decisions).toHaveLength(1);
    expect(decisions[0]).toContain(EXPECTED[lang].decision);
    expect(decisions[0]).toContain(link(ids[2]));

    const commands = section(md, 'Commands');
    expect(commands).toEqual([
      `- \`vpm canary start hello --weight 10\` ${link(ids[0])}`,
      `- \`vpm canary abort hello\` (exit 0) ${link(toolId)}`,
    ]);

    const open = section(md, 'Open items');
    expect(open).toEqual([`- ${EXPECTED[lang].next[0]} ${link(ids[3])}`, `- ${EXPECTED[lang].next[1]} ${link(ids[4])}`]);

    expect(section(md, 'Evidence')).toEqual([`- \`reports/canary/hello/run1.json\` ${link(ids[1])}`]);
    expect(section(md, 'Goals')).toEqual([`- G-3 ${link(ids[4])}`]);
    const slo = section(md, 'SLO facts').join('\n');
    expect(slo).toMatch(/p95 (?:が|is) 420ms/);

    // Same input → byte-identical output.
    expect((await vpm(['digest', '--session', `s-${lang}`], { cwd })).exitCode).toBe(0);
    expect(readFileSync(join(cwd, d.json.digest), 'utf8')).toBe(md);
  });
});
