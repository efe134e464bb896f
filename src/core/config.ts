import { join } from 'node:path';
import { readTextIfExists } from './fs.js';
import { UsageError } from './errors.js';
import type { VpmConfig } from '../schemas/config.js';

const CONFIG_FILES = ['vpm.config.yaml', 'vpm.config.yml', 'vpm.config.json'] as const;

/** `VPM_*` environment variables and the config path each one overrides. */
const ENV_OVERRIDES: Array<[env: string, path: string[]]> = [
  ['VPM_TEST_COMMAND', ['test', 'command']],
  ['VPM_SUMMARY_PROVIDER', ['summary', 'provider']],
  ['VPM_SUMMARY_MAX_ENTRIES', ['summary', 'max_entries']],
  ['VPM_LLM_BASE_URL', ['summary', 'base_url']],
  ['VPM_LLM_MODEL', ['summary', 'model']],
  ['VPM_LLM_TIMEOUT_MS', ['summary', 'timeout_ms']],
  ['VPM_CONTEXT', ['kube', 'context']],
  ['VPM_NAMESPACE', ['kube', 'namespace']],
  ['VPM_PROMETHEUS_URL', ['canary', 'prometheus_url']],
  ['VPM_INGRESS_URL', ['ingress', 'url']],
  ['VPM_PROMETHEUS_SCRAPE_INTERVAL', ['canary', 'prometheus_scrape_interval']],
  ['VPM_GITHUB_REPO', ['github', 'repo']],
  ['VPM_FAILOVER_SOCKET', ['failover', 'socket']],
];

function setPath(obj: Record<string, unknown>, path: string[], value: unknown): void {
  let cur = obj;
  for (const key of path.slice(0, -1)) {
    if (typeof cur[key] !== 'object' || cur[key] === null) cur[key] = {};
    cur = cur[key] as Record<string, unknown>;
  }
  cur[path[path.length - 1]] = value;
}

/**
 * Loads and validates the repo's config, applying `VPM_*` overrides on top (flags are applied by
 * each command on top of this). Throws a UsageError listing every problem with its dot path.
 */
export async function loadConfig(cwd: string, env: NodeJS.ProcessEnv = process.env): Promise<VpmConfig> {
  let raw: unknown = {};
  let source = '(defaults)';
  for (const name of CONFIG_FILES) {
    const text = readTextIfExists(join(cwd, name));
    if (text === undefined) continue;
    source = name;
    try {
      raw = name.endsWith('.json') ? JSON.parse(text) : (await import('yaml')).parse(text, { logLevel: 'error' });
    } catch (err) {
      throw new UsageError(`${name} is not valid ${name.endsWith('.json') ? 'JSON' : 'YAML'}: ${(err as Error).message}`, {
        hint: `fix the syntax of ${name}`,
      });
    }
    raw ??= {};
    break;
  }
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    throw new UsageError(`${source} must hold a mapping at its top level`);
  }
  const merged = structuredClone(raw) as Record<string, unknown>;
  /** Dot path → the variable that set it, so a bad value is blamed on the variable, not the file. */
  const fromEnv = new Map<string, string>();
  for (const [name, path] of ENV_OVERRIDES) {
    const value = env[name];
    if (value === undefined || value === '') continue;
    setPath(merged, path, /^\d+$/.test(value) && !path.includes('command') ? Number(value) : value);
    fromEnv.set(path.join('.'), name);
  }
  const [{ ConfigSchema }, { formatZodIssues }] = await Promise.all([import('../schemas/config.js'), import('./zod-issues.js')]);
  const parsed = ConfigSchema.safeParse(merged);
  if (!parsed.success) {
    const lines = formatZodIssues(parsed.error).map((line, i) => {
      const variable = fromEnv.get(parsed.error.issues[i].path.map(String).join('.'));
      return variable ? `${variable} (${line})` : `${source}: ${line}`;
    });
    const blamed = [...new Set(parsed.error.issues.map((i) => fromEnv.get(i.path.map(String).join('.')) ?? source))];
    throw new UsageError(`invalid configuration:\n  ${lines.join('\n  ')}`, {
      hint: `fix ${blamed.join(' and ')}`,
      details: { source, issues: parsed.error.issues },
    });
  }
  return parsed.data;
}
