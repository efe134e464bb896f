import type { CommandResult } from '../../core/command.js';
import { defineCommand, FREEZE_OVERRIDE_FLAGS, KUBE_FLAGS } from '../../cli/spec.js';
import { MANUAL_GATE_FLAGS } from './gate-flags.js';

export const release = defineCommand({
  path: ['release'],
  summary: 'the whole release as one command: apply with live traffic kept, ready, canary with SLO gates, guard window',
  args: [{ name: 'ksvc', description: 'the Knative Service the manifest holds', required: true }],
  flags: {
    file: {
      type: 'string',
      short: 'f',
      placeholder: '<manifest>',
      description: 'manifest (file, directory or overlay) holding KSVC',
      required: true,
    },
    steps: { type: 'string', placeholder: '<list>', description: 'candidate percentages, `pause` for a manual gate (default 10,50,100)' },
    interval: { type: 'string', placeholder: '<duration>', description: 'SLO window per step (default 10s)' },
    slo: { type: 'string', placeholder: '<file>', description: 'SLO thresholds (YAML/JSON)' },
    guardWindow: { type: 'string', placeholder: '<duration>', description: 'guard window after promotion (default 1m; 0 skips it)' },
    ...MANUAL_GATE_FLAGS,
    readyTimeout: {
      type: 'string',
      placeholder: '<duration>',
      description: 'how long the new revision may take to be Ready (default 120s)',
    },
    settleTimeout: { type: 'string', placeholder: '<duration>', description: 'how long to wait for traffic to settle (default 60s)' },
    maxHolds: { type: 'string', placeholder: '<n>', description: 'inconclusive windows tolerated before giving up (default 3)' },
    provider: { type: 'string', placeholder: '<name>', description: 'where SLO data comes from', choices: ['probe', 'prometheus'] },
    prometheusUrl: { type: 'string', placeholder: '<url>', description: 'Prometheus base URL for --provider prometheus' },
    requests: { type: 'string', placeholder: '<n>', description: 'probe: request cap per window' },
    concurrency: { type: 'string', placeholder: '<n>', description: 'probe: parallel requests' },
    issue: { type: 'boolean', negatable: true, description: 'do not open a GitHub issue when the guard fails' },
    force: {
      type: 'boolean',
      description: 'release although a rejected revision would come back or another rollout is in progress (needs --reason; recorded)',
    },
    ...KUBE_FLAGS,
    ...FREEZE_OVERRIDE_FLAGS,
  },
  details:
    'A live KService keeps its routing while the new template is applied (the new revision joins at 0% with the tag candidate); ' +
    'the first deploy of a KService applies the manifest’s own traffic and says so. Progress is stored on the KService ' +
    '(annotation vpm.dev/release): a re-run with the same manifest resumes at the recorded phase. Exit 4: a gate failed and ' +
    'traffic is back on stable; 3: refused; 5: timed out.',
  examples: [
    { command: 'vpm release hello -f infra/k8s/overlays/dev/hello-ksvc.yaml', description: 'apply, ready, 10 → 50 → 100, guard 1m' },
    {
      command: 'vpm release hello -f dev/hello-ksvc --steps 10,50,100 --interval 30s --slo slo.yaml --guard-window 5m',
      description: 'custom steps, SLO and guard window',
    },
    { command: 'vpm release hello -f dev/hello-ksvc --steps 10,pause,50,100', description: 'hold at 10% until vpm canary resume hello' },
  ],
  run: async (ctx, input): Promise<CommandResult> => (await import('./release.handlers.js')).releaseCommand(ctx, input),
});
