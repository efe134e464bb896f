import type { PolicyConfig } from './policy.js';

/**
 * The policy used when vpm.config has no `execution_policy` section: deny by default, allow the
 * read-only and S5-apply commands the runner itself generates (`vpm apply`, kubectl diff/apply/get),
 * deny deletions and pushes outright.
 */
export const DEFAULT_EXECUTION_POLICY: PolicyConfig & { timeout_s: number } = {
  default_action: 'deny',
  deny_if_contains: ['rm', 'git push', 'kubectl delete'],
  deny_patterns: [],
  allowlist: [
    'vpm apply',
    'kubectl diff',
    'kubectl apply --server-side',
    'kubectl get',
    'git status',
    'git diff',
    'git log',
    'ls',
    'echo',
    'true',
  ],
  stop_on_deny: true,
  timeout_s: 600,
  env_allow: [],
  network: false,
  // Checked by `vpm policy test` (and by the unit tests): issue 15's bypasses stay denied.
  examples: {
    deny: [
      'rm\u00a0-f\u00a0/tmp/victim\u00a0./echo',
      'git log --output=.git/config',
      'git --shallow-file status push origin main',
      'kubectl get pods --kubeconfig k.yaml',
      'HOME=. git status',
      ['./tools/echo', 'hi'],
      ['env', '-S', 'rm -rf x'],
    ],
    allow: ['git status', 'git log --oneline -5', 'kubectl get ksvc', ['vpm', 'apply', 'infra/k8s/overlays/dev/x.yaml']],
  },
};
