/**
 * A strict local double of the GitHub API (REST + the GraphQL endpoint), for tests.
 *
 * - Listens on 127.0.0.1:<free port>; point vpm at it with `double.env` (GITHUB_API_URL,
 *   GITHUB_TOKEN, GITHUB_REPOSITORY).
 * - Every REST request (method, path, path/query parameters, body) is matched and validated against
 *   GitHub's published OpenAPI description (`@octokit/openapi`, api.github.com) with openapi-backend.
 *   Every GraphQL request is parsed and validated against GitHub's published GraphQL schema
 *   (`@octokit/graphql-schema`) and executed against the seeded state.
 * - Answers like GitHub: bodies start from the description's own examples for the operation and are
 *   overlaid with the seeded state; rate-limit headers on every response; GitHub's error bodies.
 * - Strict: an unknown endpoint, an invalid request, an operation the double does not implement, a
 *   response that does not match the description, or a fault that was armed but never fired is
 *   recorded as unexpected, and `assertNoUnexpected()` fails the test with the list.
 * - Fault injection: `double.fail({ operationId, status: 500 })`, `double.rateLimit({ … })`.
 * - Extensible: `double.on(operationId, handler)` implements (or overrides) an operation.
 *
 * The description is loaded and pre-processed once per test process (~0.5 s).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';

const require = createRequire(import.meta.url);

// ---------------------------------------------------------------------------------------------
// Seed and state

interface SeedFile {
  filename: string;
  status?: 'added' | 'removed' | 'modified' | 'renamed' | 'copied' | 'changed' | 'unchanged';
  additions?: number;
  deletions?: number;
  /** For renamed files. */
  previous_filename?: string;
}

interface SeedPull {
  number: number;
  title?: string;
  body?: string;
  /** Head branch name. */
  head: string;
  headSha?: string;
  base?: string;
  state?: 'open' | 'closed';
  draft?: boolean;
  merged?: boolean;
  user?: string;
  labels?: string[];
  files?: Array<string | SeedFile>;
}

interface SeedCheckRun {
  name: string;
  status?: 'queued' | 'in_progress' | 'completed' | 'waiting' | 'requested' | 'pending';
  conclusion?: 'success' | 'failure' | 'neutral' | 'cancelled' | 'skipped' | 'timed_out' | 'action_required' | null;
}

interface SeedStatus {
  context: string;
  state: 'success' | 'failure' | 'pending' | 'error';
  description?: string;
}

interface SeedWorkflowRun {
  id?: number;
  name?: string;
  branch: string;
  sha?: string;
  event?: string;
  status?: 'queued' | 'in_progress' | 'completed' | 'waiting' | 'requested' | 'pending';
  conclusion?: 'success' | 'failure' | 'neutral' | 'cancelled' | 'skipped' | 'timed_out' | 'action_required' | null;
  created_at?: string;
}

interface SeedIssue {
  number: number;
  title: string;
  body?: string;
  state?: 'open' | 'closed';
  labels?: string[];
}

export interface GithubSeed {
  /** "owner/name"; default "acme/app". */
  repo?: string;
  defaultBranch?: string;
  /** Whether the repository allows auto-merge (GraphQL enablePullRequestAutoMerge). Default true. */
  allowAutoMerge?: boolean;
  /** Token the double accepts; default a fixed test token. */
  token?: string;
  pulls?: SeedPull[];
  /** Commit statuses and check runs by ref: a sha or a branch name (resolved through the pulls' heads). */
  checks?: Record<string, { statuses?: SeedStatus[]; checkRuns?: SeedCheckRun[] }>;
  workflowRuns?: SeedWorkflowRun[];
  issues?: SeedIssue[];
}

interface RecordedRequest {
  method: string;
  /** Path without the query string. */
  path: string;
  query: Record<string, string | string[]>;
  body: unknown;
  /** `graphql` for GraphQL requests. */
  operationId: string | null;
  /** GraphQL operation text, when the request is a GraphQL one. */
  graphql?: { query: string; variables: Record<string, unknown> };
  status: number;
  /** Why this request counts as unexpected (invalid, unknown, not implemented, …). */
  unexpected?: string;
  /** Whether the Authorization header carried the right token. Its value is never recorded. */
  authenticated: boolean;
}

interface FaultRule {
  /** Match by operationId (`pulls/get`, `graphql`) … */
  operationId?: string;
  /** … or by method and path (string = exact path, RegExp = test). */
  method?: string;
  path?: string | RegExp;
  status: number;
  /** Response body; default GitHub's body for the status. */
  body?: unknown;
  headers?: Record<string, string>;
  /** How many times it fires; default Infinity. A rule that never fired is reported by assertNoUnexpected(). */
  times?: number;
}

interface HandlerContext {
  state: GithubState;
  /** The full request URL as the double saw it (for link headers). */
  url: string;
  params: Record<string, string>;
  query: Record<string, any>;
  body: any;
  /** The description's example response for this operation (deep copy), if it has one. */
  example(status?: number): any;
  /** An error answer shaped like GitHub's. */
  error(status: number, message: string, extra?: Record<string, unknown>): HandlerResult;
}

interface HandlerResult {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

type OperationHandler = (ctx: HandlerContext) => HandlerResult | Promise<HandlerResult>;

interface LivePull extends Required<Omit<SeedPull, 'files' | 'body' | 'labels'>> {
  body: string | null;
  labels: string[];
  files: SeedFile[];
  node_id: string;
  created_at: string;
  autoMerge: { enabledAt: string; mergeMethod: string } | null;
}

interface LiveIssue {
  number: number;
  title: string;
  body: string | null;
  state: 'open' | 'closed';
  labels: string[];
  created_at: string;
  comments: Array<{ id: number; body: string; created_at: string }>;
}

interface GithubState {
  owner: string;
  repo: string;
  defaultBranch: string;
  allowAutoMerge: boolean;
  pulls: LivePull[];
  issues: LiveIssue[];
  checks: Record<string, { statuses: SeedStatus[]; checkRuns: SeedCheckRun[] }>;
  workflowRuns: Required<SeedWorkflowRun>[];
  nextNumber(): number;
  /** Resolve a ref (sha, branch, `refs/heads/x`) to the checks seeded for it. */
  checksFor(ref: string): { sha: string; statuses: SeedStatus[]; checkRuns: SeedCheckRun[] };
}

export interface GithubDouble {
  /** Base URL for GITHUB_API_URL, e.g. http://127.0.0.1:40123 */
  url: string;
  token: string;
  /** GITHUB_API_URL, GITHUB_TOKEN and GITHUB_REPOSITORY for a vpm child process. */
  env: Record<string, string>;
  state: GithubState;
  requests: RecordedRequest[];
  /** Recorded requests for one operationId (`issues/create`, `graphql`, …). */
  requestsFor(operationId: string): RecordedRequest[];
  /** Arms a fault; returns it so a test can inspect how often it fired. */
  fail(rule: FaultRule): FaultRule & { fired: number };
  /** A 403 with `x-ratelimit-remaining: 0` (GitHub's primary rate limit) for matching requests. */
  rateLimit(rule: Omit<FaultRule, 'status' | 'body' | 'headers'>): FaultRule & { fired: number };
  /** Implements or overrides an operation. */
  on(operationId: string, handler: OperationHandler): void;
  /** Throws (failing the test) when any request was unexpected or an armed fault never fired. */
  assertNoUnexpected(): void;
  /** Clears recorded requests (and unexpected marks); armed faults stay. */
  resetRequests(): void;
  close(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// The description (loaded once per process)

type Backend = import('openapi-backend').OpenAPIBackend;
let backendPromise: Promise<{ api: Backend; definition: any }> | undefined;

/**
 * OpenAPI 3.0's `nullable` without `type` (used ~135 times in GitHub's description) is rejected by
 * Ajv; rewrite it to the equivalent `anyOf [schema, null]` so validation stays exact.
 */
function normaliseNullable(node: any): any {
  if (Array.isArray(node)) return node.map(normaliseNullable);
  if (!node || typeof node !== 'object') return node;
  const out: any = {};
  for (const [k, v] of Object.entries(node)) out[k] = normaliseNullable(v);
  // OAS 3.0 `nullable` does not extend `enum`; GitHub's description relies on it (conclusion: null).
  if (out.nullable === true && Array.isArray(out.enum) && !out.enum.includes(null)) out.enum = [...out.enum, null];
  if (out.nullable === true && out.type === undefined) {
    const { nullable: _n, description, readOnly, ...rest } = out;
    if (Object.keys(rest).length === 0) return { ...(description ? { description } : {}) };
    return { ...(description ? { description } : {}), ...(readOnly ? { readOnly } : {}), anyOf: [rest, { type: 'null' }] };
  }
  return out;
}

function loadGithubDescription(): Promise<{ api: Backend; definition: any }> {
  backendPromise ??= (async () => {
    const specPath = require.resolve('@octokit/openapi/generated/api.github.com.json');
    const definition = normaliseNullable(JSON.parse(readFileSync(specPath, 'utf8')));
    const [{ OpenAPIBackend }, formats] = await Promise.all([import('openapi-backend'), import('ajv-formats')]);
    // CommonJS default export: the plugin is `module.exports` (and also its `.default`).
    const addFormats = ((formats as any).default ?? formats) as (ajv: any) => unknown;
    const api = new OpenAPIBackend({
      definition,
      quick: true,
      validate: true,
      coerceTypes: true,
      ignoreTrailingSlashes: false,
      ajvOpts: { strict: false, allErrors: true },
      // Formats (date-time, uri, email, …) are part of the contract: a bad `since=` must fail.
      customizeAjv: (ajv) => {
        addFormats(ajv);
        return ajv;
      },
    });
    await api.init();
    return { api, definition };
  })();
  return backendPromise;
}

let graphqlSchemaPromise: Promise<any> | undefined;
function loadGraphqlSchema(): Promise<any> {
  graphqlSchemaPromise ??= (async () => {
    const [{ buildSchema }, { schema }] = await Promise.all([import('graphql'), import('@octokit/graphql-schema')]);
    return buildSchema(schema.idl, { assumeValidSDL: true });
  })();
  return graphqlSchemaPromise;
}

function resolveRef(definition: any, node: any): any {
  let cur = node;
  for (let i = 0; cur && typeof cur === 'object' && typeof cur.$ref === 'string' && i < 10; i++) {
    cur = cur.$ref
      .replace(/^#\//, '')
      .split('/')
      .reduce((o: any, k: string) => o?.[k.replace(/~1/g, '/').replace(/~0/g, '~')], definition);
  }
  return cur;
}

function exampleFor(definition: any, operation: any, status?: number): any {
  const responses = operation.responses ?? {};
  const code = status !== undefined ? String(status) : Object.keys(responses).find((c) => c.startsWith('2'));
  if (!code || !responses[code]) return undefined;
  const response = resolveRef(definition, responses[code]);
  const media = response?.content?.['application/json'];
  if (!media) return undefined;
  if (media.example !== undefined) return structuredClone(media.example);
  const first = Object.values(media.examples ?? {})[0];
  const value = resolveRef(definition, first)?.value;
  return value === undefined ? undefined : structuredClone(value);
}

// ---------------------------------------------------------------------------------------------
// GitHub-shaped bodies

const DOC = 'https://docs.github.com/rest';
const ERROR_MESSAGES: Record<number, string> = {
  400: 'Problems parsing JSON',
  401: 'Bad credentials',
  403: 'Forbidden',
  404: 'Not Found',
  422: 'Validation Failed',
  500: 'Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
};

function errorBody(status: number, message = ERROR_MESSAGES[status] ?? 'Error', extra: Record<string, unknown> = {}) {
  return { message, documentation_url: DOC, status: String(status), ...extra };
}

function hexSha(seed: string): string {
  let h = 0x811c9dc5;
  let out = '';
  for (let round = 0; out.length < 40; round++) {
    for (const ch of `${seed}:${round}`) h = Math.imul(h ^ ch.charCodeAt(0), 0x01000193) >>> 0;
    out += h.toString(16).padStart(8, '0');
  }
  return out.slice(0, 40);
}

function labelObject(name: string, i: number, repoUrl: string) {
  return {
    id: 1000 + i,
    node_id: `LA_kwDO${Buffer.from(name).toString('base64url')}`,
    url: `${repoUrl}/labels/${encodeURIComponent(name)}`,
    name,
    description: null,
    color: 'ededed',
    default: false,
  };
}

// ---------------------------------------------------------------------------------------------

function buildState(seed: GithubSeed): GithubState {
  const [owner, repo] = (seed.repo ?? 'acme/app').split('/');
  const now = new Date('2026-01-01T00:00:00Z').toISOString();
  const pulls: LivePull[] = (seed.pulls ?? []).map((p) => ({
    number: p.number,
    title: p.title ?? `PR ${p.number}`,
    body: p.body ?? null,
    head: p.head,
    headSha: p.headSha ?? hexSha(`${p.head}#${p.number}`),
    base: p.base ?? seed.defaultBranch ?? 'main',
    state: p.state ?? 'open',
    draft: p.draft ?? false,
    merged: p.merged ?? false,
    user: p.user ?? 'octocat',
    labels: [...(p.labels ?? [])],
    files: (p.files ?? []).map((f) => (typeof f === 'string' ? { filename: f } : f)),
    node_id: `PR_kwDOdouble${String(p.number).padStart(4, '0')}`,
    created_at: now,
    autoMerge: null,
  }));
  const issues: LiveIssue[] = (seed.issues ?? []).map((i) => ({
    number: i.number,
    title: i.title,
    body: i.body ?? null,
    state: i.state ?? 'open',
    labels: [...(i.labels ?? [])],
    created_at: now,
    comments: [],
  }));
  let maxNumber = Math.max(0, ...pulls.map((p) => p.number), ...issues.map((i) => i.number));
  const checks: GithubState['checks'] = {};
  for (const [ref, c] of Object.entries(seed.checks ?? {})) checks[ref] = { statuses: c.statuses ?? [], checkRuns: c.checkRuns ?? [] };
  const workflowRuns = (seed.workflowRuns ?? []).map((r, i) => ({
    id: r.id ?? 30433642 + i,
    name: r.name ?? 'healthcheck',
    branch: r.branch,
    sha: r.sha ?? pulls.find((p) => p.head === r.branch)?.headSha ?? hexSha(`run:${r.branch}:${i}`),
    event: r.event ?? 'push',
    status: r.status ?? 'completed',
    conclusion: r.conclusion === undefined ? ((r.status ?? 'completed') === 'completed' ? 'success' : null) : r.conclusion,
    created_at: r.created_at ?? new Date(Date.parse(now) + i * 60_000).toISOString(),
  }));
  const state: GithubState = {
    owner,
    repo,
    defaultBranch: seed.defaultBranch ?? 'main',
    allowAutoMerge: seed.allowAutoMerge ?? true,
    pulls,
    issues,
    checks,
    workflowRuns,
    nextNumber: () => ++maxNumber,
    checksFor(ref) {
      const name = ref.replace(/^refs\/heads\//, '').replace(/^heads\//, '');
      const pull = pulls.find((p) => p.headSha === ref || p.head === name);
      const sha = /^[0-9a-f]{40}$/.test(ref) ? ref : (pull?.headSha ?? hexSha(`ref:${name}`));
      const entry = checks[ref] ?? checks[name] ?? checks[sha] ?? (pull ? (checks[pull.head] ?? checks[pull.headSha]) : undefined);
      return { sha, statuses: entry?.statuses ?? [], checkRuns: entry?.checkRuns ?? [] };
    },
  };
  return state;
}

/** One page of `items` and GitHub's `link` header for the others (what Octokit's paginate follows). */
function paginate<T>(items: T[], ctx: HandlerContext): { items: T[]; headers: Record<string, string> } {
  const perPage = Math.min(100, Number(ctx.query.per_page ?? 30));
  const page = Number(ctx.query.page ?? 1);
  const last = Math.max(1, Math.ceil(items.length / perPage));
  const link = (n: number, rel: string) => {
    const u = new URL(ctx.url);
    u.searchParams.set('per_page', String(perPage));
    u.searchParams.set('page', String(n));
    return `<${u.href}>; rel="${rel}"`;
  };
  const rels = [
    ...(page < last ? [link(page + 1, 'next'), link(last, 'last')] : []),
    ...(page > 1 ? [link(1, 'first'), link(page - 1, 'prev')] : []),
  ];
  return { items: items.slice((page - 1) * perPage, page * perPage), headers: rels.length ? { link: rels.join(', ') } : {} };
}

function makeHandlers(baseUrl: string): Record<string, OperationHandler> {
  const repoApi = (s: GithubState) => `${baseUrl}/repos/${s.owner}/${s.repo}`;
  const repoHtml = (s: GithubState) => `https://github.com/${s.owner}/${s.repo}`;

  const userObject = (login: string, base: any) => ({
    ...base,
    login,
    url: `${baseUrl}/users/${login}`,
    html_url: `https://github.com/${login}`,
  });

  const repoObject = (s: GithubState, base: any) => ({
    ...base,
    name: s.repo,
    full_name: `${s.owner}/${s.repo}`,
    owner: userObject(s.owner, base?.owner ?? {}),
    html_url: repoHtml(s),
    url: repoApi(s),
    default_branch: s.defaultBranch,
    private: false,
    ...(base && 'allow_auto_merge' in base ? { allow_auto_merge: s.allowAutoMerge } : {}),
  });

  const pullObject = (s: GithubState, p: LivePull, base: any) => {
    const out = {
      ...base,
      url: `${repoApi(s)}/pulls/${p.number}`,
      id: 1_000_000 + p.number,
      node_id: p.node_id,
      html_url: `${repoHtml(s)}/pull/${p.number}`,
      diff_url: `${repoHtml(s)}/pull/${p.number}.diff`,
      patch_url: `${repoHtml(s)}/pull/${p.number}.patch`,
      issue_url: `${repoApi(s)}/issues/${p.number}`,
      commits_url: `${repoApi(s)}/pulls/${p.number}/commits`,
      review_comments_url: `${repoApi(s)}/pulls/${p.number}/comments`,
      comments_url: `${repoApi(s)}/issues/${p.number}/comments`,
      statuses_url: `${repoApi(s)}/statuses/${p.headSha}`,
      number: p.number,
      state: p.state,
      locked: false,
      title: p.title,
      body: p.body,
      user: userObject(p.user, base.user),
      labels: p.labels.map((l, i) => labelObject(l, i, repoApi(s))),
      draft: p.draft,
      created_at: p.created_at,
      updated_at: p.created_at,
      closed_at: p.state === 'closed' ? p.created_at : null,
      merged_at: p.merged ? p.created_at : null,
      merge_commit_sha: null,
      assignee: null,
      assignees: [],
      requested_reviewers: [],
      requested_teams: [],
      milestone: null,
      auto_merge: p.autoMerge
        ? {
            enabled_by: userObject('octocat', base.user),
            merge_method: p.autoMerge.mergeMethod.toLowerCase(),
            commit_title: p.title,
            commit_message: '',
          }
        : null,
      head: {
        ...base.head,
        label: `${s.owner}:${p.head}`,
        ref: p.head,
        sha: p.headSha,
        user: userObject(s.owner, base.head.user),
        repo: repoObject(s, base.head.repo),
      },
      base: {
        ...base.base,
        label: `${s.owner}:${p.base}`,
        ref: p.base,
        sha: hexSha(`base:${p.base}`),
        user: userObject(s.owner, base.base.user),
        repo: repoObject(s, base.base.repo),
      },
      _links: base._links,
    };
    if ('merged' in base) {
      Object.assign(out, {
        merged: p.merged,
        mergeable: p.state === 'open' ? true : null,
        mergeable_state: 'clean',
        changed_files: p.files.length,
        additions: p.files.reduce((n, f) => n + (f.additions ?? 1), 0),
        deletions: p.files.reduce((n, f) => n + (f.deletions ?? 0), 0),
        commits: 1,
      });
    }
    return out;
  };

  const issueObject = (s: GithubState, i: LiveIssue, base: any) => ({
    ...base,
    id: 2_000_000 + i.number,
    node_id: `I_kwDOdouble${String(i.number).padStart(4, '0')}`,
    url: `${repoApi(s)}/issues/${i.number}`,
    repository_url: repoApi(s),
    labels_url: `${repoApi(s)}/issues/${i.number}/labels{/name}`,
    comments_url: `${repoApi(s)}/issues/${i.number}/comments`,
    events_url: `${repoApi(s)}/issues/${i.number}/events`,
    html_url: `${repoHtml(s)}/issues/${i.number}`,
    number: i.number,
    state: i.state,
    title: i.title,
    body: i.body,
    labels: i.labels.map((l, n) => labelObject(l, n, repoApi(s))),
    comments: i.comments.length,
    created_at: i.created_at,
    updated_at: i.created_at,
    closed_at: null,
    assignee: null,
    assignees: [],
    milestone: null,
    pull_request: undefined,
  });

  const findPull = (s: GithubState, n: string | number) => s.pulls.find((p) => p.number === Number(n));
  const findIssue = (s: GithubState, n: string | number) => s.issues.find((i) => i.number === Number(n));
  const checkRepo = (ctx: HandlerContext): HandlerResult | undefined =>
    ctx.params.owner === ctx.state.owner && ctx.params.repo === ctx.state.repo ? undefined : ctx.error(404, 'Not Found');

  const labelsToNames = (labels: any): string[] =>
    (Array.isArray(labels) ? labels : (labels?.labels ?? [])).map((l: any) => (typeof l === 'string' ? l : l.name));

  return {
    'meta/root': (ctx) => ({ status: 200, body: ctx.example() ?? {} }),
    'rate-limit/get': (ctx) => ({ status: 200, body: ctx.example() }),
    'repos/get': (ctx) => checkRepo(ctx) ?? { status: 200, body: repoObject(ctx.state, ctx.example()) },

    'pulls/list': (ctx) => {
      const bad = checkRepo(ctx);
      if (bad) return bad;
      const { state = 'open', head, base } = ctx.query;
      let list = ctx.state.pulls.filter((p) => state === 'all' || p.state === state);
      if (head) {
        const [owner, ref] = String(head).includes(':') ? String(head).split(':') : [ctx.state.owner, String(head)];
        list = list.filter((p) => owner === ctx.state.owner && p.head === ref);
      }
      if (base) list = list.filter((p) => p.base === base);
      const template = ctx.example()[0];
      const pg = paginate(list, ctx);
      return { status: 200, body: pg.items.map((p) => pullObject(ctx.state, p, template)), headers: pg.headers };
    },
    'pulls/get': (ctx) => {
      const bad = checkRepo(ctx);
      if (bad) return bad;
      const p = findPull(ctx.state, ctx.params.pull_number);
      return p ? { status: 200, body: pullObject(ctx.state, p, ctx.example()) } : ctx.error(404, 'Not Found');
    },
    'pulls/list-files': (ctx) => {
      const bad = checkRepo(ctx);
      if (bad) return bad;
      const p = findPull(ctx.state, ctx.params.pull_number);
      if (!p) return ctx.error(404, 'Not Found');
      const template = ctx.example()[0];
      const files = p.files.map((f) => ({
        ...template,
        sha: hexSha(`file:${f.filename}`),
        filename: f.filename,
        status: f.status ?? 'modified',
        additions: f.additions ?? 1,
        deletions: f.deletions ?? 0,
        changes: (f.additions ?? 1) + (f.deletions ?? 0),
        ...(f.previous_filename ? { previous_filename: f.previous_filename } : {}),
        blob_url: `${repoHtml(ctx.state)}/blob/${p.headSha}/${f.filename}`,
        raw_url: `${repoHtml(ctx.state)}/raw/${p.headSha}/${f.filename}`,
        contents_url: `${repoApi(ctx.state)}/contents/${f.filename}?ref=${p.headSha}`,
      }));
      const pg = paginate(files, ctx);
      return { status: 200, body: pg.items, headers: pg.headers };
    },
    'repos/get-combined-status-for-ref': (ctx) => {
      const bad = checkRepo(ctx);
      if (bad) return bad;
      const c = ctx.state.checksFor(ctx.params.ref);
      const ex = ctx.example();
      const template = ex.statuses[0];
      const statuses = c.statuses.map((st, i) => ({
        ...template,
        id: 500 + i,
        node_id: `SC_kwDOdouble${i}`,
        url: `${repoApi(ctx.state)}/statuses/${c.sha}`,
        context: st.context,
        state: st.state,
        description: st.description ?? st.context,
      }));
      const states = statuses.map((st) => st.state);
      // GitHub's combined state: failure if any failure/error, pending if any pending or none, else success.
      const combined = states.some((x) => x === 'failure' || x === 'error')
        ? 'failure'
        : states.length === 0 || states.includes('pending')
          ? 'pending'
          : 'success';
      return {
        status: 200,
        body: {
          ...ex,
          state: combined,
          sha: c.sha,
          total_count: statuses.length,
          statuses,
          repository: repoObject(ctx.state, ex.repository),
          commit_url: `${repoApi(ctx.state)}/commits/${c.sha}`,
          url: `${repoApi(ctx.state)}/commits/${c.sha}/status`,
        },
      };
    },
    'checks/list-for-ref': (ctx) => {
      const bad = checkRepo(ctx);
      if (bad) return bad;
      const c = ctx.state.checksFor(ctx.params.ref);
      const ex = ctx.example();
      const template = ex.check_runs[0];
      let runs = c.checkRuns.map((r, i) => {
        const status = r.status ?? 'completed';
        return {
          ...template,
          id: 4000 + i,
          node_id: `CR_kwDOdouble${i}`,
          head_sha: c.sha,
          name: r.name,
          status,
          conclusion: status === 'completed' ? (r.conclusion ?? 'success') : null,
          completed_at: status === 'completed' ? '2026-01-01T00:05:00Z' : null,
          url: `${repoApi(ctx.state)}/check-runs/${4000 + i}`,
          html_url: `${repoHtml(ctx.state)}/runs/${4000 + i}`,
          pull_requests: [],
        };
      });
      if (ctx.query.check_name) runs = runs.filter((r) => r.name === ctx.query.check_name);
      if (ctx.query.status) runs = runs.filter((r) => r.status === ctx.query.status);
      const pg = paginate(runs, ctx);
      return { status: 200, body: { total_count: runs.length, check_runs: pg.items }, headers: pg.headers };
    },
    'actions/list-workflow-runs-for-repo': (ctx) => {
      const bad = checkRepo(ctx);
      if (bad) return bad;
      const ex = ctx.example();
      const template = ex.workflow_runs[0];
      let runs = [...ctx.state.workflowRuns].sort((a, b) => b.created_at.localeCompare(a.created_at));
      if (ctx.query.branch) runs = runs.filter((r) => r.branch === ctx.query.branch);
      if (ctx.query.event) runs = runs.filter((r) => r.event === ctx.query.event);
      if (ctx.query.head_sha) runs = runs.filter((r) => r.sha === ctx.query.head_sha);
      if (ctx.query.status) runs = runs.filter((r) => r.status === ctx.query.status || r.conclusion === ctx.query.status);
      const body = runs.map((r) => ({
        ...template,
        id: r.id,
        name: r.name,
        display_title: r.name,
        head_branch: r.branch,
        head_sha: r.sha,
        event: r.event,
        status: r.status,
        conclusion: r.conclusion,
        created_at: r.created_at,
        updated_at: r.created_at,
        run_started_at: r.created_at,
        url: `${repoApi(ctx.state)}/actions/runs/${r.id}`,
        html_url: `${repoHtml(ctx.state)}/actions/runs/${r.id}`,
        repository: repoObject(ctx.state, template.repository),
        head_repository: repoObject(ctx.state, template.head_repository),
        pull_requests: [],
      }));
      const pg = paginate(body, ctx);
      return { status: 200, body: { total_count: body.length, workflow_runs: pg.items }, headers: pg.headers };
    },

    'issues/list-for-repo': (ctx) => {
      const bad = checkRepo(ctx);
      if (bad) return bad;
      const { state = 'open', labels } = ctx.query;
      let list = ctx.state.issues.filter((i) => state === 'all' || i.state === state);
      if (labels) {
        const want = String(labels)
          .split(',')
          .map((l) => l.trim());
        list = list.filter((i) => want.every((l) => i.labels.includes(l)));
      }
      const template = ctx.example()[0];
      const pg = paginate([...list].reverse(), ctx);
      return { status: 200, body: pg.items.map((i) => issueObject(ctx.state, i, template)), headers: pg.headers };
    },
    'issues/get': (ctx) => {
      const bad = checkRepo(ctx);
      if (bad) return bad;
      const i = findIssue(ctx.state, ctx.params.issue_number);
      return i ? { status: 200, body: issueObject(ctx.state, i, ctx.example()) } : ctx.error(404, 'Not Found');
    },
    'issues/create': (ctx) => {
      const bad = checkRepo(ctx);
      if (bad) return bad;
      const b = ctx.body;
      const issue: LiveIssue = {
        number: ctx.state.nextNumber(),
        title: String(b.title),
        body: b.body ?? null,
        state: 'open',
        labels: labelsToNames(b.labels ?? []),
        created_at: new Date().toISOString(),
        comments: [],
      };
      ctx.state.issues.push(issue);
      return {
        status: 201,
        body: issueObject(ctx.state, issue, ctx.example()),
        headers: { location: `${repoApi(ctx.state)}/issues/${issue.number}` },
      };
    },
    'issues/update': (ctx) => {
      const bad = checkRepo(ctx);
      if (bad) return bad;
      const i = findIssue(ctx.state, ctx.params.issue_number);
      if (!i) return ctx.error(404, 'Not Found');
      if (ctx.body.title !== undefined) i.title = String(ctx.body.title);
      if (ctx.body.body !== undefined) i.body = ctx.body.body;
      if (ctx.body.state === 'open' || ctx.body.state === 'closed') i.state = ctx.body.state;
      if (ctx.body.labels !== undefined) i.labels = labelsToNames(ctx.body.labels);
      return { status: 200, body: issueObject(ctx.state, i, ctx.example()) };
    },
    'issues/create-comment': (ctx) => {
      const bad = checkRepo(ctx);
      if (bad) return bad;
      const i = findIssue(ctx.state, ctx.params.issue_number) ?? findPull(ctx.state, ctx.params.issue_number);
      if (!i) return ctx.error(404, 'Not Found');
      const comment = { id: 9000 + Math.floor(Math.random() * 1e6), body: String(ctx.body.body), created_at: new Date().toISOString() };
      if ('comments' in i) i.comments.push(comment);
      const ex = ctx.example();
      return {
        status: 201,
        body: {
          ...ex,
          id: comment.id,
          body: comment.body,
          created_at: comment.created_at,
          updated_at: comment.created_at,
          issue_url: `${repoApi(ctx.state)}/issues/${ctx.params.issue_number}`,
          html_url: `${repoHtml(ctx.state)}/issues/${ctx.params.issue_number}#issuecomment-${comment.id}`,
        },
      };
    },
    'issues/add-labels': (ctx) => {
      const bad = checkRepo(ctx);
      if (bad) return bad;
      const target = findIssue(ctx.state, ctx.params.issue_number) ?? findPull(ctx.state, ctx.params.issue_number);
      if (!target) return ctx.error(404, 'Not Found');
      for (const name of labelsToNames(ctx.body)) if (!target.labels.includes(name)) target.labels.push(name);
      return { status: 200, body: target.labels.map((l, i) => labelObject(l, i, repoApi(ctx.state))) };
    },
  };
}

// ---------------------------------------------------------------------------------------------
// GraphQL (POST /graphql): validated against GitHub's published schema, executed on the state.

async function handleGraphql(state: GithubState, payload: any): Promise<{ status: number; body: unknown; unexpected?: string }> {
  const graphql = await import('graphql');
  const schema = await loadGraphqlSchema();
  if (!payload || typeof payload.query !== 'string') {
    return { status: 400, body: errorBody(400, 'Problems parsing JSON'), unexpected: 'GraphQL request without a query string' };
  }
  let document;
  try {
    document = graphql.parse(payload.query);
  } catch (err) {
    return {
      status: 200,
      body: { errors: [{ message: (err as Error).message }] },
      unexpected: `GraphQL syntax error: ${(err as Error).message}`,
    };
  }
  const problems = graphql.validate(schema, document);
  if (problems.length) {
    const msgs = problems.map((p) => p.message);
    return {
      status: 200,
      body: { errors: msgs.map((message) => ({ message })) },
      unexpected: `GraphQL request invalid against GitHub's schema: ${msgs.join('; ')}`,
    };
  }
  const findByNodeId = (id: string) => state.pulls.find((p) => p.node_id === id);
  const pullNode = (p: LivePull) => ({
    id: p.node_id,
    number: p.number,
    title: p.title,
    state: p.merged ? 'MERGED' : p.state === 'open' ? 'OPEN' : 'CLOSED',
    isDraft: p.draft,
    headRefName: p.head,
    headRefOid: p.headSha,
    baseRefName: p.base,
    url: `https://github.com/${state.owner}/${state.repo}/pull/${p.number}`,
    autoMergeRequest: p.autoMerge ? { enabledAt: p.autoMerge.enabledAt, mergeMethod: p.autoMerge.mergeMethod } : null,
  });
  class NotFound extends Error {
    type = 'NOT_FOUND';
  }
  class Unprocessable extends Error {
    type = 'UNPROCESSABLE';
  }
  const rootValue = {
    repository: ({ owner, name }: { owner: string; name: string }) => {
      if (owner !== state.owner || name !== state.repo)
        throw new NotFound(`Could not resolve to a Repository with the name '${owner}/${name}'.`);
      return {
        id: 'R_kgDOdouble',
        name: state.repo,
        nameWithOwner: `${state.owner}/${state.repo}`,
        autoMergeAllowed: state.allowAutoMerge,
        pullRequest: ({ number }: { number: number }) => {
          const p = state.pulls.find((x) => x.number === number);
          if (!p) throw new NotFound(`Could not resolve to a PullRequest with the number of ${number}.`);
          return pullNode(p);
        },
      };
    },
    enablePullRequestAutoMerge: ({ input }: { input: { pullRequestId: string; mergeMethod?: string; clientMutationId?: string } }) => {
      const p = findByNodeId(input.pullRequestId);
      if (!p) throw new NotFound(`Could not resolve to a node with the global id of '${input.pullRequestId}'`);
      if (!state.allowAutoMerge) throw new Unprocessable('Auto merge is not allowed for this repository');
      if (p.state !== 'open') throw new Unprocessable('Pull request is not in the correct state to enable auto-merge');
      p.autoMerge = { enabledAt: new Date().toISOString(), mergeMethod: input.mergeMethod ?? 'MERGE' };
      return { clientMutationId: input.clientMutationId ?? null, pullRequest: pullNode(p) };
    },
  };
  const result = await graphql.execute({ schema, document, rootValue, variableValues: payload.variables ?? {} });
  const errors = result.errors?.map((e) => ({
    type: (e.originalError as any)?.type,
    path: e.path,
    locations: e.locations,
    message: e.message,
  }));
  // Variable coercion problems come back as errors without data: the request itself was wrong.
  const unexpected =
    result.errors && result.data === undefined ? `GraphQL variables invalid: ${result.errors.map((e) => e.message).join('; ')}` : undefined;
  return { status: 200, body: { ...(result.data !== undefined ? { data: result.data } : {}), ...(errors ? { errors } : {}) }, unexpected };
}

// ---------------------------------------------------------------------------------------------

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function matchesRule(rule: FaultRule, method: string, path: string, operationId: string | null): boolean {
  if (rule.operationId !== undefined && rule.operationId !== operationId) return false;
  if (rule.method !== undefined && rule.method.toUpperCase() !== method) return false;
  if (rule.path !== undefined && !(typeof rule.path === 'string' ? rule.path === path : rule.path.test(path))) return false;
  return true;
}

export async function startGithubDouble(seed: GithubSeed = {}): Promise<GithubDouble> {
  const { api, definition } = await loadGithubDescription();
  const token = seed.token ?? 'ghp_doubleTestToken0000000000000000000000';
  const state = buildState(seed);
  const requests: RecordedRequest[] = [];
  const faults: Array<FaultRule & { fired: number }> = [];
  const custom = new Map<string, OperationHandler>();
  let handlers: Record<string, OperationHandler> = {};
  let remaining = 5000;
  const resetAt = Math.floor(Date.now() / 1000) + 3600;

  const rateHeaders = (extra: Record<string, string> = {}) => ({
    'x-ratelimit-limit': '5000',
    'x-ratelimit-remaining': String(remaining),
    'x-ratelimit-reset': String(resetAt),
    'x-ratelimit-used': String(5000 - remaining),
    'x-ratelimit-resource': 'core',
    'x-github-media-type': 'github.v3; format=json',
    'x-github-api-version-selected': '2022-11-28',
    'x-github-request-id': `D0UB:${requests.length.toString(16).toUpperCase()}:${Date.now().toString(16).toUpperCase()}`,
    ...extra,
  });

  const send = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    const text = body === undefined ? '' : JSON.stringify(body);
    res.writeHead(status, {
      ...(text ? { 'content-type': 'application/json; charset=utf-8' } : {}),
      ...rateHeaders(),
      ...headers,
    });
    res.end(text);
  };

  const server: Server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://double');
    const method = (req.method ?? 'GET').toUpperCase();
    const query: Record<string, string | string[]> = {};
    for (const [k, v] of url.searchParams) query[k] = k in query ? ([] as string[]).concat(query[k], v) : v;
    const raw = await readBody(req);
    const auth = String(req.headers.authorization ?? '');
    const authenticated = auth === `token ${token}` || auth === `Bearer ${token}`;
    const record: RecordedRequest = { method, path: url.pathname, query, body: undefined, operationId: null, status: 0, authenticated };
    requests.push(record);
    try {
      let body: unknown;
      if (raw) {
        try {
          body = JSON.parse(raw);
        } catch {
          record.unexpected = 'request body is not JSON';
          record.status = 400;
          return send(res, 400, errorBody(400));
        }
      }
      record.body = body;

      if (url.pathname === '/graphql' && method === 'POST') {
        record.operationId = 'graphql';
        record.graphql = { query: String((body as any)?.query ?? ''), variables: (body as any)?.variables ?? {} };
      } else {
        const oreq = { method, path: url.pathname, query, headers: req.headers as Record<string, string>, body };
        const operation = api.matchOperation(oreq);
        if (!operation) {
          record.unexpected = `${method} ${url.pathname} is not an endpoint of api.github.com (per @octokit/openapi)`;
          record.status = 404;
          return send(res, 404, errorBody(404));
        }
        record.operationId = operation.operationId ?? null;
        const validation = api.validateRequest(oreq, operation);
        if (!validation.valid) {
          const errors = (validation.errors ?? []).map(
            (e) => `${e.instancePath || '(root)'} ${e.message}${e.params ? ` ${JSON.stringify(e.params)}` : ''}`,
          );
          record.unexpected = `${operation.operationId}: request does not match the description: ${errors.join('; ')}`;
          record.status = 422;
          return send(res, 422, errorBody(422, 'Validation Failed', { errors: errors.map((message) => ({ code: 'invalid', message })) }));
        }
      }

      if (!authenticated) {
        record.status = 401;
        return send(res, 401, errorBody(401, 'Bad credentials'));
      }

      const fault = faults.find((f) => f.fired < (f.times ?? Infinity) && matchesRule(f, method, url.pathname, record.operationId));
      if (fault) {
        fault.fired++;
        record.status = fault.status;
        return send(res, fault.status, fault.body === undefined ? errorBody(fault.status) : fault.body, fault.headers);
      }
      remaining = Math.max(0, remaining - 1);

      if (record.operationId === 'graphql') {
        const out = await handleGraphql(state, body);
        record.status = out.status;
        if (out.unexpected) record.unexpected = out.unexpected;
        return send(res, out.status, out.body);
      }

      const operation = api.getOperation(record.operationId!)!;
      const handler = custom.get(record.operationId!) ?? handlers[record.operationId!];
      if (!handler) {
        record.unexpected = `${record.operationId} (${method} ${url.pathname}) is valid but not implemented by the GitHub double; add it with double.on('${record.operationId}', …)`;
        record.status = 501;
        return send(res, 501, errorBody(501, 'Not implemented by the GitHub double'));
      }
      const params = (api.router.parseRequest({ method, path: url.pathname, query, headers: req.headers as any, body }, operation).params ??
        {}) as Record<string, string>;
      const hctx: HandlerContext = {
        state,
        url: `${double.url}${req.url ?? '/'}`,
        params,
        query: Object.fromEntries(Object.entries(query).map(([k, v]) => [k, v])),
        body,
        example: (status) => exampleFor(definition, operation, status),
        error: (status, message, extra) => ({ status, body: errorBody(status, message, extra) }),
      };
      const out = await handler(hctx);
      record.status = out.status;
      if (out.status < 400 && out.body !== undefined) {
        const check = api.validateResponse(out.body, operation, out.status);
        if (check.errors?.length) {
          record.unexpected = `the double's ${record.operationId} response does not match the description: ${check.errors
            .slice(0, 5)
            .map((e) => `${e.instancePath} ${e.message}`)
            .join('; ')}`;
        }
      }
      return send(res, out.status, out.body, out.headers);
    } catch (err) {
      record.unexpected = `GitHub double crashed: ${(err as Error).stack ?? err}`;
      record.status = 500;
      return send(res, 500, errorBody(500));
    }
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  handlers = makeHandlers(url);

  const double: GithubDouble = {
    url,
    token,
    env: { GITHUB_API_URL: url, GITHUB_TOKEN: token, GITHUB_REPOSITORY: `${state.owner}/${state.repo}` },
    state,
    requests,
    requestsFor: (operationId) => requests.filter((r) => r.operationId === operationId),
    fail(rule) {
      const armed = { ...rule, fired: 0 };
      faults.push(armed);
      return armed;
    },
    rateLimit(rule) {
      return double.fail({
        ...rule,
        status: 403,
        body: errorBody(
          403,
          `API rate limit exceeded for user ID 1. If you reach out to GitHub Support for help, please include the request ID.`,
          { documentation_url: 'https://docs.github.com/rest/overview/resources-in-the-rest-api#rate-limiting' },
        ),
        headers: { 'x-ratelimit-remaining': '0', 'x-ratelimit-used': '5000' },
      });
    },
    on(operationId, handler) {
      custom.set(operationId, handler);
    },
    assertNoUnexpected() {
      const problems = requests.filter((r) => r.unexpected).map((r) => `${r.method} ${r.path} → ${r.status}: ${r.unexpected}`);
      for (const f of faults) {
        if (f.fired === 0)
          problems.push(`armed fault never fired: ${JSON.stringify({ ...f, path: f.path?.toString(), fired: undefined })}`);
      }
      if (problems.length) throw new Error(`GitHub double saw ${problems.length} unexpected thing(s):\n  ${problems.join('\n  ')}`);
    },
    resetRequests() {
      requests.length = 0;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  return double;
}
