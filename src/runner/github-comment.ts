/**
 * Reads the text of an /ask request from GitHub: an issue comment (`--comment ID`) or the issue body
 * (`--issue N` alone). API base from GITHUB_API_URL, token from GITHUB_TOKEN / GH_TOKEN.
 */
import { createGithubClient, mapGithubError } from '../adapters/github.js';
import { OperationalError, UsageError } from '../core/errors.js';

export interface CommentRef {
  repo: string;
  issue?: number;
  comment?: number;
}

export interface FetchedRequest {
  text: string;
  url: string;
  issue?: number;
  comment_id?: number;
}

export async function fetchAskText(ref: CommentRef, env: NodeJS.ProcessEnv): Promise<FetchedRequest> {
  const [owner, repo] = ref.repo.split('/');
  if (!owner || !repo) throw new UsageError(`repository ${JSON.stringify(ref.repo)} must be owner/name`);
  // The shared client: same base URL, token and per-request deadline as every other GitHub call.
  const gh = await createGithubClient({ env, repo: ref.repo });
  const octokit = gh.octokit;
  try {
    if (ref.comment !== undefined) {
      const { data } = await octokit.rest.issues.getComment({ owner, repo, comment_id: ref.comment });
      const issueFromUrl = Number(/\/issues\/(\d+)$/.exec(data.issue_url)?.[1]);
      if (ref.issue !== undefined && issueFromUrl !== ref.issue) {
        throw new UsageError(`comment ${ref.comment} belongs to issue #${issueFromUrl}, not #${ref.issue}`);
      }
      return { text: data.body ?? '', url: data.html_url, issue: issueFromUrl || ref.issue, comment_id: ref.comment };
    }
    const { data } = await octokit.rest.issues.get({ owner, repo, issue_number: ref.issue! });
    return { text: data.body ?? '', url: data.html_url, issue: ref.issue };
  } catch (err) {
    if (err instanceof UsageError) throw err;
    // No answer at all (refused, DNS, timeout) is not an HTTP status: say GitHub was not reached.
    if (!(err as { response?: unknown }).response) {
      throw mapGithubError(err, `reading the /ask request (${ref.repo})`, { baseUrl: gh.baseUrl, env, hasToken: gh.hasToken, repo: gh.repo });
    }
    const status = (err as { status?: number }).status;
    throw new OperationalError(`cannot read the /ask request from GitHub (${ref.repo}): ${status ? `HTTP ${status}` : (err as Error).message}`, {
      retryable: status === undefined || status >= 500,
      hint:
        status === 401 || status === 403
          ? 'set GITHUB_TOKEN (or GH_TOKEN) to a token that can read issues'
          : status === 404
            ? 'check --issue/--comment and the repository (--repo, config github.repo or GITHUB_REPOSITORY)'
            : 'check the network and GITHUB_API_URL, or pass the text directly: vpm ask "…"',
      cause: err,
    });
  }
}
