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

  withFreezeOverride(
    withKubeOptions(
      program
        .command('apply <overlay-or-file>')
        .description('S5 apply lane: diff → server-side apply (field manager vpm) → get, with evidence')
        .option('--dry-run', 'diff only: the API server validates, nothing changes'),
    ),
  ).action(act('apply', async () => (await import('./apply.js')).applyCommand));

  withKubeOptions(
    program
      .command('ready <ksvc>')
      .description('wait (watch) until the KService is Ready for its current generation')
      .option('--timeout <duration>', 'give up after this long (default 120s; exit 5)'),
  ).action(act('ready', async () => (await import('./ready.js')).readyCommand));

  program
    .command('sli [ksvc]')
    .description('N HTTP requests to a KService URL (or --url): success rate, p50/p95/p99, error classes')
    .option('--url <url>', 'probe this URL instead of a KService')
    .option('-n, --requests <n>', 'number of requests (default 20)')
    .option('--concurrency <n>', 'parallel requests (default 1)')
    .option('--timeout <ms>', 'per-request timeout in ms (default 2000)')
    .option('--context <name>', 'kubeconfig context')
    .option('--namespace <ns>', 'namespace (-n means --requests here)')
    .option('--kubeconfig <file>', 'kubeconfig file')
    .action(act('sli', async () => (await import('./sli.js')).sliCommand));

  withKubeOptions(
    program
      .command('guard <ksvc>')
      .description('after promotion: re-check the SLO through a window; NG → rollback, freeze, GitHub issue (exit 4)')
      .option('--window <duration>', 'how long to watch (default 5m)')
      .option('--interval <duration>', 'evaluation window (default 10s)')
      .option('--slo <file>', 'SLO thresholds file')
      .addOption(new Option('--provider <name>', 'where SLO data comes from').choices(['probe', 'prometheus']))
      .option('--prometheus-url <url>', 'Prometheus base URL')
      .option('--requests <n>', 'probe: request cap per window')
      .option('--revision <rev>', 'revision to guard (default: the promoted canary candidate)')
      .option('--previous <rev>', 'revision to roll back to (default: the canary stable)')
      .option('--no-issue', 'do not open a GitHub issue on NG'),
  ).action(act('guard', async () => (await import('./guard.js')).guardCommand));

  const canary = program.command('canary').description('canary rollout of a Knative Service with SLO gates');
  withFreezeOverride(
    withKubeOptions(
      canary
        .command('start <ksvc>')
        .description('pin stable and candidate revisions, shift traffic step by step, gate each step on the SLO')
        .option('--candidate <revision>', 'candidate revision (default: latestReadyRevisionName)')
        .option('--stable <revision>', 'stable revision (default: the one serving now)')
        .option('--steps <list>', 'candidate percentages (default 10,50,100)')
        .option('--interval <duration>', 'SLO window per step (default 10s)')
        .option('--slo <file>', 'SLO thresholds (YAML/JSON: success_rate, latency_p95_ms, min_requests)')
        .addOption(new Option('--provider <name>', 'where SLO data comes from').choices(['probe', 'prometheus']))
        .option('--prometheus-url <url>', 'Prometheus base URL for --provider prometheus')
        .option('--requests <n>', 'probe: request cap per window')
        .option('--concurrency <n>', 'probe: parallel requests')
        .option('--settle-timeout <duration>', 'how long to wait for traffic to settle (default 60s)')
        .option('--max-holds <n>', 'inconclusive windows tolerated before giving up (default 3)'),
    ),
  ).action(act('canary start', async () => (await import('./canary.js')).canaryStartCommand));
  withKubeOptions(canary.command('status <ksvc>').description('show canary progress and traffic')).action(
    act('canary status', async () => (await import('./canary.js')).canaryStatusCommand),
  );
  withKubeOptions(canary.command('abort <ksvc>').description('put 100% of traffic back on stable (allowed while frozen)')).action(
    act('canary abort', async () => (await import('./canary.js')).canaryAbortCommand),
  );
  withFreezeOverride(withKubeOptions(canary.command('promote <ksvc>').description('skip the remaining gates: 100% to the candidate'))).action(
    act('canary promote', async () => (await import('./canary.js')).canaryPromoteCommand),
  );
}
