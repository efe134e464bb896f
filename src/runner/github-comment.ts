/**
 * Reads the text of an /ask request from GitHub: an issue comment (`--comment ID`) or the issue body
 * (`--issue N` alone), through the one GitHub client (API base from GITHUB_API_URL, token from
 * GITHUB_TOKEN / GH_TOKEN, a per-request deadline, errors that never show the token).
 */
import type { GithubClient } from '../adapters/github.js';
import { UsageError } from '../core/errors.js';

export interface CommentRef {
  issue?: number;
  comment?: number;
}

export interface FetchedRequest {
  text: string;
  url: string;
  issue?: number;
  comment_id?: number;
}

export async function fetchAskText(gh: GithubClient, ref: CommentRef): Promise<FetchedRequest> {
  const repo = gh.repoRef;
  if (ref.comment !== undefined) {
    const { data } = await gh.call(`reading comment ${ref.comment} of the /ask request`, (o) =>
      o.rest.issues.getComment({ ...repo, comment_id: ref.comment! }),
    );
    const issueFromUrl = Number(/\/issues\/(\d+)$/.exec(data.issue_url)?.[1]);
    if (ref.issue !== undefined && issueFromUrl !== ref.issue) {
      throw new UsageError(`comment ${ref.comment} belongs to issue #${issueFromUrl}, not #${ref.issue}`);
    }
    return { text: data.body ?? '', url: data.html_url, issue: issueFromUrl || ref.issue, comment_id: ref.comment };
  }
  const { data } = await gh.call(`reading issue #${ref.issue} for the /ask request`, (o) =>
    o.rest.issues.get({ ...repo, issue_number: ref.issue! }),
  );
  return { text: data.body ?? '', url: data.html_url, issue: ref.issue };
}
