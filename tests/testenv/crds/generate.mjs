// Generates the minimal Knative Serving / Argo CD CRDs used by the vpm test environment.
// Run: node tests/testenv/crds/generate.mjs   (output: knative-serving.yaml, argocd.yaml next to this file)
import { writeFileSync } from 'node:fs';
import { stringify } from 'yaml';

const str = { type: 'string' };
const int = { type: 'integer' };
const bool = { type: 'boolean' };
const open = (properties) => ({ type: 'object', 'x-kubernetes-preserve-unknown-fields': true, ...(properties ? { properties } : {}) });
const strMap = { type: 'object', additionalProperties: str };
const arrayOf = (items) => ({ type: 'array', items });

const container = open({
  name: str,
  image: str,
  args: arrayOf(str),
  command: arrayOf(str),
  env: arrayOf(open({ name: str, value: str })),
  ports: arrayOf(open({ name: str, containerPort: int, protocol: str })),
});
const revisionSpec = open({
  containerConcurrency: { type: 'integer', minimum: 0, maximum: 1000 },
  timeoutSeconds: { type: 'integer', minimum: 0 },
  serviceAccountName: str,
  containers: arrayOf(container),
});
const template = {
  type: 'object',
  description: 'RevisionTemplateSpec: metadata and spec of the Revisions this creates.',
  properties: {
    metadata: open({ name: str, annotations: strMap, labels: strMap }),
    spec: revisionSpec,
  },
};
const traffic = arrayOf({
  type: 'object',
  description: 'TrafficTarget',
  properties: {
    tag: str,
    revisionName: str,
    configurationName: str,
    latestRevision: bool,
    percent: { type: 'integer', minimum: 0, maximum: 100 },
    url: str,
  },
});
const readyCols = [
  { name: 'Ready', type: 'string', jsonPath: ".status.conditions[?(@.type=='Ready')].status" },
  { name: 'Reason', type: 'string', jsonPath: ".status.conditions[?(@.type=='Ready')].reason" },
];

function crd({ group, version, kind, plural, singular, shortNames, categories, spec, extra = {}, columns, required }) {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${plural}.${group}`, labels: { 'app.kubernetes.io/part-of': 'vpm-testenv' } },
    spec: {
      group,
      scope: 'Namespaced',
      names: { kind, listKind: `${kind}List`, plural, singular, shortNames, categories },
      versions: [
        {
          name: version,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: columns,
          schema: {
            openAPIV3Schema: {
              type: 'object',
              properties: {
                apiVersion: str,
                kind: str,
                metadata: { type: 'object' },
                spec: { ...spec, ...(required ? { required } : {}) },
                ...extra,
                status: open(),
              },
            },
          },
        },
      ],
    },
  };
}

const serving = 'serving.knative.dev';
const knCats = ['all', 'knative', 'serving'];
const knative = [
  crd({
    group: serving,
    version: 'v1',
    kind: 'Service',
    plural: 'services',
    singular: 'service',
    shortNames: ['kservice', 'ksvc'],
    categories: knCats,
    spec: open({ template, traffic }),
    columns: [
      { name: 'URL', type: 'string', jsonPath: '.status.url' },
      { name: 'LatestCreated', type: 'string', jsonPath: '.status.latestCreatedRevisionName' },
      { name: 'LatestReady', type: 'string', jsonPath: '.status.latestReadyRevisionName' },
      ...readyCols,
    ],
  }),
  crd({
    group: serving,
    version: 'v1',
    kind: 'Configuration',
    plural: 'configurations',
    singular: 'configuration',
    shortNames: ['config', 'cfg'],
    categories: knCats,
    spec: open({ template }),
    columns: [
      { name: 'LatestCreated', type: 'string', jsonPath: '.status.latestCreatedRevisionName' },
      { name: 'LatestReady', type: 'string', jsonPath: '.status.latestReadyRevisionName' },
      ...readyCols,
    ],
  }),
  crd({
    group: serving,
    version: 'v1',
    kind: 'Revision',
    plural: 'revisions',
    singular: 'revision',
    shortNames: ['rev'],
    categories: knCats,
    spec: revisionSpec,
    columns: [
      { name: 'Config Name', type: 'string', jsonPath: ".metadata.labels['serving\\.knative\\.dev/configuration']" },
      { name: 'Generation', type: 'string', jsonPath: ".metadata.labels['serving\\.knative\\.dev/configurationGeneration']" },
      ...readyCols,
    ],
  }),
  crd({
    group: serving,
    version: 'v1',
    kind: 'Route',
    plural: 'routes',
    singular: 'route',
    shortNames: ['rt'],
    categories: knCats,
    spec: open({ traffic }),
    columns: [{ name: 'URL', type: 'string', jsonPath: '.status.url' }, ...readyCols],
  }),
];

const argo = [
  crd({
    group: 'argoproj.io',
    version: 'v1alpha1',
    kind: 'Application',
    plural: 'applications',
    singular: 'application',
    shortNames: ['app', 'apps'],
    categories: ['argoproj'],
    spec: {
      type: 'object',
      properties: {
        project: str,
        destination: { type: 'object', properties: { name: str, namespace: str, server: str } },
        source: open({ repoURL: str, path: str, targetRevision: str, chart: str }),
        sources: arrayOf(open()),
        syncPolicy: open(),
        ignoreDifferences: arrayOf(open()),
        info: arrayOf(open()),
        revisionHistoryLimit: int,
      },
    },
    required: ['destination', 'project'],
    extra: { operation: open() },
    columns: [
      { name: 'Sync Status', type: 'string', jsonPath: '.status.sync.status' },
      { name: 'Health Status', type: 'string', jsonPath: '.status.health.status' },
      { name: 'Revision', type: 'string', jsonPath: '.status.sync.revision', priority: 10 },
      { name: 'Project', type: 'string', jsonPath: '.spec.project', priority: 10 },
    ],
  }),
  crd({
    group: 'argoproj.io',
    version: 'v1alpha1',
    kind: 'ApplicationSet',
    plural: 'applicationsets',
    singular: 'applicationset',
    shortNames: ['appset', 'appsets'],
    categories: ['argoproj'],
    spec: open({ goTemplate: bool, goTemplateOptions: arrayOf(str), generators: arrayOf(open()), template: open(), syncPolicy: open() }),
    required: ['generators', 'template'],
    columns: [{ name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' }],
  }),
  // infra/argocd/project.yaml is an AppProject, and vpm reads its sync windows: the simulator needs the kind
  // (it does not enforce projects or windows; the real Argo CD in tests/support/argocd-real.ts does).
  crd({
    group: 'argoproj.io',
    version: 'v1alpha1',
    kind: 'AppProject',
    plural: 'appprojects',
    singular: 'appproject',
    shortNames: ['appproj', 'appprojs'],
    categories: ['argoproj'],
    spec: open({ description: str, sourceRepos: arrayOf(str), destinations: arrayOf(open()), syncWindows: arrayOf(open()) }),
    columns: [{ name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' }],
  }),
];

const dir = new URL('.', import.meta.url);
const doc = (header, list) => header + list.map((o) => '---\n' + stringify(o, { lineWidth: 0 })).join('');
writeFileSync(
  new URL('knative-serving.yaml', dir),
  doc(
    '# GENERATED by generate.mjs — minimal Knative Serving CRDs (serving.knative.dev/v1) for the vpm test environment.\n' +
      '# Structural enough that type errors in a KService (containers not a list, traffic percent not an integer)\n' +
      '# are rejected by the API server; the rest is preserved. Real Knative validates more in its webhook; the\n' +
      '# simulator reports those problems (e.g. percents not summing to 100) in status instead.\n',
    knative,
  ),
);
writeFileSync(
  new URL('argocd.yaml', dir),
  doc(
    '# GENERATED by generate.mjs — minimal Argo CD CRDs (argoproj.io/v1alpha1) for the vpm test environment.\n' +
      '# Deviation from real Argo CD: these CRDs have a status subresource (the simulator writes status through\n' +
      '# /status). `operation` is a top-level field: patch it on the main resource to request a sync.\n',
    argo,
  ),
);
