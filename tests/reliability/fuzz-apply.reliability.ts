/**
 * Bad-input fuzzing of manifests for `vpm apply --dry-run` against the real API server: broken YAML,
 * alias bombs, objects missing apiVersion/kind/name, invalid names and data keys, unknown kinds,
 * foreign namespaces, scalars and lists as documents. Each ends in exit 0 (valid: a diff, nothing
 * created), 1 (the API server rejected it, said so) or 2 (vpm refused it locally) — never a crash —
 * and the dry run never leaves an object behind.
 */
import { beforeAll, describe, it } from 'vitest';
import fc from 'fast-check';
import { parseAllDocuments, stringify as toYaml } from 'yaml';
import { requireTestenv, useTestenv, kubeFor, freshNamespace, type TestenvInfo } from '../support/testenv.ts';
import type { Kube } from '../support/kube.ts';
import { openCase } from './support/ledger.ts';
import { seedFor, scaled } from './support/random.ts';
import { errorProblems, vpmInProcess, vpmProcess } from './support/vpm.ts';
import { removeDir, tempRepo } from './support/tmp.ts';

const dnsName = fc.oneof(
  { weight: 8, arbitrary: fc.stringMatching(/^[a-z]([a-z0-9-]{0,20}[a-z0-9])?$/) },
  {
    weight: 1,
    arbitrary: fc.oneof(fc.string({ maxLength: 20 }), fc.constantFrom('', 'UPPER', '-lead', 'a'.repeat(254), 'a_b', 'a.b', 'ünï', '..')),
  },
);
const dataKey = fc.oneof(
  { weight: 8, arbitrary: fc.stringMatching(/^[A-Za-z0-9._-]{1,20}$/) },
  { weight: 1, arbitrary: fc.string({ maxLength: 10 }) },
);
const anyValue = fc.jsonValue({ maxDepth: 2 });

function configMap(ns: string) {
  return fc
    .record({
      name: dnsName,
      data: fc.dictionary(dataKey, fc.oneof({ weight: 8, arbitrary: fc.string({ maxLength: 40 }) }, { weight: 1, arbitrary: anyValue }), {
        maxKeys: 3,
      }),
      namespace: fc.constantFrom(undefined, undefined, ns, 'vpm-fuzz-no-such-ns'),
    })
    .map(({ name, data, namespace }) => ({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name, ...(namespace ? { namespace } : {}) },
      data,
    }));
}

const ksvc = fc
  .record({
    name: dnsName,
    image: fc.oneof(fc.constant('ghcr.io/knative/helloworld-go:latest'), fc.string({ maxLength: 20 })),
    extra: anyValue,
  })
  .map(({ name, image, extra }) => ({
    apiVersion: 'serving.knative.dev/v1',
    kind: 'Service',
    metadata: { name },
    spec: {
      template: {
        spec: { containers: [{ image, env: [{ name: 'X', value: typeof extra === 'string' ? extra : JSON.stringify(extra) }] }] },
      },
    },
  }));

const breakObject = fc.oneof(
  { weight: 8, arbitrary: fc.constant((o: Record<string, any>): unknown => o) },
  {
    weight: 3,
    arbitrary: fc.constantFrom<(o: Record<string, any>) => unknown>(
      (o) => ({ ...o, apiVersion: undefined }),
      (o) => ({ ...o, kind: 7 }),
      (o) => ({ ...o, metadata: {} }),
      (o) => ({ ...o, metadata: [] }),
      (o) => ({ ...o, metadata: { name: 12 } }),
      (o) => ({ ...o, kind: 'NoSuchKind' }),
      (o) => ({ ...o, apiVersion: 'nosuch.example.com/v1' }),
      (o) => ({ ...o, spec: 'not an object' }),
      (o) => [o],
      () => 'just a string',
      () => 42,
    ),
  },
);

function manifest(ns: string) {
  const object = fc
    .tuple(fc.oneof({ weight: 3, arbitrary: configMap(ns) }, { weight: 1, arbitrary: ksvc }), breakObject)
    .map(([o, b]) => b(o));
  return fc.oneof(
    { weight: 8, arbitrary: fc.array(object, { minLength: 1, maxLength: 2 }).map((docs) => docs.map((d) => toYaml(d)).join('---\n')) },
    {
      weight: 1,
      arbitrary: fc.array(object, { minLength: 1, maxLength: 2 }).map((docs) => docs.map((d) => JSON.stringify(d)).join('\n---\n')),
    },
    {
      weight: 2,
      arbitrary: fc.oneof(
        fc.string({ unit: 'binary', maxLength: 120 }),
        fc.constantFrom(
          '',
          '---\n',
          '---\n---\n',
          'kind: [',
          'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  name: b\n',
          `a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n`,
          'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ok}\n---\nkind: ]\n',
          '\t\tapiVersion: v1',
        ),
      ),
    },
  );
}

/** What vpm must say locally, before asking the API server. */
function localVerdict(text: string): 'refuse' | 'server' {
  let docs;
  try {
    docs = parseAllDocuments(text);
  } catch {
    return 'refuse';
  }
  if (!Array.isArray(docs)) return 'refuse';
  let objects = 0;
  for (const d of docs) {
    if (d.errors.length) return 'refuse';
    let o: any;
    try {
      o = d.toJS();
    } catch {
      return 'refuse';
    }
    if (o === null || o === undefined) continue;
    if (typeof o?.apiVersion !== 'string' || typeof o?.kind !== 'string' || typeof o?.metadata?.name !== 'string') return 'refuse';
    objects++;
  }
  return objects === 0 ? 'refuse' : 'server';
}

describe.skipIf(!requireTestenv())('fuzz: manifests for vpm apply --dry-run', () => {
  let env: TestenvInfo;
  let kube: Kube;
  let ns: string;

  beforeAll(async () => {
    env = await useTestenv({ clusters: 1 });
    kube = await kubeFor(env, 'cluster-a');
    ns = await freshNamespace(kube, 'fuzz-apply');
  });

  it('manifests: exit 0 (nothing created), 1 (the API server refused, said so) or 2 (refused locally); never a crash or a leftover object', async ({
    task,
  }) => {
    const c = openCase(task, 'fuzz', 'manifests (apply --dry-run)');
    const texts = fc.sample(manifest(ns), { numRuns: scaled(120), seed: seedFor('manifests') });
    const tally = { 0: 0, 1: 0, 2: 0 } as Record<number, number>;
    for (const [n, text] of texts.entries()) {
      const cwd = tempRepo('apply', { 'm.yaml': text });
      const ok = await c.trial('vpm apply --dry-run', async (t) => {
        t.context = { cwd, manifest: text };
        const expected = localVerdict(text);
        const run = n % 8 === 0 ? vpmProcess : vpmInProcess;
        const r = await run(
          ['--json', 'apply', 'm.yaml', '--dry-run', '-n', ns, '--context', 'cluster-a', '--kubeconfig', env.kubeconfig],
          { cwd, timeoutMs: 60_000 },
        );
        tally[r.exitCode] = (tally[r.exitCode] ?? 0) + 1;
        t.add(errorProblems(r, { codes: expected === 'refuse' ? [2] : [0, 1, 2], json: true }));
        if (r.exitCode === 0) {
          const out = JSON.parse(r.stdout);
          t.check(out.dry_run === true && out.status === 'dry-run', `exit 0 but not reported as a dry run: ${r.stdout.slice(0, 200)}`);
          for (const o of out.objects ?? [])
            t.check(['would-create', 'would-configure', 'unchanged'].includes(o.action), `dry run reports action ${o.action}`);
        }
        if (r.exitCode === 1)
          t.check(
            /rejected by the API server|API server/.test(r.stderr),
            () => `exit 1 without saying the API server refused: ${r.stderr.slice(0, 300)}`,
          );
        const left = [
          ...((await kube.get(`/api/v1/namespaces/${ns}/configmaps`)).items ?? []).filter(
            (o: any) => o.metadata.name !== 'kube-root-ca.crt',
          ),
          ...((await kube.get(`/apis/serving.knative.dev/v1/namespaces/${ns}/services`)).items ?? []),
        ];
        t.check(
          left.length === 0,
          () => `the dry run left object(s) behind: ${left.map((o: any) => `${o.kind}/${o.metadata.name}`).join(', ')}`,
        );
      });
      if (ok) removeDir(cwd);
    }
    c.note(`exit codes: 0×${tally[0]}, 1×${tally[1]}, 2×${tally[2]}`);
    c.finish();
  });
});
