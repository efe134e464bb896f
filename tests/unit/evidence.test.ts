/** Evidence envelope, registry discovery, JSON Schema export and the healthcheck's pure parts. */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ajv2020 from 'ajv/dist/2020.js';
import * as ajvFormats from 'ajv-formats';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { tempDir, vpmJson } from '../helpers/cli.js';
import { loadEvidenceKinds, loadFileFormats } from '../../src/evidence/registry.js';
import { buildJsonSchemas } from '../../src/evidence/json-schema.js';
import { writeEvidence } from '../../src/evidence/write.js';
import { CoverageReport } from '../../src/schemas/healthcheck-report.js';
import { computeGoalCoverage } from '../../src/healthcheck/coverage.js';
import { percentile } from '../../src/healthcheck/files.js';
import { extractMermaidBlocks } from '../../src/diagrams/extract.js';
import { parseTestCommand } from '../../src/core/test-command.js';

const coverageBody = {
  state_file: 'STATE/current_state.md',
  goals: {
    total: 1,
    covered: 0,
    ratio: 0,
    min_ratio: 0,
    items: [{ id: 'G-1', text: 'x', evidence: [] }],
    gaps: [{ id: 'G-1', text: 'x' }],
    error: null,
  },
  evidence_scan: { root: 'reports', files: 0, excluded: [] },
  tests: null,
  tests_note: 'skipped (--no-test)',
  test_coverage: null,
  test_coverage_note: 'none',
};

describe('evidence registry', () => {
  it('discovers every *-evidence.ts / *-report.ts module without an index', async () => {
    const kinds = await loadEvidenceKinds();
    for (const k of ['coverage', 'lag', 'quality', 'contract']) expect(kinds.has(k), k).toBe(true);
    for (const kind of kinds.values()) {
      expect(kind.schemaId).toBe(`vpm.evidence.${kind.kind}/v1`);
      expect(kind.dir.startsWith('reports')).toBe(true);
    }
  });

  it('lists the other file formats (config, chat entry, memory, state, …)', async () => {
    const names = (await loadFileFormats()).map((f) => f.name);
    for (const n of ['config', 'chat-entry', 'memory-file', 'state']) expect(names).toContain(n);
    expect(names.some((n) => n.includes('evidence'))).toBe(false);
  });
});

describe('JSON Schema export', () => {
  it('every exported schema compiles as draft 2020-12, and real evidence validates against its exported schema', async () => {
    const files = await buildJsonSchemas();
    // CommonJS modules: the class / plugin is the default export.
    const Ajv2020 = (ajv2020 as any).default;
    const addFormats = (ajvFormats as any).default;
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    addFormats(ajv);
    const kinds = await loadEvidenceKinds();
    expect(
      files
        .filter((f) => f.path.startsWith('evidence/'))
        .map((f) => f.path)
        .sort(),
    ).toEqual([...kinds.keys()].sort().map((k) => `evidence/${k}.schema.json`));
    for (const f of files) expect(() => ajv.compile(f.schema), f.path).not.toThrow();

    const cwd = tempDir();
    const { document } = await writeEvidence({
      kind: CoverageReport,
      cwd,
      startedAt: new Date(),
      status: 'warn',
      path: 'x/coverage.json',
      body: coverageBody,
    });
    const validate = ajv.getSchema(files.find((f) => f.path === 'evidence/coverage.schema.json')!.schema.$id as string)!;
    expect(validate(document), JSON.stringify(validate.errors)).toBe(true);
    expect(validate({ ...document, goals: { ...coverageBody.goals, ratio: 2 } })).toBe(false);
  });

  it('vpm schema export writes the files; --check finds them current, then stale', async () => {
    const cwd = tempDir();
    const out = await vpmJson(['schema', 'export', '--out', 'schemas'], { cwd });
    expect(out.result.exitCode, String(out.result.stderr)).toBe(0);
    expect(out.json.written).toContain('schemas/evidence/coverage.schema.json');
    expect(out.json.written).toContain('schemas/config.schema.json');
    const coverage = JSON.parse(readFileSync(join(cwd, 'schemas/evidence/coverage.schema.json'), 'utf8'));
    expect(coverage).toMatchObject({
      $schema: 'https://json-schema.org/draft/2020-12/schema',
      title: 'vpm.evidence.coverage/v1',
      type: 'object',
    });
    expect(coverage.properties.schema).toEqual({ type: 'string', const: 'vpm.evidence.coverage/v1' });
    expect((await vpmJson(['schema', 'export', '--check'], { cwd })).result.exitCode).toBe(0);
    writeFileSync(join(cwd, 'schemas/config.schema.json'), '{}\n');
    const stale = await vpmJson(['schema', 'export', '--check'], { cwd });
    expect(stale.result.exitCode).toBe(1);
    expect(stale.json.stale).toEqual(['schemas/config.schema.json']);
  });
});

describe('writeEvidence', () => {
  it('never overwrites, and masks secrets', async () => {
    const cwd = tempDir();
    const env = { GITHUB_TOKEN: 'ghp_abcdefghijklmnopqrstuvwxyz0123456789' };
    const body = { ...coverageBody, tests_note: `token ${env.GITHUB_TOKEN} leaked` };
    const first = await writeEvidence({
      kind: CoverageReport,
      cwd,
      runId: 'coverage_fixed',
      startedAt: new Date(),
      status: 'ok',
      body,
      env,
    });
    expect(readFileSync(first.path, 'utf8')).not.toContain(env.GITHUB_TOKEN);
    await expect(
      writeEvidence({ kind: CoverageReport, cwd, runId: 'coverage_fixed', startedAt: new Date(), status: 'ok', body, env }),
    ).rejects.toThrow(/already exists; evidence is never overwritten/);
  });

  it('refuses a body that does not match its kind', async () => {
    await expect(
      writeEvidence({ kind: CoverageReport, cwd: tempDir(), startedAt: new Date(), status: 'ok', body: { goals: 'nope' } }),
    ).rejects.toThrow(/does not match vpm\.evidence\.coverage\/v1/);
  });
});

describe('healthcheck parts', () => {
  it('goal ids match as whole ids only (G-1 is not in G-10, XG-1 or G-1a… but is in "G-1:")', () => {
    const cwd = tempDir();
    mkdirSync(join(cwd, 'reports/a'), { recursive: true });
    writeFileSync(join(cwd, 'reports/a/one.md'), 'about G-10 and XG-1 and G-2-x');
    writeFileSync(join(cwd, 'reports/a/two.json'), '{"goal":"G-1:"}');
    writeFileSync(join(cwd, 'reports/coverage.json'), '{"gaps":["G-3"]}'); // the healthcheck's own output
    writeFileSync(join(cwd, 'reports/a/ignored.txt'), 'G-3');
    const r = computeGoalCoverage(cwd, [
      { id: 'G-1', text: 'a' },
      { id: 'G-2', text: 'b' },
      { id: 'G-3', text: 'c' },
    ]);
    expect(r.items.map((i) => [i.id, i.evidence])).toEqual([
      ['G-1', ['reports/a/two.json']],
      ['G-2', ['reports/a/one.md']],
      ['G-3', []],
    ]);
    expect(r).toMatchObject({ total: 3, covered: 2, ratio: 0.6667 });
  });

  it('nearest-rank percentiles stay within the data and are ordered', () => {
    fc.assert(
      fc.property(fc.array(fc.nat({ max: 1e7 }), { minLength: 1, maxLength: 200 }), (xs) => {
        const s = [...xs].sort((a, b) => a - b);
        const p50 = percentile(s, 50)!;
        const p95 = percentile(s, 95)!;
        expect(s).toContain(p50);
        expect(p50).toBeLessThanOrEqual(p95);
        expect(p95).toBeLessThanOrEqual(s[s.length - 1]);
      }),
    );
    expect(percentile([], 50)).toBeNull();
    expect(percentile([1, 2, 3, 4], 50)).toBe(2);
    expect(
      percentile(
        Array.from({ length: 100 }, (_, i) => i + 1),
        95,
      ),
    ).toBe(95);
  });

  it('extracts mermaid blocks with their start lines, skipping other fences', () => {
    const text = [
      '# t',
      '````md',
      '```mermaid',
      'not a diagram',
      '```',
      '````',
      '```mermaid',
      'flowchart TD',
      '  A-->B',
      '```',
      '~~~ mermaid',
      'pie',
      '~~~',
    ].join('\n');
    const { blocks, unclosed } = extractMermaidBlocks('x.md', text);
    expect(blocks).toEqual([
      { startLine: 8, text: 'flowchart TD\n  A-->B' },
      { startLine: 12, text: 'pie' },
    ]);
    expect(unclosed).toEqual([]);
    expect(extractMermaidBlocks('x.mmd', 'graph TD\nA-->B').blocks).toEqual([{ startLine: 1, text: 'graph TD\nA-->B' }]);
  });

  it('parses the test command into argv without a shell', () => {
    expect(parseTestCommand(`npm run test -- --reporter "dot x" --shard=$SHARD '$KEEP'`, { SHARD: '1/2' })).toEqual([
      'npm',
      'run',
      'test',
      '--',
      '--reporter',
      'dot x',
      '--shard=1/2',
      '$KEEP',
    ]);
    for (const bad of ['npm test | tee x', 'a; b', 'a > f', 'a && b']) expect(() => parseTestCommand(bad), bad).toThrow(/needs a shell/);
    for (const bad of ['echo `id`', 'echo $(id)']) expect(() => parseTestCommand(bad), bad).toThrow(/command substitution/);
  });
});
