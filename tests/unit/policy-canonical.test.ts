/**
 * Issue 15: the policy decides on a canonical form and fails closed; allowlist entries are
 * argument-aware and match the resolved program; job-set variables deny by default; explain and
 * the declared examples.
 */
import { describe, expect, it } from 'vitest';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { evaluatePolicy, type PolicyConfig } from '../../src/runner/policy.js';
import { escapeForLog, tokeniseCommand } from '../../src/runner/policy/canonical.js';
import { explainPolicy, renderExplanation, testPolicyExamples } from '../../src/runner/policy/explain.js';
import { DEFAULT_EXECUTION_POLICY } from '../../src/runner/defaults.js';
import { tempDir } from '../helpers/cli.js';

const builtin = DEFAULT_EXECUTION_POLICY;
const ctx = { cwd: process.cwd(), path: process.env.PATH ?? '/usr/bin:/bin' };
const denyList: PolicyConfig = {
  default_action: 'allow',
  deny_if_contains: ['touch', 'rm', 'git push', 'curl'],
  deny_patterns: [],
  allowlist: [],
  stop_on_deny: true,
};

describe('canonical form (class 1)', () => {
  it('names the non-canonical character and its position', () => {
    expect(evaluatePolicy({ command: 'rm\u00a0-f\u00a0/tmp/victim\u00a0./echo' }, builtin, ctx)).toMatchObject({
      decision: 'deny',
      matched_rule: 'non_canonical: U+00A0 at 2',
    });
    for (const ch of ['\u2003', '\u3000', '\ufeff', '\u2028', '\t', '\u200b']) {
      const d = evaluatePolicy({ command: `echo${ch}hi` }, denyList, ctx);
      expect(d.decision, JSON.stringify(ch)).toBe('deny');
      expect(d.matched_rule).toMatch(/^non_canonical: U\+/);
    }
    expect(evaluatePolicy({ argv: ['ec\u200dho', 'x'] }, denyList, ctx).matched_rule).toMatch(
      /non_canonical: U\+200D at 2 in the program name/,
    ); // Text that is merely not ASCII is canonical in a string command; the character named is the odd
    // one, never an ordinary space before it.
    expect(evaluatePolicy({ command: 'echo café' }, denyList, ctx).decision).toBe('allow');
    expect(evaluatePolicy({ command: 'echo カナリア\u3000x' }, denyList, ctx).matched_rule).toBe('non_canonical: U+3000 at 9');
  });
  it('lets argv words carry UTF-8 text and newlines (a commit message), never splitting them', () => {
    const d = evaluatePolicy({ argv: ['git', 'commit', '-m', 'Grüße\n\nmehr'] }, denyList, ctx);
    expect(d.decision).toBe('allow');
    expect(d.exec).toEqual({ argv: ['git', 'commit', '-m', 'Grüße\n\nmehr'], env: {} });
  });
  it("the executor runs exactly the tokeniser's words", () => {
    const d = evaluatePolicy({ command: `echo "a b" 'c'` }, builtin, ctx);
    expect(d.exec?.argv).toEqual(['echo', 'a b', 'c']);
    expect(tokeniseCommand(`echo "a b" 'c'`)).toEqual({ kind: 'words', words: ['echo', 'a b', 'c'] });
  });
  it('escapes control characters and line separators for logs', () => {
    expect(escapeForLog('a\nb\u2028c\u001b[2K')).toBe('a\\nb\\u2028c\\x1b[2K');
  });
});

describe('argument-aware allowlist (class 2)', () => {
  it.each([
    'git log --output=.git/config',
    'git --shallow-file status push origin main',
    'git -c core.fsmonitor=x status',
    'git --exec-path=/tmp status',
    'git -C / status',
    'git diff --output=x',
    'git difftool -x true',
    'kubectl get pods --kubeconfig k.yaml',
    'kubectl get pods --token t',
    'kubectl exec p -- true',
    'kubectl cp a b',
    'kubectl proxy',
    'kubectl port-forward p 1:1',
    'kubectl plugin list',
    'kubectl get --as admin pods',
  ])('built-in policy denies %s', (command) => {
    expect(evaluatePolicy({ command }, builtin, ctx).decision).toBe('deny');
  });
  it.each([
    'git status',
    'git log --oneline -5',
    'git -C . status --short',
    'kubectl get ksvc',
    'kubectl get pods -n default --context kind-x',
  ])('built-in policy still allows %s', (command) => {
    expect(evaluatePolicy({ command }, builtin, ctx).decision).toBe('allow');
  });
  it('an exec option is allowed only by an entry that fixes it', () => {
    const p: PolicyConfig = { ...denyList, default_action: 'deny', allowlist: ['python3 -m pytest', 'python3'] };
    expect(evaluatePolicy({ command: 'python3 -m pytest -q' }, p, ctx).decision).toBe('allow');
    expect(evaluatePolicy({ command: 'python3 -m timeit pass' }, p, ctx).matched_rule).toBe('exec_option: python3 -m');
    expect(evaluatePolicy({ command: 'python3 -c pass' }, p, ctx).matched_rule).toBe('exec_option: python3 -c');
  });
});

describe('environment (class 3)', () => {
  it.each([
    'HOME=. git status',
    'XDG_CONFIG_HOME=cfg git status',
    'LESSOPEN=x git log',
    'KUBECTL_EXTERNAL_DIFF=x kubectl diff -f a',
    'env GIT_DIR=/tmp git status',
    'NODE_OPTIONS=x node --version',
  ])('never settable: %s', (command) => {
    const p = { ...denyList, env_allow: ['HOME', 'XDG_CONFIG_HOME', 'LESSOPEN', 'KUBECTL_EXTERNAL_DIFF', 'GIT_DIR', 'NODE_OPTIONS'] };
    expect(evaluatePolicy({ command }, p, ctx).matched_rule).toMatch(/^env_forbidden: /);
  });
  it('other variables need env_allow and then reach the executor', () => {
    expect(evaluatePolicy({ command: 'FOO=1 ls' }, denyList, ctx).matched_rule).toMatch(/^env_not_allowed: FOO/);
    const d = evaluatePolicy({ command: 'FOO=1 ls' }, { ...denyList, env_allow: ['FOO'] }, ctx);
    expect(d).toMatchObject({ decision: 'allow', exec: { argv: ['ls'], env: { FOO: '1' } } });
  });
});

describe('wrappers, interpreters, shell grammar (class 4)', () => {
  it.each([
    ['taskset', '1', 'touch', 'x'],
    ['chrt', '-o', '0', 'touch', 'x'],
    ['setpriv', '--reuid=0', 'touch', 'x'],
    ['prlimit', '--nofile=10', 'touch', 'x'],
    ['unshare', '-r', 'touch', 'x'],
    ['env', '-S', 'ls'],
    ['xargs', '-a', 'f', 'ls'],
    ['find', '.', '-exec', 'ls', ';'],
    ['tar', '-cf', '/dev/null', '--checkpoint-action=exec=ls', 'x'],
    ['vim', '-es', '-c', '!ls'],
    ['make', '--eval=x:;ls', 'x'],
    ['python3', '-m', 'timeit'],
    ['node', '--import=data:text/javascript,1'],
    ['perl5.36-x86_64-linux-gnu', '-e', '1'],
    ['perl', '-MPOSIX', '-v'],
    ['sh', '-c', '! ls'],
    ['sh', '-c', 'trap ls EXIT'],
    ['bash', '-c', 'coproc ls'],
    ['git', '-c', 'tar.tgz.command=ls', 'archive', 'HEAD'],
    ['git', 'ls-remote', '--upload-pack=ls', '.'],
    ['git', 'rebase', '-x', 'ls', 'HEAD'],
    ['git', 'send-pack', '.'],
  ])('denies %j under default allow', (...argv) => {
    expect(evaluatePolicy({ argv }, denyList, ctx).decision).toBe('deny');
  });
});

describe('resolved program, not basename (class 5)', () => {
  it('a committed tools/echo is not the allowlisted echo; /usr/bin/echo is', () => {
    const repo = tempDir('vpm-resolve-');
    mkdirSync(join(repo, 'tools'));
    writeFileSync(join(repo, 'tools', 'echo'), '#!/bin/sh\n');
    chmodSync(join(repo, 'tools', 'echo'), 0o755);
    const c = { cwd: repo, path: '/usr/bin:/bin' };
    expect(evaluatePolicy({ argv: ['./tools/echo', 'hi'] }, builtin, c)).toMatchObject({
      decision: 'deny',
      matched_rule: 'default_action: deny',
    });
    expect(evaluatePolicy({ argv: ['tools/echo'] }, builtin, c).decision).toBe('deny');
    expect(evaluatePolicy({ argv: ['/usr/bin/echo', 'hi'] }, builtin, c)).toMatchObject({
      decision: 'allow',
      matched_rule: 'allowlist: echo',
    });
    expect(evaluatePolicy({ argv: ['echo', 'hi'] }, builtin, c).decision).toBe('allow');
  });
});

describe('fail closed', () => {
  it('any error in evaluation denies', () => {
    expect(evaluatePolicy({ argv: [42 as unknown as string] }, builtin, ctx).decision).toBe('deny');
    expect(evaluatePolicy({} as never, builtin, ctx).decision).toBe('deny');
    expect(evaluatePolicy({ command: 'ls' }, { ...builtin, deny_patterns: ['('] }, ctx).matched_rule).toMatch(/^policy_error/);
  });
});

describe('policy explain / policy test', () => {
  it('explains the canonical form, each layer and the deciding rule', () => {
    const e = explainPolicy({ command: 'sudo nice -n 5 rm -rf x' }, { ...builtin, allowlist: [...builtin.allowlist, 'sudo'] }, ctx);
    expect(e.canonical).toEqual({ ok: true, words: ['sudo', 'nice', '-n', '5', 'rm', '-rf', 'x'], shell: false });
    const rm = e.commands.find((c) => c.argv[0] === 'rm')!;
    expect(rm.layers.map((l) => l.argv[0])).toEqual(['sudo', 'nice', 'rm']);
    expect(rm.layers[2].deny_rules).toEqual(['deny_if_contains: rm']);
    expect(e.decision).toMatchObject({ decision: 'deny', matched_rule: 'deny_if_contains: rm' });
    const text = renderExplanation(e);
    expect(text).toContain('decision: deny (deny_if_contains: rm)');
    expect(text).toContain('via: "sudo"');
    expect(explainPolicy({ command: 'ls\u00a0x' }, builtin, ctx).canonical).toEqual({ ok: false, reason: 'non_canonical: U+00A0 at 2' });
  });
  it('the built-in policy decides its declared examples as declared', () => {
    const r = testPolicyExamples(builtin, ctx);
    expect(r.results.filter((x) => !x.ok)).toEqual([]);
    expect(r.checked).toBeGreaterThanOrEqual(10);
  });
  it('a failing example makes the report fail', () => {
    const r = testPolicyExamples({ ...builtin, examples: { deny: ['git status'], allow: ['git push'] } }, ctx);
    expect(r).toMatchObject({ ok: false, checked: 2, failed: 2 });
  });
});
