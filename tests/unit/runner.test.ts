import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { sanitisePayload, PAYLOAD_LIMIT } from '../../src/runner/payload.js';
import { resolveExecMode } from '../../src/commands/runner/run.handlers.js';
import { JobSchema } from '../../src/schemas/job.js';
import { ExecutionPolicySchema, JobLoopSchema } from '../../src/schemas/config.js';
import { buildAskJob } from '../../src/runner/ask.js';
import { listInbox, readJobFile, sortJobs } from '../../src/runner/inbox.js';
import { stepsOf } from '../../src/runner/job-runner.js';

describe('payload sanitising', () => {
  it('masks secrets, strips control characters and keeps short payloads whole', () => {
    const p = sanitisePayload({ token: 'ghp_' + 'x'.repeat(36), note: 'a\u0000b\u001bc\u007fd', k: 'v' }, {});
    expect(p.truncated).toBe(false);
    expect(p.text).not.toContain('ghp_');
    expect(JSON.parse(p.text).note).toBe('abcd');
    expect(p.size).toBe(Buffer.byteLength(p.text));
  });
  it('truncates to exactly 2000 characters ending in ...(truncated), never splitting a surrogate pair', () => {
    for (const filler of ['x', '😀', 'あ']) {
      for (let extra = 0; extra < 4; extra++) {
        const p = sanitisePayload({ f: 'y'.repeat(extra) + filler.repeat(3000) }, {});
        expect(p.truncated).toBe(true);
        expect(p.text.endsWith('...(truncated)')).toBe(true);
        expect(p.text.length).toBeLessThanOrEqual(PAYLOAD_LIMIT);
        expect(p.text.length).toBeGreaterThanOrEqual(PAYLOAD_LIMIT - 1);
        expect(/[\ud800-\udbff](?![\udc00-\udfff])/.test(p.text)).toBe(false);
      }
    }
  });
});

describe('exec mode', () => {
  it('defaults to dry; RUN_MODE sets it; --exec / --dry-run win; bad values are usage errors', () => {
    expect(resolveExecMode({}, {})).toBe('dry');
    expect(resolveExecMode({}, { RUN_MODE: 'exec' })).toBe('exec');
    expect(resolveExecMode({}, { RUN_MODE: 'DRY' })).toBe('dry');
    expect(resolveExecMode({ exec: true }, { RUN_MODE: 'dry' })).toBe('exec');
    expect(resolveExecMode({ dryRun: true }, { RUN_MODE: 'exec' })).toBe('dry');
    expect(() => resolveExecMode({}, { RUN_MODE: 'yes' })).toThrow(/RUN_MODE/);
    expect(() => resolveExecMode({ exec: true, dryRun: true }, {})).toThrow(/contradict/);
  });
});

describe('job schema', () => {
  const base = { id: 'j1', kind: 'exec', created_at: '2026-01-01T00:00:00.000Z', source: 'x', steps: [{ name: 's', argv: ['ls'] }] };
  it('accepts a minimal exec job and rejects traversal, absolute paths and bad shapes with dot paths', () => {
    expect(JobSchema.safeParse(base).success).toBe(true);
    const issues = (v: unknown) => {
      const r = JobSchema.safeParse(v);
      return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    };
    expect(issues({ ...base, job_input: { path: 'a/../../b' } })).toEqual(['job_input.path: must not contain ".." (path traversal)']);
    expect(issues({ ...base, kind: 'apply', steps: undefined, apply: { overlay: '/etc/x.yaml' } })[0]).toMatch(
      /^apply\.overlay: must be relative/,
    );
    expect(issues({ ...base, steps: [{ name: 's', argv: ['ls'], command: 'ls' }] })).toEqual([
      'steps.0: a step needs exactly one of argv or command',
    ]);
    expect(issues({ ...base, id: '../x' })[0]).toMatch(/^id:/);
    expect(issues({ ...base, kind: 'apply' })[0]).toMatch(/^apply: an apply job needs/);
    expect(issues({ ...base, extra: 1 })[0]).toMatch(/extra|Unrecognized/);
  });
  it('config sections validate rule syntax and regexes', () => {
    expect(ExecutionPolicySchema.safeParse({ deny_if_contains: ['rm; ls'] }).success).toBe(false);
    expect(ExecutionPolicySchema.safeParse({ deny_patterns: ['('] }).success).toBe(false);
    expect(ExecutionPolicySchema.parse({})).toMatchObject({ default_action: 'deny', stop_on_deny: true, timeout_s: 600 });
    expect(JobLoopSchema.safeParse({ job_result: { path: '../out.json' } }).success).toBe(false);
  });
});

describe('vpm ask job building', () => {
  const now = new Date('2026-03-04T05:06:07.089Z');
  it('makes apply jobs from "S5 apply: <env> <target>" and ask jobs otherwise', () => {
    const a = buildAskJob({ text: '/ask S5 apply: dev hello-ksvc.', source: { type: 'cli' } }, now, {});
    expect(a).toMatchObject({
      kind: 'apply',
      apply: { overlay: 'infra/k8s/overlays/dev/hello-ksvc.yaml', env: 'dev', target: 'hello-ksvc' },
    });
    expect(a.id).toMatch(/^apply_hello-ksvc_dev_20260304T050607Z_/);
    expect(stepsOf(a).map((s) => s.argv)).toEqual([['vpm', 'apply', 'infra/k8s/overlays/dev/hello-ksvc.yaml']]);
    expect(stepsOf({ ...a, apply: { ...a.apply!, lane: 'kubectl' } }).map((s) => s.argv)).toEqual([
      ['kubectl', 'diff', '-f', 'infra/k8s/overlays/dev/hello-ksvc.yaml'],
      ['kubectl', 'apply', '--server-side', '--field-manager=vpm', '-f', 'infra/k8s/overlays/dev/hello-ksvc.yaml'],
      ['kubectl', 'get', '-f', 'infra/k8s/overlays/dev/hello-ksvc.yaml', '-o', 'yaml'],
    ]);
    const k = buildAskJob({ text: 'summarise token=supersecretvalue', source: { type: 'cli' } }, now, {});
    expect(k).toMatchObject({ kind: 'ask' });
    expect(k.text).not.toContain('supersecretvalue');
    expect(() => buildAskJob({ text: 'S5 apply: .. x', source: { type: 'cli' } }, now, {})).toThrow(/not a safe name/);
    expect(() => buildAskJob({ text: '/ask   ', source: { type: 'cli' } }, now, {})).toThrow(/empty/);
  });
});

describe('inbox', () => {
  it('lists job files only and orders jobs by created_at, then name', () => {
    const cwd = mkdtempSync(join(tmpdir(), 'vpm-inbox-'));
    const inbox = join(cwd, 'codex', 'inbox');
    mkdirSync(join(inbox, '_done'), { recursive: true });
    const write = (file: string, created: string) =>
      writeFileSync(join(inbox, file), JSON.stringify({ id: file.replace('.json', ''), kind: 'ask', created_at: created, source: 's' }));
    write('b.json', '2026-01-01T00:00:01Z');
    write('a.json', '2026-01-01T00:00:01Z');
    write('c.json', '2026-01-01T00:00:00Z');
    writeFileSync(join(inbox, 'x.error.json'), '{}');
    writeFileSync(join(inbox, 'notes.txt'), '');
    mkdirSync(join(inbox, 'y.json.lock'));
    expect(listInbox(cwd).sort()).toEqual(['a.json', 'b.json', 'c.json']);
    const jobs = listInbox(cwd)
      .map((f) => readJobFile(cwd, f))
      .flatMap((r) => (r.ok ? [r] : []));
    expect(sortJobs(jobs).map((j) => j.file)).toEqual(['c.json', 'a.json', 'b.json']);
  });

  it('reads a job file saved with a UTF-8 byte order mark; other invisible characters still make it invalid', () => {
    const cwd = mkdtempSync(join(tmpdir(), 'vpm-inbox-'));
    const inbox = join(cwd, 'codex', 'inbox');
    mkdirSync(inbox, { recursive: true });
    const body = JSON.stringify({ id: 'bom', kind: 'ask', created_at: '2026-01-01T00:00:00Z', source: 's' });
    writeFileSync(join(inbox, 'bom.json'), `\uFEFF${body}`);
    writeFileSync(join(inbox, 'zwsp.json'), `\u200B${body}`);
    const bom = readJobFile(cwd, 'bom.json');
    expect(bom.ok && bom.job.id).toBe('bom');
    const zwsp = readJobFile(cwd, 'zwsp.json');
    expect(zwsp.ok).toBe(false);
    expect(!zwsp.ok && zwsp.reason).toMatch(/invalid JSON/);
  });
});
