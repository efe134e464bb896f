/**
 * `vpm memory export --agents-md|--claude-md`: the marked section holds the STATE goals with their
 * coverage, the active freeze, open items and the newest summaries; a second export is byte-identical;
 * the text outside the markers is never touched; the size budget holds (and cuts when it must).
 */
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir, vpm, vpmJson } from '../helpers/cli.js';

const START = '<!-- vpm:memory:start -->';
const END = '<!-- vpm:memory:end -->';
const TOKEN = 'ghp_0123456789abcdefghijABCDEFGHIJklmnop';
const graphemes = (s: string) => [...new Intl.Segmenter('und', { granularity: 'grapheme' }).segment(s)].length;

async function seededRepo(): Promise<string> {
  const cwd = tempDir();
  mkdirSync(join(cwd, 'STATE'));
  writeFileSync(
    join(cwd, 'STATE', 'current_state.md'),
    '---\nphase: "build"\nupdated_at: "2026-03-01T00:00:00.000Z"\n---\n\n# Current state\n\n## C\n\nCanary lane.\n\n## G\n\n- G-1: canary with SLO gates\n- G-3: the digest finds decisions\n\n## δ\n\nClose G-3.\n',
  );
  mkdirSync(join(cwd, 'reports'));
  writeFileSync(
    join(cwd, 'reports', 'coverage.json'),
    JSON.stringify({
      goals: {
        total: 2,
        covered: 1,
        ratio: 0.5,
        items: [{ id: 'G-1', text: 'canary', evidence: ['reports/canary/hello/run1.json'] }],
        gaps: [{ id: 'G-3', text: 'digest' }],
      },
    }),
  );
  const turns = [
    'SLO 違反のためカナリアを中止しました。',
    '次はプールサイズを 20 に上げて再デプロイします。',
    '明日 G-3 の coverage を確認する。',
    'Tomorrow I will check the guard window.',
  ];
  for (const text of turns) expect((await vpm(['chat', 'append', '--session', 's1', '--text', text], { cwd })).exitCode).toBe(0);
  expect((await vpm(['summary'], { cwd })).exitCode).toBe(0);
  expect((await vpm(['freeze', 'on', '--reason', 'year-end traffic'], { cwd })).exitCode).toBe(0);
  return cwd;
}

describe('vpm memory export', () => {
  it('--agents-md: the section holds goals+coverage, freeze, open items, summaries; twice → byte-identical; outside untouched', async () => {
    const cwd = await seededRepo();
    const head = '# Agents\r\n\r\nHouse rules: run the tests before pushing.\r\n';
    writeFileSync(join(cwd, 'AGENTS.md'), head);
    const first = await vpmJson(['memory', 'export', '--agents-md'], { cwd });
    expect(first.result.exitCode, String(first.result.stderr)).toBe(0);
    const after1 = readFileSync(join(cwd, 'AGENTS.md'), 'utf8');
    expect(after1.startsWith(head)).toBe(true);
    const section = after1.slice(after1.indexOf(START), after1.indexOf(END) + END.length);
    // The file was CRLF: the section follows it.
    expect(section.replace(/\r\n/g, '')).not.toContain('\n');
    expect(section).toContain('G-1: canary with SLO gates — covered by reports/canary/hello/run1.json');
    expect(section).toContain('G-3: the digest finds decisions — gap: no evidence names it');
    expect(section).toContain('Coverage 50%');
    expect(section).toMatch(/deploys frozen since .* \(manual\): year-end traffic/);
    expect(section).toContain('次はプールサイズを 20 に上げて再デプロイします。');
    expect(section).toContain('明日 G-3 の coverage を確認する。');
    expect(section).toContain('Tomorrow I will check the guard window.');
    expect(section).toContain('### Recent summaries');
    expect(first.json.files[0]).toMatchObject({ file: 'AGENTS.md', changed: true, created: false, max_chars: 4000 });
    expect(graphemes(section.replace(/\r\n/g, '\n'))).toBe(first.json.files[0].chars);

    // Twice → byte-identical, and reported unchanged.
    const second = await vpmJson(['memory', 'export', '--agents-md'], { cwd });
    expect(second.json.files[0].changed).toBe(false);
    expect(readFileSync(join(cwd, 'AGENTS.md'), 'utf8')).toBe(after1);

    // Text written after the section, and the head, survive a changed section byte for byte.
    const tail = '\r\n## Our notes\r\n\r\nKeep this — 手書きのメモ.\r\n';
    writeFileSync(join(cwd, 'AGENTS.md'), after1 + tail);
    expect((await vpm(['chat', 'append', '--session', 's1', '--text', 'TODO: rotate the staging keys'], { cwd })).exitCode).toBe(0);
    expect((await vpm(['memory', 'export', '--agents-md'], { cwd })).exitCode).toBe(0);
    const after3 = readFileSync(join(cwd, 'AGENTS.md'), 'utf8');
    expect(after3.startsWith(head)).toBe(true);
    expect(after3.endsWith(`${END}\r\n${tail}`)).toBe(true);
    expect(after3).toContain('TODO: rotate the staging keys');
    expect(after3.slice(0, after3.indexOf(START))).toBe(after1.slice(0, after1.indexOf(START)));
  });

  it('respects a budget small enough to cut, says what it left out, and refuses one below the minimum', async () => {
    const cwd = await seededRepo();
    const r = await vpmJson(['memory', 'export', '--claude-md', '--max-chars', '700'], { cwd });
    expect(r.result.exitCode, String(r.result.stderr)).toBe(0);
    const text = readFileSync(join(cwd, 'CLAUDE.md'), 'utf8');
    const section = text.slice(text.indexOf(START), text.indexOf(END) + END.length);
    expect(graphemes(section)).toBeLessThanOrEqual(700);
    expect(r.json.files[0].chars).toBeLessThanOrEqual(700);
    const omitted = r.json.files[0].omitted;
    expect(omitted.summaries + omitted.open_items).toBeGreaterThan(0);
    expect(section).toMatch(/- … \d+ (?:more|older) in /);
    // The freeze is the last thing to go.
    expect(section).toContain('year-end traffic');

    const tooSmall = await vpm(['memory', 'export', '--claude-md', '--max-chars', '120'], { cwd });
    expect(tooSmall.exitCode).toBe(2);
    expect(String(tooSmall.stderr)).toMatch(/--max-chars 120 is too small: the section needs at least \d+ characters/);
    expect(readFileSync(join(cwd, 'CLAUDE.md'), 'utf8')).toBe(text);
  });

  it('masks a secret that reached memory.json, and refuses a file with broken markers untouched', async () => {
    const cwd = await seededRepo();
    const memory = JSON.parse(readFileSync(join(cwd, 'memory.json'), 'utf8'));
    memory.entries[0].summary = `deploy token is ${TOKEN}`;
    writeFileSync(join(cwd, 'memory.json'), JSON.stringify(memory));
    expect((await vpm(['memory', 'export', '--agents-md'], { cwd })).exitCode).toBe(0);
    const text = readFileSync(join(cwd, 'AGENTS.md'), 'utf8');
    expect(text).toContain('deploy token is');
    expect(text).not.toContain(TOKEN);

    const broken = `# Agents\n${END}\nnotes\n${START}\n`;
    writeFileSync(join(cwd, 'CLAUDE.md'), broken);
    const r = await vpm(['memory', 'export', '--claude-md'], { cwd });
    expect(r.exitCode).toBe(2);
    expect(String(r.stderr)).toContain('in the wrong order');
    expect(readFileSync(join(cwd, 'CLAUDE.md'), 'utf8')).toBe(broken);
  });
});
