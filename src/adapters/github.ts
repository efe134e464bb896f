/**
 * The only code that talks to GitHub. Builds one Octokit per command (lazily imported, so commands
 * that never reach GitHub do not pay for it) and turns every failure into a VpmError that says what
 * failed, why and what to do — never echoing the token.
 *
 *   base URL  GITHUB_API_URL (default https://api.github.com) — tests point it at the local double
 *   token     GITHUB_TOKEN, else GH_TOKEN
 *   repo      --repo flag > VPM_GITHUB_REPO / config `github.repo` > GITHUB_REPOSITORY
 *
 * Usage from domain code:
 *   const gh = await createGithubClient({ env: ctx.env, config: await ctx.config() });
 *   const issue = await gh.call('opening the guard issue', (o) => o.rest.issues.create({ ...gh.repoRef, title, body }));
 */
import type { Octokit } from '@octokit/rest';
import { OperationalError, UnreachableError, UsageError, VpmError } from '../core/errors.js';
import { maskSecrets } from '../core/secrets.js';
import { describeNetworkFailure, networkHint } from './net-errors.js';
import type { VpmConfig } from '../schemas/config.js';

const DEFAULT_GITHUB_API_URL = 'https://api.github.com';
const DEFAULT_TIMEOUT_MS = 15_000;

/** GitHub could not be reached at all (DNS, refused connection, TLS, timeout): callers may degrade. */
export class GithubUnreachableError extends UnreachableError {}

export interface GithubRepoRef {
  owner: string;
  repo: string;
}

export interface GithubClient {
  octokit: Octokit;
  baseUrl: string;
  /** `{ owner, repo }`, ready to spread into Octokit calls; throws a UsageError when no repo is known. */
  readonly repoRef: GithubRepoRef;
  /** The repository if one is configured, without throwing. */
  repo: GithubRepoRef | undefined;
  hasToken: boolean;
  /** Runs one API call and maps its failure to a clear VpmError (`what` names the action). */
  call<T>(what: string, fn: (octokit: Octokit) => Promise<T>): Promise<T>;
}

export interface GithubClientOptions {
  env: NodeJS.ProcessEnv;
  config?: Pick<VpmConfig, 'github'>;
  /** Explicit `owner/name` (a --repo flag), highest precedence. */
  repo?: string;
  /** Per-request timeout. */
  timeoutMs?: number;
}

function githubToken(env: NodeJS.ProcessEnv): string | undefined {
  return env.GITHUB_TOKEN || env.GH_TOKEN || undefined;
}

export function resolveGithubRepo(opts: Pick<GithubClientOptions, 'env' | 'config' | 'repo'>): GithubRepoRef | undefined {
  const spec = opts.repo ?? opts.config?.github?.repo ?? opts.env.VPM_GITHUB_REPO ?? opts.env.GITHUB_REPOSITORY;
  if (!spec) return undefined;
  const m = /^([^/\s]+)\/([^/\s]+?)(?:\.git)?$/.exec(spec.trim());
  if (!m)
    throw new UsageError(`GitHub repository '${spec}' is not owner/name`, {
      hint: 'set github.repo in vpm.config.yaml (or GITHUB_REPOSITORY) to owner/name',
    });
  return { owner: m[1], repo: m[2] };
}

/** Parses `owner/name` out of a git remote URL (https or ssh), for display when no repo is configured. */
export function repoFromRemoteUrl(url: string): GithubRepoRef | undefined {
  const m = /github\.com[/:]([^/\s]+)\/([^/\s]+?)(?:\.git)?\/?$/.exec(url.trim());
  return m ? { owner: m[1], repo: m[2] } : undefined;
}

export async function createGithubClient(opts: GithubClientOptions): Promise<GithubClient> {
  const baseUrl = (opts.env.GITHUB_API_URL || DEFAULT_GITHUB_API_URL).replace(/\/+$/, '');
  const token = githubToken(opts.env);
  const repo = resolveGithubRepo(opts);
  const timeoutMs = opts.timeoutMs ?? (Number(opts.env.VPM_GITHUB_TIMEOUT_MS) || DEFAULT_TIMEOUT_MS);
  const { Octokit } = await import('@octokit/rest');
  const silent = () => undefined;
  const octokit = new Octokit({
    baseUrl,
    auth: token,
    userAgent: 'vpm',
    log: { debug: silent, info: silent, warn: silent, error: silent },
    request: {
      // A per-request deadline: an unreachable API must not hang a command.
      fetch: (url: string | URL, init: RequestInit = {}) =>
        fetch(url, {
          ...init,
          signal: init.signal ? AbortSignal.any([init.signal, AbortSignal.timeout(timeoutMs)]) : AbortSignal.timeout(timeoutMs),
        }),
    },
  });
  const client: GithubClient = {
    octokit,
    baseUrl,
    repo,
    hasToken: token !== undefined,
    get repoRef(): GithubRepoRef {
      if (!repo) {
        throw new UsageError('no GitHub repository configured', {
          hint: 'set github.repo: owner/name in vpm.config.yaml, or VPM_GITHUB_REPO / GITHUB_REPOSITORY',
        });
      }
      return { owner: repo.owner, repo: repo.repo };
    },
    async call(what, fn) {
      try {
        return await fn(octokit);
      } catch (err) {
        throw mapGithubError(err, what, { baseUrl, env: opts.env, hasToken: token !== undefined, repo });
      }
    },
  };
  return client;
}

interface MapContext {
  baseUrl: string;
  env: NodeJS.ProcessEnv;
  hasToken: boolean;
  repo?: GithubRepoRef;
}

function header(err: any, name: string): string | undefined {
  const v = err?.response?.headers?.[name];
  return v === undefined ? undefined : String(v);
}

/** Maps an Octokit/fetch failure to a VpmError; the token never appears in the result. */
function mapGithubError(err: unknown, what: string, ctx: MapContext): VpmError {
  if (err instanceof VpmError) return err;
  const e = err as any;
  const mask = (s: string) => maskSecrets(s, ctx.env);
  const status: number | undefined = typeof e?.status === 'number' ? e.status : undefined;
  const apiMessage = mask(String(e?.response?.data?.message ?? e?.message ?? err));
  const repoName = ctx.repo ? `${ctx.repo.owner}/${ctx.repo.repo}` : '(no repo)';

  if (e?.name === 'GraphqlResponseError' && Array.isArray(e.errors)) {
    const msgs = e.errors.map((x: any) => `${x.type ? `${x.type}: ` : ''}${x.message}`).join('; ');
    return new OperationalError(`GitHub GraphQL refused ${what}: ${mask(msgs)}`, {
      hint: /auto.?merge is not allowed/i.test(msgs)
        ? "enable 'Allow auto-merge' in the repository settings"
        : 'see the GraphQL error above',
    });
  }
  if (!e?.response) {
    // No answer at all. Octokit reports a failed fetch as status 500 without a response, which is
    // not what happened: say that GitHub was not reached, and why.
    const net = describeNetworkFailure(e);
    const cause = e?.cause ?? e;
    const why = net?.text ?? String(cause?.message ?? apiMessage);
    return new GithubUnreachableError('GitHub API', ctx.baseUrl, mask(why), {
      while: what,
      hint: `${net?.kind === 'tls' ? `${networkHint('tls')}; ` : ''}check the network${ctx.env.GITHUB_API_URL ? ' and GITHUB_API_URL' : ''}; retry when GitHub is reachable`,
    });
  }
  switch (status) {
    case 401:
      return new OperationalError(
        `GitHub rejected the request while ${what}: 401 ${ctx.hasToken ? 'bad credentials' : 'authentication required'}`,
        {
          hint: ctx.hasToken
            ? 'the token in GITHUB_TOKEN (or GH_TOKEN) is invalid or expired: set GITHUB_TOKEN to a valid token'
            : 'set GITHUB_TOKEN (or GH_TOKEN) to a token with access to the repository',
        },
      );
    case 403: {
      if (header(e, 'x-ratelimit-remaining') === '0') {
        const reset = Number(header(e, 'x-ratelimit-reset'));
        const at = Number.isFinite(reset) && reset > 0 ? new Date(reset * 1000).toISOString() : 'later';
        return new OperationalError(`GitHub rate limit exhausted while ${what}`, {
          hint: `retry after ${at}${ctx.hasToken ? '' : ' (or set GITHUB_TOKEN for a higher limit)'}`,
          retryable: true,
        });
      }
      return new OperationalError(`GitHub refused ${what} on ${repoName}: 403 ${apiMessage}`, {
        hint: 'the token lacks a permission this action needs (repo / pull-requests / issues write); use a token that has it',
      });
    }
    case 404:
      return new OperationalError(`not found on GitHub while ${what} (${repoName}): ${apiMessage}`, {
        hint: 'check github.repo / GITHUB_REPOSITORY and the number you passed; private repos also answer 404 to tokens without access',
      });
    case 422:
      return new OperationalError(
        `GitHub rejected ${what}: ${apiMessage}${Array.isArray(e.response?.data?.errors) ? ` (${mask(JSON.stringify(e.response.data.errors))})` : ''}`,
        {
          hint: 'the request was refused as invalid; see the message above',
        },
      );
    default:
      if (status !== undefined && status >= 500) {
        return new OperationalError(`GitHub answered ${status} while ${what}: ${apiMessage}`, {
          hint: 'GitHub had a server error; retry later',
          retryable: true,
        });
      }
      return new OperationalError(`GitHub request failed while ${what}: ${status ?? ''} ${apiMessage}`.replace(/\s+/g, ' ').trim());
  }
}
