import { defineCommand } from '../../cli/spec.js';
import { UsageError } from '../../core/errors.js';

export const policyExplain = defineCommand({
  path: ['policy', 'explain'],
  summary: 'show how the execution policy decides one step: canonical form, each wrapper layer, the rule that decided and why',
  args: [{ name: 'argv', description: 'the step as argv words, after --', variadic: true }],
  flags: {
    command: { type: 'string', placeholder: '<string>', description: 'the step as a command string (as a job’s "command" field)' },
  },
  examples: [
    { command: 'vpm policy explain -- git log --oneline -5', description: 'an argv step' },
    { command: `vpm policy explain --command "env -S 'sh -c id'"`, description: 'a command string' },
    { command: 'vpm policy explain --json -- kubectl get ksvc', description: 'the explanation as JSON' },
  ],
  parse: ({ args, flags }) => {
    if (flags.command !== undefined && args.length > 0)
      throw new UsageError('give the step either as argv words after -- or as --command, not both');
    if (flags.command === undefined && args.length === 0)
      throw new UsageError('no step to explain', { hint: 'vpm policy explain -- git status, or --command "git status"' });
    return flags.command !== undefined ? { step: { command: flags.command } } : { step: { argv: [...args] } };
  },
  async run(ctx, { step }) {
    const [{ policyInForce }, { explainPolicy, renderExplanation }] = await Promise.all([
      import('./policy-context.js'),
      import('../../runner/policy/explain.js'),
    ]);
    const { policy, context, source } = await policyInForce(ctx);
    const explanation = explainPolicy(step, policy, context);
    return { data: { policy: source, ...explanation }, human: `policy: ${source}\n${renderExplanation(explanation)}` };
  },
});
