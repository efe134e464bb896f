/**
 * `vpm init`: prepares a repository for vpm — a starter STATE/current_state.md, .gitignore entries
 * for vpm's runtime state, a commented vpm.config.yaml and codex/inbox/. Idempotent: what exists is
 * kept as it is (a .gitignore only gains the entries it lacks).
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { RUNTIME_STATE_IGNORES } from './runtime-state.js';

export interface InitResult {
  root: string;
  created: string[];
  updated: string[];
  kept: string[];
}

const GITIGNORE_HEADER = '# vpm runtime state (added by vpm init)';

function starterState(now: Date): string {
  return `---
phase: "S0"
updated_at: "${now.toISOString()}"
---

# Current state

## C

Where the project stands now, in a few sentences.

## G

- G-1: The first goal (a report that names G-1 counts as its evidence)

## δ

Direction and distance: what comes next, and how far the goals are.
`;
}

const STARTER_CONFIG = `# vpm configuration. Every key is optional; values shown are the defaults.
# Precedence: command-line flag > VPM_* environment variable > this file > default.

# test:
#   command: npm test            # run by vpm healthcheck and after vpm rollback (no shell)

# summary:
#   provider: extractive         # or openai (VPM_LLM_BASE_URL, VPM_LLM_MODEL, VPM_LLM_API_KEY)
#   max_entries: 500

# execution_policy:              # what vpm run --exec may execute
#   default_action: deny
#   allowlist: ["git status", "npm test"]
#   deny_if_contains: ["git push"]
#   stop_on_deny: true

# kube:
#   context: kind-vpm-mini
#   namespace: default

# canary:
#   steps: [10, 50, 100]
#   interval: 10s
#   provider: probe              # or prometheus (prometheus_url: http://127.0.0.1:9090)

# github:
#   repo: owner/name             # else $GITHUB_REPOSITORY or the github.com remote

# failover:
#   socket: /run/haproxy/admin.sock
#   backend: edge
#   from: a
#   to: b
`;

async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

async function createIfMissing(root: string, rel: string, content: string, result: InitResult): Promise<void> {
  const path = join(root, rel);
  if ((await readIfExists(path)) !== undefined) {
    result.kept.push(rel);
    return;
  }
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, content, { flag: 'wx' });
  result.created.push(rel);
}

/**
 * Where the deploy freeze flag lives: `local` (default) keeps `.ops/` ignored, so a freeze holds in this
 * checkout only (and, with a fleet configured, on the clusters, which every checkout reads); `committed`
 * ignores the rest of `.ops/` but not `.ops/deploy_freeze.json`, so a freeze travels with the repository —
 * at the price of a commit (and a push) for every freeze on/off, and of merge conflicts when two people
 * freeze at once.
 */
export type FreezeFileMode = 'local' | 'committed';

const COMMITTED_FREEZE_IGNORES = ['/.ops/*', '!/.ops/deploy_freeze.json'];

/** The .gitignore with vpm's entries it lacks appended (undefined when it has them all). */
function withRuntimeIgnores(existing: string | undefined, freezeFile: FreezeFileMode = 'local'): string | undefined {
  const lines = new Set((existing ?? '').split(/\r?\n/).map((l) => l.trim()));
  const wanted =
    freezeFile === 'committed'
      ? RUNTIME_STATE_IGNORES.flatMap((e) => (e === '/.ops/' ? COMMITTED_FREEZE_IGNORES : [e]))
      : RUNTIME_STATE_IGNORES;
  const missing = wanted.filter((e) => !lines.has(e) && !lines.has(e.replace(/^\//, '')));
  if (missing.length === 0) return undefined;
  const base = existing === undefined || existing === '' ? '' : existing.endsWith('\n') ? `${existing}\n` : `${existing}\n\n`;
  const header = lines.has(GITIGNORE_HEADER) ? '' : `${GITIGNORE_HEADER}\n`;
  return `${base}${header}${missing.join('\n')}\n`;
}

export async function initProject(root: string, now: Date, opts: { freezeFile?: FreezeFileMode } = {}): Promise<InitResult> {
  const result: InitResult = { root, created: [], updated: [], kept: [] };
  await createIfMissing(root, join('STATE', 'current_state.md'), starterState(now), result);
  const hasJsonConfig = (await readIfExists(join(root, 'vpm.config.json'))) !== undefined;
  if (hasJsonConfig) result.kept.push('vpm.config.json');
  else await createIfMissing(root, 'vpm.config.yaml', STARTER_CONFIG, result);
  // An empty directory is invisible to git; the keep file makes the inbox part of the repository.
  await createIfMissing(root, join('codex', 'inbox', '.gitkeep'), '', result);

  const gitignorePath = join(root, '.gitignore');
  const existing = await readIfExists(gitignorePath);
  const next = withRuntimeIgnores(existing, opts.freezeFile);
  if (next === undefined) result.kept.push('.gitignore');
  else {
    await writeFile(gitignorePath, next);
    (existing === undefined ? result.created : result.updated).push('.gitignore');
  }
  return result;
}
