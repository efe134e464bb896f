import type { CommandHandler } from '../../core/command.js';
import type { Ctx, KubeFlags } from '../../core/context.js';
import { EnvironmentError, UsageError } from '../../core/errors.js';
import { readHistory } from '../../deploy/history.js';
import type { FlagsOf } from '../../cli/spec.js';
import type { history } from './history.js';

/**
 * The namespace the deploy commands would use, read from the kubeconfig without contacting the
 * cluster; with no kubeconfig at all, history still reads the evidence (config's namespace, else default).
 */
async function historyNamespace(ctx: Ctx, flags: KubeFlags): Promise<string> {
  if (flags.namespace) return flags.namespace;
  try {
    return (await ctx.kube(flags)).namespace;
  } catch (err) {
    if (!(err instanceof EnvironmentError) || flags.context || flags.kubeconfig) throw err;
    return (await ctx.config()).kube?.namespace ?? 'default';
  }
}

export const historyCommand: CommandHandler<FlagsOf<typeof history>> = async (ctx, { args, opts }) => {
  if (opts.allNamespaces && opts.namespace) throw new UsageError('-A/--all-namespaces and -n/--namespace exclude each other');
  const namespace = opts.allNamespaces ? undefined : await historyNamespace(ctx, opts);
  const entries = readHistory(ctx.root, args[0], namespace);
  const rows = entries.map(
    (e) =>
      `${e.at}  ${namespace ? '' : `${(e.namespace ?? '-').padEnd(16)}  `}${e.kind.padEnd(7)}  ${(e.revision ?? '-').padEnd(16)}  from ${(e.previous ?? '-').padEnd(16)}  ${e.result.padEnd(12)}  ${e.by ?? '-'}  ${e.evidence}`,
  );
  const where = namespace ? `namespace ${namespace}` : 'any namespace';
  return {
    data: { ksvc: args[0], namespace: namespace ?? null, entries },
    human: rows.length ? rows.join('\n') : `no releases, canaries, guards or undos of ${args[0]} in ${where} in reports/`,
  };
};
