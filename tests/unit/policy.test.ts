import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { evaluatePolicy, type PolicyConfig, type StepCommand } from '../../src/runner/policy.js';

interface CorpusEntry {
  name: string;
  command?: string;
  argv?: string[];
}
const corpus = JSON.parse(readFileSync(new URL('../fixtures/policy-bypass/corpus.json', import.meta.url), 'utf8')) as {
  policy: PolicyConfig;
  denied: CorpusEntry[];
  allowed: CorpusEntry[];
};
const stepOf = (e: CorpusEntry): StepCommand => (e.argv ? { argv: e.argv } : { command: e.command! });
const policy = (over: Partial<PolicyConfig> = {}): PolicyConfig => ({
  default_action: 'allow',
  deny_if_contains: [],
  deny_patterns: [],
  allowlist: [],
  stop_on_deny: true,
  ...over,
});

describe('bypass corpus (deny rm and git push)', () => {
  it('holds at least 40 bypass attempts and some allowed controls', () => {
    expect(corpus.denied.length).toBeGreaterThanOrEqual(40);
    expect(corpus.allowed.length).toBeGreaterThanOrEqual(10);
  });
  it.each(corpus.denied.map((e) => [e.name, e] as const))('denies: %s', (_name, entry) => {
    const d = evaluatePolicy(stepOf(entry), corpus.policy);
    expect(d.decision, JSON.stringify(d)).toBe('deny');
    expect(d.matched_rule).not.toMatch(/^policy_error/);
  });
  it.each(corpus.allowed.map((e) => [e.name, e] as const))('allows control: %s', (_name, entry) => {
    const d = evaluatePolicy(stepOf(entry), corpus.policy);
    expect(d.decision, JSON.stringify(d)).toBe('allow');
  });
});

describe('decisions record the rule and the normalised argv', () => {
  const p = corpus.policy;
  it('names the deny_if_contains entry and the unwrapped command', () => {
    expect(evaluatePolicy({ command: 'sudo -u root /usr/bin/rm -rf x' }, p)).toEqual({
      decision: 'deny',
      matched_rule: 'deny_if_contains: rm',
      normalized_argv: ['rm', '-rf', 'x'],
      normalized_commands: [['rm', '-rf', 'x']],
    });
  });
  it('normalises git global options away', () => {
    const d = evaluatePolicy({ argv: ['git', '-C', '.', '-c', 'a=b', '--no-pager', 'push', 'origin'] }, p);
    expect(d).toMatchObject({ decision: 'deny', matched_rule: 'deny_if_contains: git push', normalized_argv: ['git', 'push', 'origin'] });
  });
  it('names the shell syntax found', () => {
    expect(evaluatePolicy({ command: 'ls | wc -l' }, p).matched_rule).toBe('shell_syntax: |');
    expect(evaluatePolicy({ command: 'ls > out' }, p).matched_rule).toBe('shell_syntax: redirection >');
  });
  it('names dangerous variables', () => {
    expect(evaluatePolicy({ command: 'LD_PRELOAD=x.so ls' }, p).matched_rule).toBe('env_forbidden: LD_PRELOAD');
  });
  it('reports default_action when nothing else decided', () => {
    expect(evaluatePolicy({ command: 'ls' }, p).matched_rule).toBe('default_action: allow');
    expect(evaluatePolicy({ command: 'ls' }, policy({ default_action: 'deny' })).matched_rule).toBe('default_action: deny');
  });
});

describe('rule semantics', () => {
  it('deny is checked before allow', () => {
    const p = policy({ default_action: 'deny', deny_if_contains: ['git push'], allowlist: ['git'] });
    expect(evaluatePolicy({ command: 'git push' }, p).decision).toBe('deny');
    expect(evaluatePolicy({ command: 'git status' }, p)).toMatchObject({ decision: 'allow', matched_rule: 'allowlist: git' });
  });
  it('allowlist entries are strict prefixes of the normalised command', () => {
    const p = policy({ default_action: 'deny', allowlist: ['kubectl get', 'git status'], env_allow: ['LANG'] });
    expect(evaluatePolicy({ command: 'kubectl get pods' }, p).decision).toBe('allow');
    expect(evaluatePolicy({ command: 'kubectl delete get' }, p).decision).toBe('deny');
    expect(evaluatePolicy({ command: 'git push status' }, p).decision).toBe('deny');
    expect(evaluatePolicy({ command: 'env LANG=C timeout 5 kubectl get pods' }, p).decision).toBe('allow');
  });
  it('privileged wrappers need their own allowlist entry', () => {
    const p = policy({ default_action: 'deny', allowlist: ['ls'] });
    expect(evaluatePolicy({ command: 'sudo ls' }, p).decision).toBe('deny');
    expect(evaluatePolicy({ command: 'sudo ls' }, policy({ default_action: 'deny', allowlist: ['ls', 'sudo'] })).decision).toBe('allow');
  });
  it('shell syntax passes only when allowlisted verbatim, and deny rules still apply inside', () => {
    const p = policy({ default_action: 'deny', allowlist: ['ls | wc -l', 'ls | rm -f x'], deny_if_contains: ['rm'] });
    expect(evaluatePolicy({ command: 'ls | wc -l' }, p)).toMatchObject({
      decision: 'allow',
      matched_rule: 'allowlist (verbatim): ls | wc -l',
    });
    expect(evaluatePolicy({ argv: ['sh', '-c', 'ls | wc -l'] }, p).decision).toBe('allow');
    expect(evaluatePolicy({ command: 'ls | wc -l -c' }, p).decision).toBe('deny');
    expect(evaluatePolicy({ command: 'ls | rm -f x' }, p).matched_rule).toBe('deny_if_contains: rm');
  });
  it('flag words in a deny rule match in any spelling', () => {
    const p = policy({ deny_if_contains: ['rm -rf', 'kubectl delete --all'] });
    for (const c of ['rm -rf x', 'rm -fr x', 'rm -r -f x', 'rm -f -v -r x'])
      expect(evaluatePolicy({ command: c }, p).decision, c).toBe('deny');
    expect(evaluatePolicy({ command: 'rm -f x' }, p).decision).toBe('allow');
    expect(evaluatePolicy({ command: 'kubectl -n x delete pods --all' }, p).decision).toBe('deny');
    expect(evaluatePolicy({ command: 'kubectl -n x delete pods y' }, p).decision).toBe('allow');
  });
  it('deny_patterns are regexes over each normalised command line', () => {
    const p = policy({ deny_patterns: ['^kubectl .*\\bdelete\\b', 'curl .*\\|'] });
    expect(evaluatePolicy({ command: '/usr/local/bin/kubectl -n x delete pod y' }, p)).toMatchObject({
      decision: 'deny',
      matched_rule: 'deny_patterns: ^kubectl .*\\bdelete\\b',
    });
    expect(evaluatePolicy({ command: 'kubectl get pods' }, p).decision).toBe('allow');
  });
  it('a wrapper named in a deny rule is denied as a layer', () => {
    const p = policy({ deny_if_contains: ['sudo'] });
    expect(evaluatePolicy({ command: 'env sudo ls' }, p).matched_rule).toBe('deny_if_contains: sudo');
  });
  it('fails closed on malformed input and bad rules', () => {
    const p = policy();
    expect(evaluatePolicy({ argv: [] }, p).matched_rule).toMatch(/^policy_error/);
    expect(evaluatePolicy({ argv: [42 as unknown as string] }, p).decision).toBe('deny');
    expect(evaluatePolicy({ argv: ['ls\u0000'] }, p).decision).toBe('deny');
    expect(evaluatePolicy({} as StepCommand, p).decision).toBe('deny');
    expect(evaluatePolicy({ command: 'ls' }, policy({ deny_patterns: ['('] })).matched_rule).toMatch(/^policy_error/);
    const deep = [...Array.from({ length: 40 }, () => 'nohup'), 'ls'];
    expect(evaluatePolicy({ argv: deep }, p)).toMatchObject({
      decision: 'deny',
      matched_rule: 'policy_error: command nesting deeper than 32',
    });
  });
  it('command names that are Object.prototype keys are ordinary commands', () => {
    for (const name of ['constructor', 'toString', '__proto__', 'hasOwnProperty']) {
      expect(evaluatePolicy({ argv: [name, 'x'] }, policy()), name).toMatchObject({
        decision: 'allow',
        matched_rule: 'default_action: allow',
      });
      expect(evaluatePolicy({ argv: [name, 'x'] }, policy({ deny_if_contains: [name] })).decision, name).toBe('deny');
    }
  });
  it('an unknown wrapper option is read both as a flag and as taking a value', () => {
    const p = policy({ deny_if_contains: ['rm'] });
    expect(evaluatePolicy({ argv: ['nice', '--future-option', 'rm', 'x'] }, p).decision).toBe('deny');
    expect(evaluatePolicy({ argv: ['timeout', '--future', 'v', '5', 'rm'] }, p).decision).toBe('deny');
  });
});

describe('joined-string wrappers under an allowlist', () => {
  it('ssh HOST CMD and watch CMD are judged on the string they run', () => {
    const p = policy({ default_action: 'deny', allowlist: ['ls', 'ssh'], deny_if_contains: ['rm'] });
    expect(evaluatePolicy({ argv: ['ssh', 'host', 'ls -la'] }, p).decision).toBe('allow');
    expect(evaluatePolicy({ argv: ['ssh', 'host', 'ls; rm -rf /'] }, p).decision).toBe('deny');
    expect(evaluatePolicy({ argv: ['watch', '-n', '1', 'ls', '-la'] }, p).decision).toBe('allow');
  });
});
