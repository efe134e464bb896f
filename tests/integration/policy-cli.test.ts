/** `vpm policy explain` and `vpm policy test` through the CLI, against the configured and the built-in policy. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir, vpm, vpmJson } from '../helpers/cli.ts';

function repoWith(policy: unknown): string {
  const cwd = tempDir('vpm-policy-cli-');
  writeFileSync(join(cwd, 'vpm.config.json'), JSON.stringify({ execution_policy: policy }));
  return cwd;
}

describe('vpm policy explain', () => {
  it('argv after --: the canonical form, the rule that decided, as text and as JSON', async () => {
    const cwd = repoWith({ default_action: 'deny', allowlist: ['git log'] });
    const text = await vpm(['policy', 'explain', '--', 'git', 'log', '--oneline', '-5'], { cwd });
    expect(text.exitCode, String(text.stderr)).toBe(0);
    expect(text.stdout).toContain('canonical: "git" "log" "--oneline" "-5"');
    expect(text.stdout).toMatch(/decision: allow \(allowlist: git log\)/);
    const denied = await vpmJson(['policy', 'explain', '--', 'git', 'log', '--output=.git/config'], { cwd });
    expect(denied.json.decision).toMatchObject({ decision: 'deny', matched_rule: expect.stringContaining('--output') });
    expect(denied.json.policy).toBe('execution_policy in vpm.config');
  });

  it('--command: non-canonical whitespace is refused and said so; giving both forms is a usage error', async () => {
    const cwd = repoWith({ default_action: 'deny', allowlist: ['echo'] });
    const res = await vpmJson(['policy', 'explain', '--command', 'rm\u00a0-f\u00a0/tmp/victim\u00a0./echo'], { cwd });
    expect(res.json.canonical).toMatchObject({ ok: false, reason: expect.stringContaining('U+00A0') });
    expect(res.json.decision.decision).toBe('deny');
    expect((await vpm(['policy', 'explain', '--command', 'ls', '--', 'ls'], { cwd })).exitCode).toBe(2);
    expect((await vpm(['policy', 'explain'], { cwd })).exitCode).toBe(2);
  });
});

describe('vpm policy test', () => {
  it('exit 0 when every declared example is decided as declared, exit 1 naming the one that is not', async () => {
    const good = repoWith({
      default_action: 'deny',
      allowlist: ['git status'],
      examples: { allow: ['git status'], deny: ['git push origin main'] },
    });
    const ok = await vpmJson(['policy', 'test'], { cwd: good });
    expect(ok.result.exitCode).toBe(0);
    expect(ok.json).toMatchObject({ ok: true, checked: 2, failed: 0 });

    const bad = repoWith({
      default_action: 'allow',
      deny_if_contains: ['rm'],
      examples: { deny: ['git push origin main'], allow: ['git status'] },
    });
    const res = await vpm(['policy', 'test'], { cwd: bad });
    expect(res.exitCode).toBe(1);
    expect(res.stdout).toMatch(/^FAIL\s+deny\s+git push origin main\s+→ allow/m);
    expect(res.stdout).toContain('1 not');
  });

  it('the built-in policy passes its own examples', async () => {
    const res = await vpmJson(['policy', 'test'], { cwd: tempDir() });
    expect(res.result.exitCode).toBe(0);
    expect(res.json.checked).toBeGreaterThan(5);
  });
});
