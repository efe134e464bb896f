import { Option, type Command } from 'commander';
import type { ActionFactory } from '../cli.js';

/** Adds the options every Kubernetes-facing command shares. */
export function withKubeOptions(cmd: Command): Command {
  return cmd
    .option('--context <name>', 'kubeconfig context (default: current context)')
    .option('-n, --namespace <ns>', 'namespace (default: the context’s, else default)')
    .option('--kubeconfig <file>', 'kubeconfig file (default: $KUBECONFIG or ~/.kube/config)');
}

/** Adds the freeze override every mutating deploy command accepts. */
export function withFreezeOverride(cmd: Command): Command {
  return cmd
    .option('--force-freeze', 'run even though deploys are frozen (needs --reason; recorded)')
    .option('--reason <text>', 'why the freeze is overridden');
}

/** Deploy control: freeze, apply, ready, sli, canary, guard. */
export function registerDeployCommands(program: Command, act: ActionFactory): void {
  const freeze = program.command('freeze').description('deploy freeze (.ops/deploy_freeze.json)');
  freeze
    .command('on')
    .description('freeze deploys: every mutating deploy command refuses with exit 3')
    .requiredOption('--reason <text>', 'why deploys are frozen')
    .option('--until <time>', 'expiry: ISO time or a duration from now (2h, 30m)')
    .action(act('freeze on', async () => (await import('./freeze.js')).freezeOnCommand));
  freeze
    .command('off')
    .description('lift the deploy freeze')
    .action(act('freeze off', async () => (await import('./freeze.js')).freezeOffCommand));
  freeze
    .command('status')
    .description('show whether deploys are frozen')
    .action(act('freeze status', async () => (await import('./freeze.js')).freezeStatusCommand));
  void Option;
}
