import type { Ctx } from '../../core/context.js';
import type { PolicyConfig, PolicyContext } from '../../runner/policy/evaluate.js';

/** The execution policy in force and the context its decisions are made in (the repository, the steps' PATH). */
export async function policyInForce(ctx: Ctx): Promise<{ policy: PolicyConfig; context: PolicyContext; source: string }> {
  const [config, { DEFAULT_EXECUTION_POLICY }, { stepPath }] = await Promise.all([
    ctx.config(),
    import('../../runner/defaults.js'),
    import('../../runner/sandbox.js'),
  ]);
  const policy = config.execution_policy ?? DEFAULT_EXECUTION_POLICY;
  const source = config.execution_policy ? 'execution_policy in vpm.config' : 'the built-in policy (no execution_policy configured)';
  return { policy, context: { cwd: ctx.root, path: stepPath(ctx.env.PATH, [ctx.root]) }, source };
}
