import type { CommandResult } from '../../core/command.js';
import { defineCommand, FREEZE_OVERRIDE_FLAGS, YES_FLAG } from '../../cli/spec.js';

export const failover = defineCommand({
  path: ['failover'],
  summary:
    'edge failover through HAProxy’s Runtime API: take --from out, put --to in (standby first), measure RTO; refused while deploys are frozen',
  repo: 'optional',
  flags: {
    from: { type: 'string', placeholder: '<server>', description: 'the active HAProxy server (default: failover.from)' },
    to: { type: 'string', placeholder: '<server>', description: 'the standby HAProxy server (default: failover.to)' },
    auto: { type: 'boolean', description: 'probe --from every --interval and switch after --fail-after consecutive failures' },
    drill: { type: 'boolean', description: 'switch, verify, then fail back to the state found before' },
    targetRto: { type: 'string', placeholder: '<dur>', description: 'RTO objective (default: failover.target_rto_ms, else 1500ms)' },
    probeUrl: {
      type: 'string',
      placeholder: '<url>',
      description: 'URL probed to judge health (the edge; default: failover.probe_url, else each server’s own address)',
    },
    probeHost: { type: 'string', placeholder: '<host>', description: 'Host header of the probes (default: failover.probe_host)' },
    interval: { type: 'string', placeholder: '<dur>', description: 'probe interval (default: failover.probe_interval_ms, else 100ms)' },
    probeTimeout: { type: 'string', placeholder: '<dur>', description: 'a probe without an answer in this time fails (default 1s)' },
    failAfter: { type: 'string', placeholder: '<n>', description: 'consecutive failed probes that trigger --auto (default 2)' },
    steady: { type: 'string', placeholder: '<n>', description: 'consecutive successful probes that make traffic steady (default 10)' },
    timeout: { type: 'string', placeholder: '<dur>', description: '--auto: stop watching after this long if nothing failed (exit 0)' },
    recoveryTimeout: {
      type: 'string',
      placeholder: '<dur>',
      description: 'how long to wait for steady traffic after a switch (default 30s; exit 5)',
    },
    socket: {
      type: 'string',
      placeholder: '<path>',
      description: 'HAProxy admin socket (default: failover.socket or VPM_FAILOVER_SOCKET)',
    },
    backend: { type: 'string', placeholder: '<name>', description: 'HAProxy backend (default: failover.backend, else edge)' },
    standbyCheck: { type: 'boolean', negatable: true, description: 'do not probe --to’s own address before switching' },
    dryRun: { type: 'boolean', description: 'check the socket, backend and servers and show the plan; change nothing' },
    kubeconfig: { type: 'string', placeholder: '<file>', description: 'kubeconfig for the Argo CD status in the evidence' },
    ...YES_FLAG,
    ...FREEZE_OVERRIDE_FLAGS,
  },
  details: 'Evidence in reports/failover/<run_id>.json with t0, tDetect, tSwitch, tFirstSuccess, tSteady and RTO = tSteady − t0.',
  examples: [
    { command: 'vpm failover --from a --to b --yes', description: 'switch the edge from a to b now' },
    { command: 'vpm failover --auto --from a --to b --yes', description: 'watch a, switch when it fails' },
    { command: 'vpm failover --drill --from a --to b --yes', description: 'switch, measure RTO, switch back' },
  ],
  run: async (ctx, input): Promise<CommandResult> => (await import('./failover.handlers.js')).failoverCommand(ctx, input),
});
