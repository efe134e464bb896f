/**
 * `vpm policy explain` and `vpm policy test` as domain functions: how the policy reads one step
 * (canonical form, every wrapper layer and command, the findings and what overrode them, the rule
 * that decided) and whether the policy decides its declared examples
 * (`execution_policy.examples: {deny: [...], allow: [...]}`) as declared — the way Codex's
 * execpolicy checks its examples.
 */
import { checkArgvWord, checkCommandString, tokeniseCommand } from './canonical.js';
import {
  allowRuleFor,
  analyseStep,
  compilePolicy,
  denyRulesFor,
  evaluatePolicy,
  DEFAULT_CONTEXT,
  type PolicyConfig,
  type PolicyContext,
  type PolicyDecision,
  type PolicyExample,
  type StepCommand,
} from './evaluate.js';

export interface PolicyExplanation {
  step: StepCommand;
  /** The words the executor would run, or why the input is not canonical. */
  canonical: { ok: true; words: string[]; shell: boolean } | { ok: false; reason: string };
  /** Every simple command read, innermost argv, with its wrapper layers and the rules on each. */
  commands: Array<{
    argv: string[];
    program_as_written: string;
    layers: Array<{ argv: string[]; deny_rules: string[] }>;
    allowlisted_by: string | null;
    covered_by_verbatim: boolean;
    alternative_reading: boolean;
  }>;
  /** Built-in findings (non-canonical input, env, shell syntax, program options) and what overrode each. */
  findings: Array<{ rule: string; overridden_by: string | null }>;
  decision: PolicyDecision;
}

function exampleStep(example: PolicyExample): StepCommand {
  return typeof example === 'string' ? { command: example } : { argv: example };
}

/** Explains one step. Never throws: an error in the analysis shows as the policy_error that denied. */
export function explainPolicy(step: StepCommand, policy: PolicyConfig, ctx: PolicyContext = DEFAULT_CONTEXT): PolicyExplanation {
  const decision = evaluatePolicy(step, policy, ctx);
  let canonical: PolicyExplanation['canonical'];
  if ('command' in step) {
    const bad = checkCommandString(step.command);
    if (bad) canonical = { ok: false, reason: bad };
    else {
      const t = tokeniseCommand(step.command);
      canonical =
        t.kind === 'words' ? { ok: true, words: t.words, shell: false } : { ok: true, words: ['sh', '-c', step.command], shell: true };
    }
  } else {
    const bad = step.argv.map((w, i) => checkArgvWord(w, i === 0)).find(Boolean);
    canonical = bad ? { ok: false, reason: bad } : { ok: true, words: step.argv, shell: false };
  }
  const commands: PolicyExplanation['commands'] = [];
  const findings: PolicyExplanation['findings'] = [];
  try {
    const analysis = analyseStep(step, policy);
    const verbatim = compilePolicy(policy).verbatim;
    for (const c of analysis.commands) {
      commands.push({
        argv: c.argv,
        program_as_written: c.raw0,
        layers: c.layers.map((l) => ({ argv: l, deny_rules: denyRulesFor(policy, l) })),
        allowlisted_by: c.denyOnly ? null : (allowRuleFor(policy, c.argv, c.raw0, ctx) ?? null),
        covered_by_verbatim: c.covered,
        alternative_reading: c.denyOnly,
      });
    }
    for (const v of analysis.violations) {
      let by: string | null = null;
      if (v.verbatimKey !== undefined && verbatim.has(v.verbatimKey)) by = `allowlist (verbatim): ${verbatim.get(v.verbatimKey)}`;
      else if (v.overridable) {
        const rule = allowRuleFor(policy, v.overridable.argv, v.overridable.argv[0], ctx);
        if (rule && rule.trim().split(/\s+/).length > v.overridable.at) by = `allowlist: ${rule}`;
      }
      findings.push({ rule: v.rule, overridden_by: by });
    }
  } catch {
    // evaluatePolicy already turned it into a policy_error decision
  }
  return { step, canonical, commands, findings, decision };
}

/** Human form of an explanation (one fact per line, words JSON-quoted so nothing is hidden). */
export function renderExplanation(e: PolicyExplanation): string {
  const q = (argv: string[]) => argv.map((w) => JSON.stringify(w)).join(' ');
  const lines: string[] = [];
  lines.push(`input: ${'command' in e.step ? `command ${JSON.stringify(e.step.command)}` : `argv ${q(e.step.argv)}`}`);
  lines.push(
    e.canonical.ok
      ? `canonical: ${q(e.canonical.words)}${e.canonical.shell ? ' (shell syntax: runs only if allowlisted verbatim)' : ''}`
      : `canonical: refused — ${e.canonical.reason}`,
  );
  for (const c of e.commands) {
    lines.push(
      `command: ${q(c.argv)}${c.alternative_reading ? ' (alternative reading, deny rules only)' : ''}${c.program_as_written !== c.argv[0] ? ` (written ${JSON.stringify(c.program_as_written)})` : ''}`,
    );
    for (const l of c.layers.slice(0, -1))
      lines.push(`  via: ${q(l.argv)}${l.deny_rules.length ? ` — denied by ${l.deny_rules.join(', ')}` : ''}`);
    const own = c.layers[c.layers.length - 1];
    if (own?.deny_rules.length) lines.push(`  deny: ${own.deny_rules.join(', ')}`);
    if (!c.alternative_reading)
      lines.push(`  allowlist: ${c.covered_by_verbatim ? 'covered by a verbatim entry' : (c.allowlisted_by ?? 'no entry')}`);
  }
  for (const f of e.findings) lines.push(`finding: ${f.rule}${f.overridden_by ? ` — overridden by ${f.overridden_by}` : ''}`);
  lines.push(`decision: ${e.decision.decision} (${e.decision.matched_rule})`);
  return lines.join('\n');
}

export interface PolicyTestReport {
  ok: boolean;
  checked: number;
  failed: number;
  results: Array<{ expected: 'allow' | 'deny'; example: PolicyExample; got: 'allow' | 'deny'; matched_rule: string; ok: boolean }>;
}

/** Checks the policy's declared examples; `ok` false (exit 1 for the command) when any is decided otherwise. */
export function testPolicyExamples(policy: PolicyConfig, ctx: PolicyContext = DEFAULT_CONTEXT): PolicyTestReport {
  const results: PolicyTestReport['results'] = [];
  for (const expected of ['deny', 'allow'] as const) {
    for (const example of policy.examples?.[expected] ?? []) {
      const d = evaluatePolicy(exampleStep(example), policy, ctx);
      results.push({ expected, example, got: d.decision, matched_rule: d.matched_rule, ok: d.decision === expected });
    }
  }
  const failed = results.filter((r) => !r.ok).length;
  return { ok: failed === 0, checked: results.length, failed, results };
}
