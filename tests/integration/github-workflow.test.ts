/** The GitHub lane's files: the healthcheck workflow parses and has what CI needs; templates exist. */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, parseDocument } from 'yaml';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/cli.js';

const WORKFLOW = join(REPO_ROOT, '.github/workflows/healthcheck.yml');

describe('.github', () => {
  it('healthcheck.yml is valid YAML with the expected keys', () => {
    const text = readFileSync(WORKFLOW, 'utf8');
    const doc = parseDocument(text, { strict: true, uniqueKeys: true });
    expect(doc.errors).toEqual([]);
    expect(doc.warnings).toEqual([]);
    const wf = parse(text);
    expect(wf.name).toBe('healthcheck');
    expect(Object.keys(wf.on).sort()).toEqual(['pull_request', 'push', 'workflow_dispatch']);
    expect(wf.on.push.branches).toContain('main');
    expect(wf.permissions).toEqual({ contents: 'read' });

    const job = wf.jobs.healthcheck;
    expect(job['runs-on']).toBe('ubuntu-latest');
    expect(job['timeout-minutes']).toBeGreaterThan(0);
    const steps: Array<Record<string, any>> = job.steps;
    for (const s of steps) expect(Object.keys(s).some((k) => k === 'uses' || k === 'run')).toBe(true);

    // Node >= 22: from the container image (node:<major>-…) or actions/setup-node.
    const setupNode = steps.find((s) => String(s.uses ?? '').startsWith('actions/setup-node@'));
    const nodeMajor = Number(/^node:(\d+)/.exec(job.container?.image ?? '')?.[1] ?? setupNode?.with?.['node-version']);
    expect(nodeMajor).toBeGreaterThanOrEqual(22);

    const uses = steps.map((s) => String(s.uses ?? ''));
    const runs = steps.map((s) => String(s.run ?? ''));
    const at = (pred: (i: number) => boolean) => steps.findIndex((_s, i) => pred(i));
    const checkout = at((i) => uses[i].startsWith('actions/checkout@'));
    const install = at((i) => /^npm ci\b/.test(runs[i]));
    const healthcheck = at((i) => /^npx vpm healthcheck\b/.test(runs[i]));
    const upload = at((i) => uses[i].startsWith('actions/upload-artifact@'));
    expect(checkout).toBe(0);
    expect(install).toBeGreaterThan(checkout);
    expect(healthcheck).toBeGreaterThan(install);
    expect(upload).toBeGreaterThan(healthcheck);
    // Chromium, HAProxy, Prometheus and the control plane come from the project's own install script.
    expect(runs.some((r) => r.includes('tests/testenv/install.sh'))).toBe(true);

    const up = steps[upload];
    expect(up.if).toBe('always()'); // reports are uploaded even when the healthcheck is red
    expect(up.with.path).toBe('reports/*.json');
    expect(up.with.name).toBeTruthy();
    expect(job.env.VPM_REQUIRE_TESTENV).toBe('1');
  });

  it('has a pull request template and an issue template with a Definition of Done', () => {
    const pr = readFileSync(join(REPO_ROOT, '.github/pull_request_template.md'), 'utf8');
    expect(pr).toMatch(/## Evidence/);
    expect(pr).toMatch(/vpm healthcheck/);
    const templates = readdirSync(join(REPO_ROOT, '.github/ISSUE_TEMPLATE')).filter((f) => f.endsWith('.md'));
    expect(templates.length).toBeGreaterThan(0);
    for (const t of templates) {
      const text = readFileSync(join(REPO_ROOT, '.github/ISSUE_TEMPLATE', t), 'utf8');
      const front = /^---\n([\s\S]*?)\n---\n/.exec(text);
      expect(front, `${t} front matter`).not.toBeNull();
      const meta = parse(front![1]);
      expect(meta.name, t).toBeTruthy();
      expect(meta.about, t).toBeTruthy();
      expect(text, t).toMatch(/^## Definition of Done\n(\n?- \[ \] .+\n)+/m);
    }
    expect(existsSync(join(REPO_ROOT, '.github/ISSUE_TEMPLATE/task.md'))).toBe(true);
  });
});
