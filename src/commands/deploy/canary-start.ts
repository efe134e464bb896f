import type { CommandResult } from '../../core/command.js';
import { defineCommand, FREEZE_OVERRIDE_FLAGS, KUBE_FLAGS } from '../../cli/spec.js';
import { MANUAL_GATE_FLAGS } from './gate-flags.js';

export const canaryStart = defineCommand({
  path: ['canary', 'start'],
  summary: 'pin stable and candidate revisions, shift traffic step by step, gate each step on the SLO',
  args: [{ name: 'ksvc', description: 'the Knative Service', required: true }],
  flags: {
    candidate: { type: 'string', placeholder: '<revision>', description: 'candidate revision (default: latestReadyRevisionName)' },
    stable: { type: 'string', placeholder: '<revision>', description: 'stable revision (default: the one serving now)' },
    steps: { type: 'string', placeholder: '<list>', description: 'candidate percentages, `pause` for a manual gate (default 10,50,100)' },
    interval: { type: 'string', placeholder: '<duration>', description: 'SLO window per step (default 10s)' },
    slo: { type: 'string', placeholder: '<file>', description: 'SLO thresholds (YAML/JSON: success_rate, latency_p95_ms, min_requests)' },
    provider: { type: 'string', placeholder: '<name>', description: 'where SLO data comes from', choices: ['probe', 'prometheus'] },
    prometheusUrl: { type: 'string', placeholder: '<url>', description: 'Prometheus base URL for --provider prometheus' },
    requests: { type: 'string', placeholder: '<n>', description: 'probe: request cap per window' },
    concurrency: { type: 'string', placeholder: '<n>', description: 'probe: parallel requests' },
    ...MANUAL_GATE_FLAGS,
    settleTimeout: { type: 'string', placeholder: '<duration>', description: 'how long to wait for traffic to settle (default 60s)' },
    maxHolds: { type: 'string', placeholder: '<n>', description: 'inconclusive windows tolerated before giving up (default 3)' },
    ...KUBE_FLAGS,
    ...FREEZE_OVERRIDE_FLAGS,
  },
  examples: [
    { command: 'vpm canary start hello --stable hello-00001', description: '10 → 50 → 100 behind the default SLO' },
    { command: 'vpm canary start hello --steps 5,25,100 --interval 30s --slo slo.yaml', description: 'custom steps and SLO' },
    { command: 'vpm canary start hello --pause-at 50 --pause-timeout 1h', description: 'hold at 50% for a person' },
  ],
  run: async (ctx, input): Promise<CommandResult> => (await import('./canary.handlers.js')).canaryStartCommand(ctx, input),
});
