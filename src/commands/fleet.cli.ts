import type { Command } from 'commander';
import type { ActionFactory } from '../cli.js';
import { withFreezeOverride, withKubeOptions } from './deploy.cli.js';

/** Fleet: multi-cluster GitOps through Argo CD (`clusters status|sync`) and edge failover through HAProxy. */
export function registerFleetCommands(program: Command, act: ActionFactory): void {
  const clusters = program
    .command('clusters')
    .description('multi-cluster GitOps: Argo CD Applications across clusters (--context = the cluster running Argo CD, -n = its namespace, default argocd)');

  withKubeOptions(
    clusters
      .command('status [apps...]')
      .description('sync status, health, revision, operation phase and reconciledAt of each Application; an unreachable cluster shows as Unknown. Exit 1 unless every app is Synced and Healthy')
      .option('--contexts <list>', 'destination clusters (kube contexts) to check, comma-separated (default: fleet.contexts, else cluster-a,cluster-b)')
      .option('-l, --selector <labels>', 'only Applications matching this label selector')
      .option('--request-timeout <dur>', 'bound on each cluster check (default: fleet.request_timeout_ms, else 5s)')
      .option('-w, --watch', 'keep checking, print a line when an app changes, exit 0 once every app is Synced and Healthy')
      .option('--interval <dur>', 'how often --watch checks (default 2s)')
      .option('--timeout <dur>', 'with --watch: give up after this long (exit 5)'),
  ).action(act('clusters status', async () => (await import('./clusters.js')).clustersStatusCommand));

  withFreezeOverride(
    withKubeOptions(
      clusters
        .command('sync [apps...]')
        .description('sync Applications through Argo CD (merge-patches `operation`, initiatedBy vpm/<user>) and wait for the result and health; all apps when none are named. Refused while deploys are frozen')
        .option('--contexts <list>', 'clusters of the fleet (default: fleet.contexts, else cluster-a,cluster-b; Argo CD runs on the first)')
        .option('-l, --selector <labels>', 'with no apps named: only Applications matching this label selector')
        .option('--revision <rev>', 'revision to sync (default: each app’s targetRevision, else HEAD)')
        .option('--prune', 'delete resources no longer in git')
        .option('--timeout <dur>', 'how long to wait for the sync and health (default: fleet.sync_timeout, else 5m; exit 5)'),
    ),
  ).action(act('clusters sync', async () => (await import('./clusters.js')).clustersSyncCommand));

  withFreezeOverride(
    program
      .command('failover')
      .description('edge failover through HAProxy’s Runtime API: take --from out, put --to in (standby first), measure RTO; evidence in reports/failover/. Refused while deploys are frozen')
      .option('--from <server>', 'the active HAProxy server (default: failover.from)')
      .option('--to <server>', 'the standby HAProxy server (default: failover.to)')
      .option('--auto', 'probe --from every --interval and switch after --fail-after consecutive failures')
      .option('--drill', 'switch, verify, then fail back to the state found before')
      .option('--target-rto <dur>', 'RTO objective (default: failover.target_rto_ms, else 1500ms)')
      .option('--probe-url <url>', 'URL probed to judge health (the edge; default: failover.probe_url, else each server’s own address)')
      .option('--probe-host <host>', 'Host header of the probes (default: failover.probe_host)')
      .option('--interval <dur>', 'probe interval (default: failover.probe_interval_ms, else 100ms)')
      .option('--probe-timeout <dur>', 'a probe without an answer in this time fails (default 1s)')
      .option('--fail-after <n>', 'consecutive failed probes that trigger --auto (default 2)')
      .option('--steady <n>', 'consecutive successful probes that make traffic steady (default 10)')
      .option('--timeout <dur>', '--auto: stop watching after this long if nothing failed (exit 0)')
      .option('--recovery-timeout <dur>', 'how long to wait for steady traffic after a switch (default 30s; exit 5)')
      .option('--socket <path>', 'HAProxy admin socket (default: failover.socket or VPM_FAILOVER_SOCKET)')
      .option('--backend <name>', 'HAProxy backend (default: failover.backend, else edge)')
      .option('--no-standby-check', 'do not probe --to’s own address before switching')
      .option('--dry-run', 'check the socket, backend and servers and show the plan; change nothing')
      .option('--kubeconfig <file>', 'kubeconfig for the Argo CD status in the evidence')
      .option('-y, --yes', 'do not ask for confirmation (required when stdin is not a terminal)'),
  ).action(act('failover', async () => (await import('./failover.js')).failoverCommand));
}
