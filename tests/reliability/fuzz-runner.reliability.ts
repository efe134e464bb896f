/**
 * Bad-input fuzzing of the runner's inputs with fast-check: inbox job files and config files
 * (`vpm.config.yaml|json`, read by `vpm run` and `vpm summary`). A DRY run leaves every job file in
 * the inbox byte-identical; an EXEC run under a policy that denies every step (so no fuzzed step is
 * ever executed) then moves every job file to `_done/` or `_failed/` (with an error file)
 * byte-identical, never dropped; a bad config is exit 2 naming every problem's dot path, and nothing
 * is touched.
 */
import { describe, it } from 'vitest';
import fc from 'fast-check';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { stringify as toYaml } from 'yaml';
import { openCase } from './support/ledger.ts';
import { seedFor, scaled } from './support/random.ts';
import { errorProblems, integrityProblems, REPO_ROOT, snapshot, snapshotDiff, vpmInProcess, vpmProcess } from './support/vpm.ts';
import { removeDir, tempRepo } from './support/tmp.ts';

const { ConfigSchema } = await import(pathToFileURL(join(REPO_ROOT, 'dist/schemas/config.js')).href);
const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

// ---------------------------------------------------------------------------------------------
// Job files

// Deny everything: the exec run below moves job files without executing any fuzzed step.
const POLICY = { execution_policy: { default_action: 'deny', deny_if_contains: ['rm', 'git push'], allowlist: [] } };
const GOOD_JOB = {
  id: 'zz_good',
  kind: 'exec',
  created_at: '2026-01-01T00:00:00.000Z',
  source: 'fuzz',
  steps: [{ name: 'hello', argv: ['echo', 'hello'] }],
};

const jobBase = () => ({
  id: 'job1',
  kind: 'exec',
  created_at: '2026-01-02T00:00:00.000Z',
  source: { type: 'cli' },
  steps: [
    { name: 'list', argv: ['ls', '-la'] },
    { name: 'say', command: 'echo hi' },
  ],
  payload: { n: 1 },
});
const weird = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }),
  fc.constantFrom('../../etc/passwd', '/etc/passwd', 'C:\\x', 'a\u0000b', '..', '', ' ', 'x'.repeat(300), -1, 0, 1e308, null, true, [], {}),
);
const JOB_KEYS = ['v', 'id', 'kind', 'created_at', 'source', 'text', 'steps', 'apply', 'payload', 'job_input', 'extra'];
const STEP_KEYS = ['name', 'argv', 'command', 'timeout_s', 'ok_exit_codes', 'shell'];
const jobMutation = fc.oneof(
  fc.record({ key: fc.constantFrom(...JOB_KEYS), value: weird }).map(({ key, value }) => (j: Record<string, any>) => ({
    ...j,
    [key]: value,
  })),
  fc.constantFrom(...JOB_KEYS).map((key) => (j: Record<string, any>) => {
    const { [key]: _drop, ...rest } = j;
    return rest;
  }),
  fc.record({ key: fc.constantFrom(...STEP_KEYS), value: weird }).map(({ key, value }) => (j: Record<string, any>) => ({
    ...j,
    steps: [{ ...j.steps?.[0], [key]: value }],
  })),
  fc.constantFrom(
    (j: Record<string, any>) => ({ ...j, kind: 'apply', steps: undefined, apply: { overlay: 'infra/k8s/overlays/dev/hello.yaml' } }),
    (j: Record<string, any>) => ({ ...j, kind: 'apply', apply: { overlay: '../outside.yaml' } }),
    (j: Record<string, any>) => ({ ...j, kind: 'ask', steps: undefined, job_input: { path: 'codex/../../x.json' } }),
    (j: Record<string, any>) => ({ ...j, steps: Array.from({ length: 1001 }, (_, i) => ({ name: `s${i}`, argv: ['true'] })) }),
    (j: Record<string, any>) => ({ ...j, id: 'zz_good' }), // an id already used by another job
    (j: Record<string, any>) => ({ ...j, steps: [{ name: 'x', argv: ['echo'], command: 'echo' }] }),
    (j: Record<string, any>) => ({ ...j, created_at: '2026-13-45T99:00:00Z' }),
    (j: Record<string, any>) => ({ ...j, payload: 'ghp_' + 'Q'.repeat(36) }),
  ),
);
const jobText = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.array(jobMutation, { minLength: 1, maxLength: 3 }).map((ms) =>
      JSON.stringify(
        ms.reduce((j, m) => m(j), jobBase() as Record<string, any>),
        null,
        2,
      ),
    ),
  },
  {
    weight: 1,
    arbitrary: fc.oneof(
      fc.string({ unit: 'binary', maxLength: 80 }),
      fc.constantFrom('', '{', '[]', 'null', '"job"', '{"id":"x",}', '\ufeff{}', '{"id":"a","id":"b"}'),
    ),
  },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)) },
);
const jobName = fc.oneof(
  { weight: 6, arbitrary: fc.stringMatching(/^[a-y][a-z0-9_-]{0,12}$/).map((n) => `${n}.json`) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      'with space.json',
      'ünïcode.json',
      'a.b.json',
      'x.error.json',
      '.hidden.json',
      'UPPER.JSON',
      'not-a-job.txt',
    ),
  },
);
const inbox = fc.uniqueArray(fc.record({ name: jobName, text: jobText }), {
  minLength: 1,
  maxLength: 3,
  selector: (f) => f.name.toLowerCase(),
});

// ---------------------------------------------------------------------------------------------
// Config files

const VALID_CONFIG = {
  test: { command: 'npm test' },
  summary: { provider: 'extractive', max_entries: 50, timeout_ms: 2000 },
  execution_policy: {
    default_action: 'allow',
    deny_if_contains: ['rm'],
    deny_patterns: ['^curl '],
    allowlist: ['ls'],
    stop_on_deny: true,
    timeout_s: 60,
  },
  job_loop: { enabled: false, max_jobs: 2 },
  kube: { context: 'cluster-a', namespace: 'default' },
  canary: { steps: [10, 50, 100], interval: '10s', provider: 'probe', slo: { success_rate: 0.99, latency_p95_ms: 500, min_requests: 20 } },
  github: { repo: 'acme/app' },
  failover: { backend: 'edge', probe_path: '/', fail_threshold: 2 },
};
const PATHS = [
  [],
  ['test'],
  ['test', 'command'],
  ['summary'],
  ['summary', 'provider'],
  ['summary', 'max_entries'],
  ['summary', 'timeout_ms'],
  ['summary', 'base_url'],
  ['execution_policy'],
  ['execution_policy', 'default_action'],
  ['execution_policy', 'deny_if_contains'],
  ['execution_policy', 'deny_if_contains', '0'],
  ['execution_policy', 'deny_patterns', '0'],
  ['execution_policy', 'allowlist'],
  ['execution_policy', 'stop_on_deny'],
  ['execution_policy', 'timeout_s'],
  ['job_loop', 'enabled'],
  ['job_loop', 'max_jobs'],
  ['job_loop', 'job_input', 'path'],
  ['kube', 'context'],
  ['canary', 'steps'],
  ['canary', 'steps', '1'],
  ['canary', 'slo', 'success_rate'],
  ['canary', 'provider'],
  ['github', 'repo'],
  ['failover', 'backend'],
  ['failover', 'probe_url'],
  ['unknown_key'],
  ['summary', 'extra'],
];
const configValue = fc.oneof(
  weird,
  fc.constantFrom(
    'deny',
    'allow',
    'probe',
    '[unclosed',
    '(?<',
    'rm; ls',
    '../x',
    'not a url',
    'acme',
    'a/b/c',
    'G-1',
    1.5,
    -3,
    0,
    101,
    86_401,
    'openai-but-not',
  ),
);
function setIn(obj: any, path: string[], value: unknown): any {
  if (path.length === 0) return value;
  const copy = Array.isArray(obj) ? [...obj] : obj && typeof obj === 'object' ? { ...obj } : {};
  copy[path[0]] = setIn(copy[path[0]], path.slice(1), value);
  return copy;
}
const configDoc = fc.oneof(
  {
    weight: 5,
    arbitrary: fc
      .array(fc.record({ path: fc.constantFrom(...PATHS), value: configValue }), { minLength: 1, maxLength: 3 })
      .map((ms) => ms.reduce((c, m) => setIn(c, m.path, m.value), VALID_CONFIG as any)),
  },
  {
    weight: 3,
    arbitrary: fc
      .subarray(Object.keys(VALID_CONFIG))
      .map((keys) => Object.fromEntries(keys.map((k) => [k, (VALID_CONFIG as Record<string, unknown>)[k]]))),
  },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
);
const configFile = fc.oneof(
  {
    weight: 6,
    arbitrary: fc
      .record({ doc: configDoc, yaml: fc.boolean() })
      .map(({ doc, yaml }) =>
        yaml ? { name: 'vpm.config.yaml', text: toYaml(doc) } : { name: 'vpm.config.json', text: JSON.stringify(doc, null, 2) },
      ),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      name: fc.constantFrom('vpm.config.yaml', 'vpm.config.yml', 'vpm.config.json'),
      text: fc.oneof(
        fc.string({ unit: 'binary', maxLength: 80 }),
        fc.constantFrom(
          'a: [',
          'summary: {max_entries: 5}\nsummary: {max_entries: 6}\n',
          'a: &a [*a, *a]\n',
          'x: !!js/function "f"',
          ': :',
          '---\n---\n',
          '\t- x',
          '{"summary": }',
          'null',
          '[]',
          '42',
          `a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n`,
        ),
      ),
    }),
  },
);
const envOverride = fc.option(
  fc.record({
    name: fc.constantFrom('VPM_SUMMARY_MAX_ENTRIES', 'VPM_SUMMARY_PROVIDER', 'VPM_LLM_TIMEOUT_MS', 'VPM_GITHUB_REPO', 'VPM_CONTEXT'),
    value: fc.oneof(
      fc.constantFrom('abc', '-1', '0', '99999999999999999999', 'extractive', ' '),
      fc.string({ maxLength: 10 }).map((s) => s.replace(/\0/g, '')),
    ),
  }),
  { nil: undefined, freq: 4 },
);

/** What the config loader should conclude: valid, or the dot paths of its problems. */
async function configOracle(
  name: string,
  text: string,
  env: Record<string, string>,
): Promise<{ valid: true } | { valid: false; paths: string[] }> {
  let raw: unknown;
  try {
    raw = name.endsWith('.json') ? JSON.parse(text) : (await import('yaml')).parse(text);
  } catch {
    return { valid: false, paths: [] };
  }
  raw ??= {};
  if (typeof raw !== 'object' || Array.isArray(raw)) return { valid: false, paths: [] };
  let merged = structuredClone(raw) as Record<string, unknown>;
  const map: Record<string, string[]> = {
    VPM_SUMMARY_MAX_ENTRIES: ['summary', 'max_entries'],
    VPM_SUMMARY_PROVIDER: ['summary', 'provider'],
    VPM_LLM_TIMEOUT_MS: ['summary', 'timeout_ms'],
    VPM_GITHUB_REPO: ['github', 'repo'],
    VPM_CONTEXT: ['kube', 'context'],
  };
  for (const [k, v] of Object.entries(env)) {
    if (v === '') continue;
    merged = setIn(merged, map[k], /^\d+$/.test(v) ? Number(v) : v);
  }
  const r = ConfigSchema.safeParse(merged);
  return r.success
    ? { valid: true }
    : { valid: false, paths: r.error.issues.map((i: { path: PropertyKey[] }) => i.path.map(String).join('.')).filter(Boolean) };
}

describe('fuzz: runner inputs', () => {
  it('job files: a dry run leaves every file in the inbox byte-identical; an exec run moves each to _done/ or _failed/ byte-identical (with an error file), or leaves it if the inbox ignores its name; exit 0/1, never a crash', async ({
    task,
  }) => {
    const c = openCase(task, 'fuzz', 'job files');
    const cases = fc.sample(inbox, { numRuns: scaled(150), seed: seedFor('jobs') });
    const tally = { done: 0, failed: 0, ignored: 0 };
    for (const [n, files] of cases.entries()) {
      const all = [...files, { name: 'zz_good.json', text: JSON.stringify(GOOD_JOB) }];
      const cwd = tempRepo('jobs', {
        'vpm.config.json': JSON.stringify(POLICY),
        ...Object.fromEntries(all.map((f) => [`codex/inbox/${f.name}`, f.text])),
      });
      const ok = await c.trial('vpm run (dry, then exec with every step denied)', async (t) => {
        t.context = { cwd, files };
        const run = n % 10 === 0 ? vpmProcess : vpmInProcess;
        const inboxDir = join(cwd, 'codex', 'inbox');
        const dry = await run(['--json', 'run', '--dry-run'], { cwd });
        t.add(errorProblems(dry, { codes: [0, 1], json: true, silentOk: true }));
        for (const f of all) {
          const kept = existsSync(join(inboxDir, f.name)) && sha(readFileSync(join(inboxDir, f.name))) === sha(f.text);
          t.check(kept, `${f.name}: a dry run changed or moved it`);
        }
        t.check(!existsSync(join(inboxDir, '_done')) && !existsSync(join(inboxDir, '_failed')), 'a dry run created _done/ or _failed/');
        const r = await run(['--json', 'run', '--exec'], { cwd });
        t.add(errorProblems(r, { codes: [0, 1], json: true, silentOk: true }));
        const listed = (d: string) =>
          existsSync(d) ? readdirSync(d).filter((f) => !f.endsWith('.error.json') && f.endsWith('.json')) : [];
        const hashes = (d: string) => new Map(listed(d).map((f) => [sha(readFileSync(join(d, f))), f]));
        const done = hashes(join(inboxDir, '_done'));
        const failed = hashes(join(inboxDir, '_failed'));
        for (const f of all) {
          const h = sha(f.text);
          const ignoredByName = !f.name.endsWith('.json') || f.name.endsWith('.error.json') || f.name.startsWith('.');
          const stayed = existsSync(join(inboxDir, f.name)) && sha(readFileSync(join(inboxDir, f.name))) === h;
          if (ignoredByName) {
            tally.ignored++;
            t.check(stayed, `${f.name}: a file the inbox does not read was changed or removed`);
            continue;
          }
          t.check(!existsSync(join(inboxDir, f.name)), `${f.name}: still in the inbox after the run`);
          const where = done.get(h) ? `_done/${done.get(h)}` : failed.get(h) ? `_failed/${failed.get(h)}` : undefined;
          if (!t.check(where, `${f.name}: neither in _done/ nor in _failed/ (byte-identical) — dropped or altered`)) continue;
          tally[where!.startsWith('_done/') ? 'done' : 'failed']++;
          if (where!.startsWith('_failed/')) {
            const errFile = join(inboxDir, where!.replace(/\.json$/, '.error.json'));
            if (t.check(existsSync(errFile), `${where}: no error file beside it`)) {
              try {
                const e = JSON.parse(readFileSync(errFile, 'utf8'));
                t.check(typeof e.reason === 'string' && e.reason.length > 0, `${where}: error file has no reason`);
              } catch (err) {
                t.check(false, `${where}: error file does not parse: ${(err as Error).message}`);
              }
            }
          }
        }
        t.check(done.has(sha(JSON.stringify(GOOD_JOB))), 'the valid job did not reach _done/');
        t.add(await integrityProblems(cwd, { skipInbox: true }));
        // A second run has nothing left to do and changes nothing it already processed.
        const before = snapshot(cwd, (rel) => !rel.startsWith('codex/'));
        const again = await vpmInProcess(['--json', 'run', '--dry-run'], { cwd });
        t.add(errorProblems(again, { codes: [0], json: true }));
        t.add(
          snapshotDiff(
            before,
            snapshot(cwd, (rel) => !rel.startsWith('codex/')),
          ).map((d) => `second run changed the processed inbox: ${d}`),
        );
      });
      if (ok) removeDir(cwd);
    }
    c.note(`job files: ${tally.done} to _done/, ${tally.failed} to _failed/, ${tally.ignored} left alone by name`);
    c.finish();
  });

  it('config files: invalid → exit 2 naming every problem (dot paths), nothing touched; valid → the command runs', async ({ task }) => {
    const c = openCase(task, 'fuzz', 'config files');
    const cases = fc.sample(fc.record({ file: configFile, env: envOverride, command: fc.constantFrom('summary', 'run') }), {
      numRuns: scaled(200),
      seed: seedFor('config'),
    });
    const tally = { valid: 0, invalid: 0 };
    for (const [n, { file, env: override, command }] of cases.entries()) {
      const env = override ? { [override.name]: override.value } : {};
      const cwd = tempRepo('config', {
        [file.name]: file.text,
        'logs/2026-01-01.jsonl': `${JSON.stringify({ v: 1, id: 'chat_20260101T000000Z_a', ts: '2026-01-01T00:00:00.000Z', session: 's', role: 'user', text: 'We decided to ship the runner.' })}\n`,
        'codex/inbox/j1.json': JSON.stringify(GOOD_JOB),
      });
      const ok = await c.trial(`vpm ${command} with a fuzzed config`, async (t) => {
        t.context = { cwd, file, env };
        const oracle = await configOracle(file.name, file.text, env);
        tally[oracle.valid ? 'valid' : 'invalid']++;
        const before = snapshot(cwd);
        const run = n % 10 === 0 ? vpmProcess : vpmInProcess;
        const r = await run(command === 'run' ? ['run', '--dry-run'] : ['summary'], { cwd, env, timeoutMs: 60_000 });
        if (!oracle.valid) {
          t.add(errorProblems(r, { codes: [2] }));
          t.check(
            r.stderr.includes(file.name) || Object.keys(env).some((k) => r.stderr.includes(k)),
            () => `the error does not name ${file.name}: ${r.stderr.slice(0, 300)}`,
          );
          for (const p of oracle.paths.slice(0, 5))
            t.check(r.stderr.includes(p), () => `the error does not name the problem at ${p}: ${r.stderr.slice(0, 400)}`);
          t.add(snapshotDiff(before, snapshot(cwd)).map((d) => `rejected config, but files changed: ${d}`));
        } else {
          t.add(errorProblems(r, { codes: command === 'run' ? [0, 1] : [0], silentOk: command === 'run' }));
          t.check(!/invalid configuration/.test(r.stderr), () => `a valid config was refused: ${r.stderr.slice(0, 300)}`);
          t.add(await integrityProblems(cwd));
        }
      });
      if (ok) removeDir(cwd);
    }
    c.note(`configs: ${tally.valid} valid, ${tally.invalid} invalid`);
    c.finish();
  });
});
