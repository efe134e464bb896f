/** The project's own hello manifest (latestRevision routing) in a test namespace, with template variants. */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import type { Kube } from '../support/kube.ts';
import { HELLO_MANIFEST, ksvcPath } from './deploy.ts';

/**
 * Writes `<file>` in `cwd`: infra/k8s/overlays/dev/hello-ksvc.yaml with the namespace replaced, the
 * container's TARGET set to `target` and extra template annotations (e.g. the simulator's error rate).
 */
export function helloManifest(cwd: string, file: string, ns: string, target: string, annotations: Record<string, string> = {}): string {
  const doc = parse(readFileSync(HELLO_MANIFEST, 'utf8'));
  doc.metadata.namespace = ns;
  doc.spec.template.spec.containers[0].env = [{ name: 'TARGET', value: target }];
  Object.assign(doc.spec.template.metadata.annotations, annotations);
  writeFileSync(join(cwd, file), stringify(doc));
  return file;
}

/** Percent per revision name in a traffic list (spec or status). */
export function split(traffic: any[] | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  for (const t of traffic ?? []) {
    const key = t.revisionName ?? (t.latestRevision ? 'latest' : '?');
    out[key] = (out[key] ?? 0) + (t.percent ?? 0);
  }
  return out;
}

export async function annotation(kube: Kube, ns: string, key: string): Promise<any> {
  const raw = (await kube.get(ksvcPath(ns))).metadata.annotations?.[key];
  return raw === undefined ? undefined : JSON.parse(raw);
}

/** The first `vpm release` of hello in `ns` (nothing live yet): returns the revision it deployed. */
export async function firstRelease(
  run: (args: string[], cwd: string) => Promise<{ result: { exitCode?: number; stderr: unknown }; json: any }>,
  cwd: string,
  ns: string,
): Promise<string> {
  const first = await run(['release', 'hello', '-f', helloManifest(cwd, 'v1.yaml', ns, 'v1'), '--interval', '1s'], cwd);
  if (first.result.exitCode !== 0 || first.json.result !== 'first_deploy')
    throw new Error(`first release failed (${first.result.exitCode}): ${String(first.result.stderr)}`);
  return first.json.candidate;
}
