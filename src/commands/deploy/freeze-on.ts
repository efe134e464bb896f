import type { CommandResult } from '../../core/command.js';
import { defineCommand } from '../../cli/spec.js';

export const freezeOn = defineCommand({
  path: ['freeze', 'on'],
  summary: 'freeze deploys: every mutating deploy command refuses with exit 3',
  details:
    'With a fleet configured (or freeze.cluster: true) the freeze also goes to the clusters: a deny sync window in the AppProject (Argo CD refuses every sync), the annotation vpm.dev/freeze on the managed namespaces (every vpm reads it), and a ValidatingAdmissionPolicy rejecting Knative Service changes there unless annotated vpm.dev/freeze-override=<reason> (kubectl is held too).',
  flags: {
    reason: { type: 'string', placeholder: '<text>', description: 'why deploys are frozen', required: true },
    until: { type: 'string', placeholder: '<time>', description: 'expiry: ISO time or a duration from now (2h, 30m)' },
    local: { type: 'boolean', description: 'this checkout only: leave the clusters (AppProject, namespaces, admission policy) alone' },
    kubeconfig: { type: 'string', placeholder: '<file>', description: 'kubeconfig file (default: $KUBECONFIG or ~/.kube/config)' },
  },
  examples: [
    { command: 'vpm freeze on --reason "incident 42"', description: 'freeze until lifted' },
    { command: 'vpm freeze on --reason "release week" --until 48h', description: 'expires by itself' },
  ],
  run: async (ctx, input): Promise<CommandResult> => (await import('./freeze.handlers.js')).freezeOnCommand(ctx, input),
});
