/**
 * The apply lane, the way `kubectl diff / apply --server-side / get` does it: every object is
 * first applied with dryRun=All (that is the diff, and it makes the API server validate everything
 * before anything changes), then applied for real with field manager `vpm`, then read back.
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { isAbsolute, join, relative, resolve } from 'node:path';
import type { KObj, KubeClient } from '../adapters/kube.js';
import { isUnreachable, KubeApiError } from '../adapters/kube.js';
import { OperationalError, UsageError } from '../core/errors.js';

export interface ManifestSource {
  /** Path relative to the repo (what the user named, resolved). */
  manifest: string;
  files: string[];
}

/** A file, a directory of YAML (a kustomization's plain `resources` are honoured), or an overlay name. */
export function resolveManifest(cwd: string, target: string): ManifestSource {
  const candidates = [target, join('infra', 'k8s', 'overlays', target), `${join('infra', 'k8s', 'overlays', target)}.yaml`];
  for (const c of candidates) {
    const abs = isAbsolute(c) ? c : resolve(cwd, c);
    if (!existsSync(abs)) continue;
    if (statSync(abs).isFile()) return { manifest: relative(cwd, abs) || abs, files: [abs] };
    const kustomization = ['kustomization.yaml', 'kustomization.yml'].map((k) => join(abs, k)).find(existsSync);
    if (kustomization) {
      const resources = /resources:\s*\n((?:\s*-\s*.+\n?)+)/.exec(readFileSync(kustomization, 'utf8'))?.[1] ?? '';
      const files = resources
        .split('\n')
        .map((l) => l.replace(/^\s*-\s*/, '').trim())
        .filter(Boolean)
        .map((f) => join(abs, f));
      return { manifest: relative(cwd, abs), files };
    }
    const files = readdirSync(abs)
      .filter((f) => /\.ya?ml$/.test(f))
      .sort()
      .map((f) => join(abs, f));
    if (files.length === 0) throw new UsageError(`${c} holds no YAML files`);
    return { manifest: relative(cwd, abs), files };
  }
  throw new UsageError(`manifest ${target} not found`, { hint: 'pass a file, a directory, or an overlay name under infra/k8s/overlays/' });
}

export async function loadObjects(cwd: string, files: string[]): Promise<KObj[]> {
  const { parseAllDocuments } = await import('yaml');
  const objects: KObj[] = [];
  for (const file of files) {
    const docs = parseAllDocuments(readFileSync(file, 'utf8'));
    docs.forEach((doc, i) => {
      const where = `${relative(cwd, file)}${docs.length > 1 ? ` (document ${i + 1})` : ''}`;
      if (doc.errors.length) throw new UsageError(`${where} is not valid YAML: ${doc.errors[0].message}`);
      let obj: KObj | null;
      try {
        obj = doc.toJS() as KObj | null;
      } catch (err) {
        // e.g. the yaml library's guard against alias bombs ("Excessive alias count …").
        throw new UsageError(`${where} cannot be read: ${(err as Error).message}`, {
          hint: 'write the manifest without YAML aliases that expand it',
        });
      }
      if (obj === null) return;
      // Empty strings count as missing: the API client would refuse them before sending anything.
      const given = (v: unknown) => typeof v === 'string' && v.trim() !== '';
      const missing = ['apiVersion', 'kind'].filter((k) => !given((obj as Record<string, unknown>)[k]));
      if (!given(obj.metadata?.name)) missing.push('metadata.name');
      if (missing.length) throw new UsageError(`${where}: object is missing ${missing.join(', ')}`);
      objects.push(obj);
    });
  }
  if (objects.length === 0) throw new UsageError('the manifest holds no objects');
  return objects;
}

/**
 * `-n` given and an object naming another namespace: refused, as kubectl apply refuses it — else the
 * object lands in its own namespace while vpm reads and records the one `-n` named.
 */
export function assertNamespaceFlagMatches(objects: KObj[], flag: string | undefined): void {
  if (!flag) return;
  const other = objects.find((o) => o.metadata.namespace && o.metadata.namespace !== flag);
  if (other)
    throw new UsageError(
      `${other.kind}/${other.metadata.name} in the manifest is in namespace ${other.metadata.namespace}, not ${flag} (-n)`,
      { hint: `pass -n ${other.metadata.namespace}, or leave -n out: the manifest's namespace is used` },
    );
}

/** Fields the server owns: hidden from diffs and after.yaml noise. */
export function cleanForDiff(obj: KObj | null): unknown {
  if (!obj) return null;
  const { metadata, status: _status, ...rest } = obj;
  const {
    managedFields: _m,
    resourceVersion: _r,
    generation: _g,
    uid: _u,
    creationTimestamp: _c,
    ...meta
  } = metadata as unknown as Record<string, unknown>;
  return { ...rest, metadata: meta };
}

export interface ApplyObjectResult {
  kind: string;
  name: string;
  namespace: string | null;
  action: 'created' | 'configured' | 'unchanged' | 'failed' | 'would-create' | 'would-configure';
  diff: string;
  after?: KObj;
  error?: string;
}

function describe(obj: KObj, ns: string): string {
  return `${obj.kind}/${obj.metadata.name}${(obj.metadata.namespace ?? ns) ? ` in ${obj.metadata.namespace ?? ns}` : ''}`;
}

/**
 * Only an answer about the object itself (400, 404, 409, 422 …) is the manifest's fault. No answer
 * at all, a server error or throttling, and refused credentials are said as what they are.
 */
function rejection(err: unknown, obj: KObj, kube: KubeClient): Error {
  if (!(err instanceof KubeApiError)) return err as Error;
  const what = describe(obj, kube.namespace);
  const detail = { object: `${obj.kind}/${obj.metadata.name}`, context: kube.context };
  if (isUnreachable(err) || err.status === 0) return err;
  if (err.status === 401 || err.status === 403) {
    return new OperationalError(
      `the API server for context ${kube.context} refused ${what}: ${err.message.replace(/^(apply|get) [^:]+: /, '')}`,
      {
        hint: `the context's credentials are ${err.status === 401 ? 'not accepted' : 'not allowed to do this'}: check them with kubectl --context ${kube.context} auth can-i patch ${obj.kind.toLowerCase()}; nothing was applied`,
        details: detail,
      },
    );
  }
  if (err.status === 429 || err.status >= 500) {
    return new OperationalError(
      `the API server for context ${kube.context} could not take ${what}: ${err.message.replace(/^(apply|get) [^:]+: /, '')}`,
      {
        hint: 'the API server had a problem, not the manifest; retry shortly. Nothing was applied',
        retryable: true,
        details: detail,
      },
    );
  }
  return new OperationalError(`${what} was rejected by the API server: ${err.message.replace(/^(apply|get) [^:]+: /, '')}`, {
    hint: 'fix the manifest; nothing was applied',
    details: detail,
  });
}

export async function applyObjects(
  kube: KubeClient,
  objects: KObj[],
  opts: {
    dryRun: boolean;
    log: (line: string) => void;
    /** Sees every object's live and server-merged (dry-run) form before anything is applied; may refuse. */
    vet?: (plan: Array<{ obj: KObj; live: KObj | null; dry: KObj }>) => void;
  },
): Promise<ApplyObjectResult[]> {
  const { stringify } = await import('yaml');
  const { createTwoFilesPatch } = await import('diff');
  // 1. diff: server-side dry-run of every object; any rejection stops everything before a change.
  const planned: Array<{ obj: KObj; live: KObj | null; dry: KObj; diff: string }> = [];
  for (const obj of objects) {
    const ref = { apiVersion: obj.apiVersion, kind: obj.kind, name: obj.metadata.name, namespace: obj.metadata.namespace };
    let live: KObj | null;
    let dry: KObj;
    try {
      live = await kube.get(ref);
      dry = await kube.apply(obj, { dryRun: true });
    } catch (err) {
      const message = err instanceof KubeApiError ? err.message : (err as Error).message;
      opts.log(`[DIFF] ${describe(obj, kube.namespace)}: ${isUnreachable(err) ? 'not sent' : 'rejected'}: ${message}`);
      throw rejection(err, obj, kube);
    }
    const before = live ? stringify(cleanForDiff(live)) : '';
    const after = stringify(cleanForDiff(dry));
    const diff =
      before === after
        ? ''
        : createTwoFilesPatch(`live/${obj.kind}/${obj.metadata.name}`, `merged/${obj.kind}/${obj.metadata.name}`, before, after);
    opts.log(`[DIFF] ${describe(obj, kube.namespace)}: ${live ? (diff ? 'changes' : 'no changes') : 'new object'}`);
    planned.push({ obj, live, dry, diff });
  }
  opts.vet?.(planned);
  // 2. apply (unless dry-run), 3. get.
  const results: ApplyObjectResult[] = [];
  for (const p of planned) {
    const base = { kind: p.obj.kind, name: p.obj.metadata.name, namespace: p.dry.metadata.namespace ?? null, diff: p.diff };
    if (opts.dryRun) {
      results.push({ ...base, action: p.live ? (p.diff ? 'would-configure' : 'unchanged') : 'would-create', after: p.dry });
      continue;
    }
    await kube.apply(p.obj);
    opts.log(
      `[APPLY] ${describe(p.obj, kube.namespace)}: ${p.live ? (p.diff ? 'configured' : 'unchanged') : 'created'} (server-side, field manager vpm)`,
    );
    const after = await kube.get({
      apiVersion: p.obj.apiVersion,
      kind: p.obj.kind,
      name: p.obj.metadata.name,
      namespace: p.obj.metadata.namespace,
    });
    opts.log(`[GET] ${describe(p.obj, kube.namespace)}: resourceVersion ${after?.metadata.resourceVersion ?? '?'}`);
    results.push({ ...base, action: p.live ? (p.diff ? 'configured' : 'unchanged') : 'created', after: after ?? undefined });
  }
  return results;
}
