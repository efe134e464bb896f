/** Mermaid validation and SVG export with the real renderer (mermaid in Debian's headless Chromium). */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir, vpm, vpmJson } from '../helpers/cli.js';
import { makeGitRepo, type TempRepo } from '../helpers/gitrepo.js';

const repos: TempRepo[] = [];
afterAll(() => repos.forEach((r) => r.cleanup()));

function repoWith(files: Record<string, string>): TempRepo {
  const repo = makeGitRepo({
    files: {
      'STATE/current_state.md':
        '---\nphase: S1\nupdated_at: 2026-01-01T00:00:00.000Z\n---\n# Current state\n\n## C\nx\n\n## G\n- G-1: one\n\n## δ\ny\n',
      ...files,
    },
  });
  repos.push(repo);
  return repo;
}

const VALID = [
  '# Architecture',
  '',
  'Some prose.',
  '',
  '```mermaid',
  'flowchart LR',
  '  A[Chat log] --> B[Summary ≤400]',
  '  B --> C{{Healthcheck}}',
  '```',
  '',
].join('\n');

// Line 9 of the file is the broken edge (the block starts on line 6).
const BROKEN = [
  '# Broken',
  '',
  '```js',
  '```mermaid inside another fence is not a diagram',
  '```',
  '```mermaid',
  'flowchart TD',
  '  A --> B',
  '  B --> --> C',
  '```',
  '',
].join('\n');

describe('Mermaid diagrams', () => {
  it('a valid diagram exports an SVG that contains the node labels', async () => {
    const repo = repoWith({
      'diagrams/src/architecture.md': VALID,
      'diagrams/src/seq.mmd': 'sequenceDiagram\n  Alice->>Bob: deploy canary\n  Bob-->>Alice: SLO ok\n',
    });
    // A private TMPDIR shows the browser's throw-away profile (--user-data-dir) is removed afterwards.
    const tmp = tempDir('vpm-diagrams-tmp-');
    const { result, json } = await vpmJson(['diagrams', 'export'], { cwd: repo.dir, env: { TMPDIR: tmp } });
    expect(result.exitCode, String(result.stderr)).toBe(0);
    expect(json).toMatchObject({ ok: true, checked: 2, invalid: [] });
    expect(readdirSync(tmp).filter((f) => f.startsWith('vpm-chromium-'))).toEqual([]);
    expect(json.exported.sort()).toEqual(['diagrams/export/architecture.svg', 'diagrams/export/seq.svg']);
    const svg = readFileSync(join(repo.dir, 'diagrams/export/architecture.svg'), 'utf8');
    expect(svg.startsWith('<svg')).toBe(true);
    for (const label of ['Chat log', 'Summary ≤400', 'Healthcheck']) expect(svg).toContain(label);
    const seq = readFileSync(join(repo.dir, 'diagrams/export/seq.svg'), 'utf8');
    for (const label of ['Alice', 'Bob', 'deploy canary', 'SLO ok']) expect(seq).toContain(label);

    // A second export leaves identical SVGs untouched.
    const again = await vpmJson(['diagrams', 'export'], { cwd: repo.dir });
    expect(again.json.exported).toEqual([]);
    expect(again.json.unchanged.sort()).toEqual(['diagrams/export/architecture.svg', 'diagrams/export/seq.svg']);
  });

  it('a syntax error fails the healthcheck with the file and line', async () => {
    const repo = repoWith({ 'diagrams/src/broken.md': BROKEN, 'diagrams/src/ok.md': VALID });
    const r = await vpm(['healthcheck', '--no-test'], { cwd: repo.dir });
    expect(r.exitCode).toBe(1);
    expect(String(r.stdout)).toMatch(/diagrams\s+red/);
    expect(String(r.stdout)).toContain('diagrams/src/broken.md:9: Parse error');
    const quality = JSON.parse(readFileSync(join(repo.dir, 'reports/quality.json'), 'utf8'));
    expect(quality.diagrams.invalid).toEqual([
      {
        file: 'diagrams/src/broken.md',
        line: 9,
        message: expect.stringMatching(/^Parse error: \.\.\.D {2}A --> B {2}B --> --> C Expecting .*got 'LINK'$/),
      },
    ]);
    expect(quality.diagrams.checked).toBe(2);
    expect(quality.status).toBe('red');
    // The valid one is still exported; the broken one is not.
    expect(existsSync(join(repo.dir, 'diagrams/export/ok.svg'))).toBe(true);
    expect(existsSync(join(repo.dir, 'diagrams/export/broken.svg'))).toBe(false);
  });

  it('diagrams check reports errors in .mmd files and several blocks per file, writing nothing', async () => {
    const repo = repoWith({
      'diagrams/src/two.md': `${VALID}\n\n~~~mermaid\nsequenceDiagram\n  Alice->>Bob hi\n~~~\n`,
      'diagrams/src/flow.mmd': 'flowchart TD\n  A --> B\n  B --> C[unclosed\n',
      'diagrams/src/open.md': '```mermaid\nflowchart TD\n  A --> B\n',
    });
    const { result, json } = await vpmJson(['diagrams', 'check'], { cwd: repo.dir });
    expect(result.exitCode).toBe(1);
    const where = json.invalid.map((p: any) => `${p.file}:${p.line}`).sort();
    // two.md: the second block starts on line 13 (after VALID's 10 lines + 2 blank + fence); its error is on its line 2.
    expect(where).toEqual(['diagrams/src/flow.mmd:3', 'diagrams/src/open.md:1', 'diagrams/src/two.md:14']);
    expect(json.invalid.find((p: any) => p.file.endsWith('open.md')).message).toMatch(/never closed/);
    expect(existsSync(join(repo.dir, 'diagrams/export'))).toBe(false);
  });

  it('says how to get a browser when Chromium is missing', async () => {
    const repo = repoWith({ 'diagrams/src/a.md': VALID });
    const r = await vpm(['diagrams', 'export'], { cwd: repo.dir, env: { VPM_CHROMIUM: '/nonexistent/chromium' } });
    expect(r.exitCode).toBe(1);
    expect(String(r.stderr)).toMatch(/VPM_CHROMIUM=\/nonexistent\/chromium does not exist/);
    expect(String(r.stderr)).toMatch(/apt-get install -y chromium/);
    // In a healthcheck the same problem is a red diagrams check, with the reports still written.
    const h = await vpmJson(['healthcheck', '--no-test'], { cwd: repo.dir, env: { VPM_CHROMIUM: '/nonexistent/chromium' } });
    expect(h.result.exitCode).toBe(1);
    expect(JSON.parse(readFileSync(join(repo.dir, 'reports/quality.json'), 'utf8')).diagrams.error).toMatch(/does not exist/);
  });
});
