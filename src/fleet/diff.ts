/**
 * `vpm clusters diff [APP…]`: what a sync would change, before syncing. Per Application:
 *  - Argo CD's own verdict: `status.resources[]` that are not Synced (against the git revision it compared);
 *  - field by field: the app's source path rendered from THIS checkout (`kustomize build` when kustomize is
 *    on PATH, else the plain resources of the kustomization) against the live objects on its destination
 *    cluster, in its destination namespace. Every leaf the manifests set is compared with the live value;
 *    fields only the server or controllers set (status, defaults) are not differences.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { KObj, KubeClient } from '../adapters/kube.js';
import { UsageError } from '../core/errors.js';

export interface FieldChange {
  path: string;
  live: unknown;
  desired: unknown;
}

export interface ResourceDiff {
  resource: string;
  change: 'create' | 'update';
  fields: FieldChange[];
}

export interface AppDiff {
  name: string;
  cluster: string | null;
  path: string | null;
  rendered_with: 'kustomize' | 'plain' | null;
  argocd_out_of_sync: Array<{ resource: string; status: string }>;
  resources: ResourceDiff[];
  differs: boolean;
  error: string | null;
}

const IGNORED_METADATA = new Set(['namespace', 'resourceVersion', 'uid', 'generation', 'creationTimestamp', 'managedFields']);

/** Leaves of `desired` whose live value differs (arrays by index, like a strategic merge would line them up). */
function leafDiff(desired: unknown, live: unknown, path = ''): FieldChange[] {
  if (desired !== null && typeof desired === 'object') {
    const out: FieldChange[] = [];
    const liveObj = live !== null && typeof live === 'object' ? (live as Record<string, unknown>) : undefined;
    if (Array.isArray(desired)) {
      const liveArr = Array.isArray(live) ? live : [];
      if (liveArr.length !== desired.length && desired.every((d) => d === null || typeof d !== 'object'))
        return [{ path, live: live ?? null, desired }];
      desired.forEach((d, i) => out.push(...leafDiff(d, liveArr[i], `${path}[${i}]`)));
      return out;
    }
    for (const [k, v] of Object.entries(desired as Record<string, unknown>)) {
      if (path === 'metadata' && IGNORED_METADATA.has(k)) continue;
      if (path === '' && k === 'status') continue;
      const key = /^[A-Za-z_][\w]*$/.test(k) ? k : `"${k}"`;
      out.push(...leafDiff(v, liveObj?.[k], path ? `${path}.${key}` : key));
    }
    return out;
  }
  // Kubernetes normalises numbers and strings in places (ports, quantities): compare as text.
  if (live === undefined || String(live) !== String(desired)) return [{ path, live: live ?? null, desired }];
  return [];
}

export async function renderPath(
  root: string,
  path: string,
  run: (argv: string[]) => Promise<{ exitCode: number | null; stdout: string; stderr: string; notFound: boolean }>,
): Promise<{ objects: KObj[]; with: 'kustomize' | 'plain' }> {
  const dir = join(root, path);
  if (!existsSync(dir))
    throw new UsageError(`${path} does not exist in this checkout (${root})`, {
      hint: 'run vpm from the repository the Applications sync from',
    });
  const k = await run(['kustomize', 'build', dir]);
  if (!k.notFound) {
    if (k.exitCode !== 0) throw new UsageError(`kustomize build ${path} failed: ${k.stderr.trim().split('\n').slice(-3).join(' ')}`);
    const { parseAllDocuments } = await import('yaml');
    return {
      objects: parseAllDocuments(k.stdout)
        .map((d) => d.toJS() as KObj)
        .filter((o) => o?.kind),
      with: 'kustomize',
    };
  }
  const { loadObjects, resolveManifest } = await import('../deploy/apply.js');
  const src = resolveManifest(root, path);
  return { objects: await loadObjects(root, src.files), with: 'plain' };
}

export async function diffApp(
  app: KObj,
  cluster: string | null,
  client: KubeClient | null,
  root: string,
  run: Parameters<typeof renderPath>[2],
): Promise<AppDiff> {
  const out: AppDiff = {
    name: app.metadata.name,
    cluster,
    path: app.spec?.source?.path ?? null,
    rendered_with: null,
    argocd_out_of_sync: ((app.status?.resources ?? []) as any[])
      .filter((r) => r.status && r.status !== 'Synced')
      .map((r) => ({
        resource: `${r.group ? `${r.group}/` : ''}${r.kind}/${r.namespace ? `${r.namespace}/` : ''}${r.name}`,
        status: String(r.status),
      })),
    resources: [],
    differs: false,
    error: null,
  };
  try {
    if (!out.path) throw new Error('the Application has no single source path (multi-source apps: see status.resources only)');
    if (!client) throw new Error(`cannot map destination ${JSON.stringify(app.spec?.destination ?? {})} to a kube context`);
    const rendered = await renderPath(root, out.path, run);
    out.rendered_with = rendered.with;
    const ns = app.spec?.destination?.namespace;
    for (const obj of rendered.objects) {
      const group = obj.apiVersion.includes('/') ? `${obj.apiVersion.split('/')[0]}/` : '';
      const namespace = obj.metadata.namespace ?? ns;
      const resource = `${group}${obj.kind}/${namespace ? `${namespace}/` : ''}${obj.metadata.name}`;
      const live = await client.get({ apiVersion: obj.apiVersion, kind: obj.kind, name: obj.metadata.name, namespace });
      if (!live) out.resources.push({ resource, change: 'create', fields: [] });
      else {
        const fields = leafDiff(obj, live);
        if (fields.length) out.resources.push({ resource, change: 'update', fields });
      }
    }
  } catch (err) {
    out.error = (err as Error).message;
  }
  out.differs = out.resources.length > 0 || out.argocd_out_of_sync.length > 0;
  return out;
}

export function renderDiff(d: AppDiff): string {
  const lines = [
    `${d.name} (${d.cluster ?? '?'}, ${d.path ?? '-'}): ${d.error ? `ERROR ${d.error}` : d.differs ? 'differs' : 'no differences'}`,
  ];
  for (const r of d.argocd_out_of_sync) lines.push(`  argocd: ${r.resource} ${r.status}`);
  for (const r of d.resources) {
    lines.push(`  ${r.change === 'create' ? '+' : '~'} ${r.resource}`);
    for (const f of r.fields) lines.push(`      ${f.path}: ${JSON.stringify(f.live)} → ${JSON.stringify(f.desired)}`);
  }
  return lines.join('\n');
}
