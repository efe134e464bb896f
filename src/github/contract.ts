/**
 * The persist-report contract: a pull request that only adds or changes evidence under reports/
 * and whose checks are all green may merge on its own. `checkPersistReport` evaluates the rules;
 * `applyPersistReport` labels the PR and enables auto-merge (GitHub's GraphQL
 * `enablePullRequestAutoMerge`; REST has no endpoint for it).
 */
import type { GithubClient } from '../adapters/github.js';

const CONTRACT_PREFIX = 'reports/';

type RuleName = 'pr_open' | 'not_draft' | 'only_reports' | 'checks_green';

interface RuleResult {
  rule: RuleName;
  ok: boolean;
  detail: string;
  /** Offending items (files outside reports/, checks not green). */
  offending: string[];
}

export interface ContractCheck {
  pr: {
    number: number;
    title: string;
    url: string;
    head_ref: string;
    head_sha: string;
    node_id: string;
    state: string;
    draft: boolean;
    labels: string[];
    auto_merge: boolean;
  };
  eligible: boolean;
  rules: RuleResult[];
  files: string[];
  checks: Array<{ name: string; source: 'check_run' | 'status'; state: 'success' | 'failure' | 'pending'; detail: string }>;
}

const OK_CONCLUSIONS = new Set(['success', 'neutral', 'skipped']);

export async function checkPersistReport(gh: GithubClient, prNumber: number): Promise<ContractCheck> {
  const ref = gh.repoRef;
  const { data: pull } = await gh.call(`reading pull request #${prNumber}`, (o) => o.rest.pulls.get({ ...ref, pull_number: prNumber }));
  const files = await gh.call(`listing the files of pull request #${prNumber}`, (o) =>
    o.paginate(o.rest.pulls.listFiles, { ...ref, pull_number: prNumber, per_page: 100 }),
  );
  const sha = pull.head.sha;
  const [runs, combined] = await Promise.all([
    gh.call(`listing check runs of ${sha.slice(0, 7)}`, (o) => o.paginate(o.rest.checks.listForRef, { ...ref, ref: sha, per_page: 100 })),
    gh.call(`reading the commit status of ${sha.slice(0, 7)}`, (o) =>
      o.rest.repos.getCombinedStatusForRef({ ...ref, ref: sha, per_page: 100 }),
    ),
  ]);

  const paths = files.flatMap((f) => (f.previous_filename ? [f.previous_filename, f.filename] : [f.filename]));
  const outside = [...new Set(paths.filter((p) => !p.startsWith(CONTRACT_PREFIX)))].sort();

  const checks: ContractCheck['checks'] = [
    ...runs.map((r) => {
      const state: 'success' | 'failure' | 'pending' =
        r.status !== 'completed' ? 'pending' : OK_CONCLUSIONS.has(r.conclusion ?? '') ? 'success' : 'failure';
      return {
        name: r.name,
        source: 'check_run' as const,
        state,
        detail: r.status !== 'completed' ? String(r.status) : String(r.conclusion),
      };
    }),
    ...combined.data.statuses.map((s) => {
      const state: 'success' | 'failure' | 'pending' = s.state === 'success' ? 'success' : s.state === 'pending' ? 'pending' : 'failure';
      return { name: s.context, source: 'status' as const, state, detail: s.state };
    }),
  ];
  const failing = checks.filter((c) => c.state === 'failure');
  const pending = checks.filter((c) => c.state === 'pending');

  const rules: RuleResult[] = [
    {
      rule: 'pr_open',
      ok: pull.state === 'open' && !pull.merged_at,
      detail: pull.state === 'open' ? 'the pull request is open' : `the pull request is ${pull.merged_at ? 'merged' : pull.state}`,
      offending: [],
    },
    {
      rule: 'not_draft',
      ok: !pull.draft,
      detail: pull.draft ? 'the pull request is a draft (auto-merge cannot be enabled)' : 'ready for review',
      offending: [],
    },
    {
      rule: 'only_reports',
      ok: files.length > 0 && outside.length === 0,
      detail:
        files.length === 0
          ? 'the pull request changes no files'
          : outside.length === 0
            ? `all ${files.length} changed file(s) are under ${CONTRACT_PREFIX}`
            : `${outside.length} changed file(s) outside ${CONTRACT_PREFIX}: ${outside.slice(0, 10).join(', ')}${outside.length > 10 ? ', …' : ''}`,
      offending: outside,
    },
    {
      rule: 'checks_green',
      ok: checks.length > 0 && failing.length === 0 && pending.length === 0,
      detail:
        checks.length === 0
          ? `no checks have reported on ${sha.slice(0, 7)} yet (pending)`
          : failing.length
            ? `failing check(s): ${failing.map((c) => `${c.name} (${c.detail})`).join(', ')}${pending.length ? `; pending: ${pending.map((c) => `${c.name} (${c.detail})`).join(', ')}` : ''}`
            : pending.length
              ? `pending check(s): ${pending.map((c) => `${c.name} (${c.detail})`).join(', ')}`
              : `all ${checks.length} check(s) green`,
      offending: [...failing, ...pending].map((c) => c.name),
    },
  ];

  return {
    pr: {
      number: pull.number,
      title: pull.title,
      url: pull.html_url,
      head_ref: pull.head.ref,
      head_sha: sha,
      node_id: pull.node_id,
      state: pull.merged_at ? 'merged' : pull.state,
      draft: Boolean(pull.draft),
      labels: pull.labels.map((l) => l.name ?? '').filter(Boolean),
      auto_merge: pull.auto_merge !== null && pull.auto_merge !== undefined,
    },
    eligible: rules.every((r) => r.ok),
    rules,
    files: files.map((f) => f.filename),
    checks,
  };
}

export interface ApplyOutcome {
  label: { name: string; added: boolean };
  auto_merge: { enabled: boolean; already: boolean; merge_method: string };
}

export async function applyPersistReport(
  gh: GithubClient,
  check: ContractCheck,
  opts: { label: string; mergeMethod: 'MERGE' | 'SQUASH' | 'REBASE' },
): Promise<ApplyOutcome> {
  const ref = gh.repoRef;
  const hasLabel = check.pr.labels.includes(opts.label);
  if (!hasLabel) {
    await gh.call(`adding label '${opts.label}' to #${check.pr.number}`, (o) =>
      o.rest.issues.addLabels({ ...ref, issue_number: check.pr.number, labels: [opts.label] }),
    );
  }
  if (check.pr.auto_merge) {
    return { label: { name: opts.label, added: !hasLabel }, auto_merge: { enabled: true, already: true, merge_method: opts.mergeMethod } };
  }
  const result = await gh.call(`enabling auto-merge on #${check.pr.number}`, (o) =>
    o.graphql<{ enablePullRequestAutoMerge: { pullRequest: { number: number; autoMergeRequest: { mergeMethod: string } | null } } }>(
      `mutation EnableAutoMerge($pullRequestId: ID!, $mergeMethod: PullRequestMergeMethod!) {
        enablePullRequestAutoMerge(input: { pullRequestId: $pullRequestId, mergeMethod: $mergeMethod }) {
          pullRequest { number autoMergeRequest { mergeMethod enabledAt } }
        }
      }`,
      { pullRequestId: check.pr.node_id, mergeMethod: opts.mergeMethod },
    ),
  );
  const amr = result.enablePullRequestAutoMerge.pullRequest.autoMergeRequest;
  return {
    label: { name: opts.label, added: !hasLabel },
    auto_merge: { enabled: amr !== null, already: false, merge_method: amr?.mergeMethod ?? opts.mergeMethod },
  };
}

export function renderContract(c: ContractCheck, applied?: ApplyOutcome): string {
  const lines = [`PR #${c.pr.number} ${c.pr.title} (${c.pr.head_ref} @ ${c.pr.head_sha.slice(0, 7)})`];
  for (const r of c.rules) lines.push(`  ${r.ok ? 'ok  ' : 'FAIL'} ${r.rule.padEnd(13)} ${r.detail}`);
  lines.push(
    c.eligible
      ? 'eligible for the persist-report lane'
      : `not eligible: ${c.rules
          .filter((r) => !r.ok)
          .map((r) => r.rule)
          .join(', ')}`,
  );
  if (applied) {
    lines.push(`label ${applied.label.name}: ${applied.label.added ? 'added' : 'already present'}`);
    lines.push(
      `auto-merge (${applied.auto_merge.merge_method.toLowerCase()}): ${applied.auto_merge.already ? 'already enabled' : applied.auto_merge.enabled ? 'enabled' : 'not enabled'}`,
    );
  }
  return lines.join('\n');
}
