import { defineCommand } from '../../cli/spec.js';

export const policyTest = defineCommand({
  path: ['policy', 'test'],
  summary: 'check that the execution policy decides its declared examples (execution_policy.examples) as declared; exit 1 when one is not',
  flags: {},
  examples: [
    { command: 'vpm policy test', description: 'every example, and the rule that decided it' },
    { command: 'vpm policy test --json', description: 'as JSON, for CI' },
  ],
  async run(ctx) {
    const [{ policyInForce }, { testPolicyExamples }] = await Promise.all([
      import('./policy-context.js'),
      import('../../runner/policy/explain.js'),
    ]);
    const { policy, context, source } = await policyInForce(ctx);
    const report = testPolicyExamples(policy, context);
    const show = (e: unknown) => (typeof e === 'string' ? e : JSON.stringify(e));
    const lines = report.results.map(
      (r) => `${r.ok ? 'ok  ' : 'FAIL'}  ${r.expected.padEnd(5)} ${show(r.example)}  → ${r.got} (${r.matched_rule})`,
    );
    lines.push(`${report.checked} example(s) of ${source}: ${report.checked - report.failed} as declared, ${report.failed} not`);
    if (report.checked === 0)
      ctx.status('no examples declared: add execution_policy.examples: {deny: [...], allow: [...]} to vpm.config.yaml');
    return { data: { policy: source, ...report }, human: lines.join('\n'), outcome: report.ok ? 'ok' : 'failed' };
  },
});
