/**
 * The check-in block used before agreeing on the next action:
 *   Repo / Branch / PR / Run / Evidence / Next
 * from git, the GitHub API (open PR for the branch, latest workflow run) and the newest evidence.
 * GitHub being unreachable (or refusing) never fails the check-in: the lines it would fill say what
 * could not be reached, and everything git knows is still printed.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { VpmError } from '../core/errors.js';
import { GithubUnreachableError, repoFromRemoteUrl, resolveGithubRepo, type GithubClient, type GithubRepoRef } from '../adapters/github.js';
import type { VpmConfig } from '../schemas/config.js';
import { newestEvidence, type NewestEvidence } from './evidence-scan.js';
import { readGitFacts, type GitFacts } from './git-facts.js';

export interface CheckinInput {
  cwd: string;
  env: NodeJS.ProcessEnv;
  config: Pick<VpmConfig, 'github'>;
  repo?: string;
  offline?: boolean;
  github: (repo: GithubRepoRef) => Promise<GithubClient>;
}

interface CheckinPull {
  number: number;
  title: string;
  url: string;
  draft: boolean;
  head_sha: string;
}

interface CheckinRun {
  id: number;
  name: string | null;
  status: string | null;
  conclusion: string | null;
  url: string;
  head_sha: string;
  created_at: string;
}

export interface CheckinResult {
  repo: (GithubRepoRef & { source: string }) | null;
  git: GitFacts;
  pr: CheckinPull | null;
  run: CheckinRun | null;
  evidence: NewestEvidence | null;
  healthcheck: { coverage: string | null; quality: string | null; gaps: string[] };
  next: string;
  /** Sources that could not be reached or refused, with why. */
  unreachable: Array<{ what: 'pr' | 'run'; reason: string }>;
  lines: string[];
}

function readStatus(cwd: string, file: string): Record<string, any> | null {
  try {
    return JSON.parse(readFileSync(join(cwd, file), 'utf8')) as Record<string, any>;
  } catch {
    return null;
  }
}

export async function checkin(input: CheckinInput): Promise<CheckinResult> {
  const git = await readGitFacts(input.cwd, input.env);
  let repo: CheckinResult['repo'] = null;
  const configured = resolveGithubRepo({ env: input.env, config: input.config, repo: input.repo });
  if (configured)
    repo = { ...configured, source: input.repo ? '--repo' : input.config.github?.repo ? 'config github.repo' : 'environment' };
  else if (git.remoteUrl) {
    const fromRemote = repoFromRemoteUrl(git.remoteUrl);
    if (fromRemote) repo = { ...fromRemote, source: 'git remote' };
  }

  const unreachable: CheckinResult['unreachable'] = [];
  let pr: CheckinPull | null = null;
  let run: CheckinRun | null = null;
  let prKnown = false;
  let runKnown = false;
  if (input.offline) {
    unreachable.push({ what: 'pr', reason: 'not asked (--offline)' }, { what: 'run', reason: 'not asked (--offline)' });
  } else if (!repo) {
    const reason = 'no GitHub repository known (set github.repo in vpm.config.yaml or GITHUB_REPOSITORY, or add a github.com remote)';
    unreachable.push({ what: 'pr', reason }, { what: 'run', reason });
  } else {
    const gh = await input.github(repo);
    const ref = { owner: repo.owner, repo: repo.repo };
    let offline: string | undefined;
    const attempt = async <T>(what: 'pr' | 'run', fn: () => Promise<T>): Promise<T | undefined> => {
      if (offline) {
        unreachable.push({ what, reason: offline });
        return undefined;
      }
      try {
        return await fn();
      } catch (err) {
        if (!(err instanceof VpmError)) throw err;
        const reason = `${err.message}${err.hint ? ` (${err.hint})` : ''}`;
        if (err instanceof GithubUnreachableError) offline = reason;
        unreachable.push({ what, reason });
        return undefined;
      }
    };
    if (git.branch) {
      const pulls = await attempt('pr', () =>
        gh.call('looking up the open pull request', (o) =>
          o.rest.pulls.list({ ...ref, state: 'open', head: `${repo!.owner}:${git.branch}`, per_page: 5 }),
        ),
      );
      if (pulls) {
        prKnown = true;
        const p = pulls.data[0];
        if (p) pr = { number: p.number, title: p.title, url: p.html_url, draft: Boolean(p.draft), head_sha: p.head.sha };
      }
    } else {
      unreachable.push({ what: 'pr', reason: 'detached HEAD: no branch to look up' });
    }
    const runs = await attempt('run', () =>
      gh.call('looking up the latest workflow run', (o) =>
        o.rest.actions.listWorkflowRunsForRepo({ ...ref, per_page: 1, ...(git.branch ? { branch: git.branch } : {}) }),
      ),
    );
    if (runs) {
      runKnown = true;
      const r = runs.data.workflow_runs[0];
      if (r)
        run = {
          id: r.id,
          name: r.name ?? null,
          status: r.status ?? null,
          conclusion: r.conclusion ?? null,
          url: r.html_url,
          head_sha: r.head_sha,
          created_at: r.created_at,
        };
    }
  }

  const evidence = newestEvidence(input.cwd);
  const coverage = readStatus(input.cwd, 'reports/coverage.json');
  const quality = readStatus(input.cwd, 'reports/quality.json');
  const healthcheck = {
    coverage: typeof coverage?.status === 'string' ? coverage.status : null,
    quality: typeof quality?.status === 'string' ? quality.status : null,
    gaps: Array.isArray(coverage?.goals?.gaps) ? coverage.goals.gaps.map((g: { id: string }) => g.id) : [],
  };

  const next = decideNext({ git, repo, pr, run, prKnown, runKnown, unreachable, healthcheck });
  const short = (sha: string | null) => (sha ? sha.slice(0, 7) : '(no commits)');
  const why = (what: 'pr' | 'run') => unreachable.find((u) => u.what === what)?.reason ?? 'unknown';
  const lines = [
    `Repo:     ${repo ? `${repo.owner}/${repo.repo} (${repo.source})` : git.isRepo ? `unknown: ${git.remoteUrl ? `remote ${git.remoteUrl} is not on GitHub` : 'no remote'}` : `not a git repository: ${input.cwd}`}`,
    `Branch:   ${git.isRepo ? `${git.branch ?? '(detached HEAD)'} @ ${short(git.sha)}, ${git.dirty === 0 ? 'clean' : `${git.dirty} changed file(s)`}${git.upstream ? `, ${git.ahead ?? '?'} ahead / ${git.behind ?? '?'} behind ${git.upstream}` : ', no upstream'}` : 'unknown'}`,
    `PR:       ${pr ? `#${pr.number} ${pr.title}${pr.draft ? ' (draft)' : ''} ${pr.url}` : prKnown ? `none open for ${git.branch}` : `unknown — ${why('pr')}`}`,
    `Run:      ${run ? `${run.name ?? 'workflow'} #${run.id} ${run.status}${run.conclusion ? `/${run.conclusion}` : ''} on ${short(run.head_sha)} ${run.url}` : runKnown ? `none${git.branch ? ` for ${git.branch}` : ''}` : `unknown — ${why('run')}`}`,
    `Evidence: ${evidence ? `${evidence.file} (${evidence.kind}, ${evidence.status}, ${evidence.finished_at})` : 'none under reports/'}`,
    `Next:     ${next}`,
  ];
  return { repo, git, pr, run, evidence, healthcheck, next, unreachable, lines };
}

function decideNext(s: {
  git: GitFacts;
  repo: CheckinResult['repo'];
  pr: CheckinPull | null;
  run: CheckinRun | null;
  prKnown: boolean;
  runKnown: boolean;
  unreachable: CheckinResult['unreachable'];
  healthcheck: CheckinResult['healthcheck'];
}): string {
  if (!s.git.isRepo) return 'run vpm inside a git repository (or pass --cwd DIR)';
  if (s.healthcheck.quality === 'red' || s.healthcheck.coverage === 'red')
    return 'fix the red healthcheck checks (reports/quality.json, reports/coverage.json), then re-run vpm healthcheck';
  if (s.git.dirty) return `commit or checkpoint the ${s.git.dirty} changed file(s) (vpm checkpoint NAME)`;
  if (s.run && s.run.status === 'completed' && s.run.conclusion && !['success', 'neutral', 'skipped'].includes(s.run.conclusion)) {
    return `inspect the ${s.run.conclusion} run ${s.run.url} and fix it`;
  }
  if (s.run && s.run.status !== 'completed') return `wait for run #${s.run.id} (${s.run.status}) to finish`;
  if (!s.prKnown || !s.runKnown) {
    return s.repo
      ? 'GitHub could not be reached: run vpm healthcheck locally and check in again when online'
      : 'configure the GitHub repository (github.repo) to see PRs and runs';
  }
  const onDefault = s.git.branch === 'main' || s.git.branch === 'master';
  if (!s.pr && !onDefault) return `push ${s.git.branch} and open a pull request`;
  if (s.pr && (!s.run || s.run.conclusion === 'success'))
    return `PR #${s.pr.number} is green: review and merge it (or vpm contract check ${s.pr.number} for a reports-only PR)`;
  if (s.healthcheck.gaps.length)
    return `gather evidence for ${s.healthcheck.gaps.join(', ')} (no report names ${s.healthcheck.gaps.length === 1 ? 'it' : 'them'} yet)`;
  return 'agree on the next goal in STATE/current_state.md';
}
