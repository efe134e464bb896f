/**
 * Bad-input fuzzing of the memory loop's inputs with fast-check: chat entries (`vpm chat append`),
 * STATE files (`vpm state check|show`, and a no-op `state patch` that must lose nothing), and RFC 6902
 * patches (`vpm state patch`). Every input ends in success or a clear error with the documented exit
 * code (2 for bad input), never a stack trace or `internal error`; a rejected input leaves every file
 * byte-identical; an accepted one is stored exactly.
 */
import { describe, it } from 'vitest';
import fc from 'fast-check';
import jsonpatch from 'fast-json-patch';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { openCase } from './support/ledger.ts';
import { seedFor, scaled } from './support/random.ts';
import {
  errorProblems,
  integrityProblems,
  REPO_ROOT,
  snapshot,
  snapshotDiff,
  vpmInProcess,
  vpmProcess,
  type VpmRun,
} from './support/vpm.ts';
import { removeDir, tempRepo } from './support/tmp.ts';

const today = () => new Date().toISOString().slice(0, 10);
const { maskSecrets, maskDeep } = await import(pathToFileURL(join(REPO_ROOT, 'dist/core/secrets.js')).href);

// ---------------------------------------------------------------------------------------------
// Chat entries

const ROLES = ['user', 'assistant', 'system', 'tool'];
/** Values that look like flags: the CLI may refuse them (exit 2) but must never act on them as flags. */
const OPTION_LIKE = fc.constantFrom(
  '-V',
  '-Vx',
  '--version',
  '-h',
  '--help',
  '--json',
  '--debug',
  '--cwd',
  '-',
  '--',
  '-n',
  '--role',
  '--text=x',
);
const SECRETISH = fc.constantFrom(
  'ghp_' + 'A1b2'.repeat(9),
  'sk-test-' + 'x'.repeat(24),
  'token abcdefghijklmnopqrstuvwxyz',
  'password=hunter22222',
  'AKIA' + 'ABCDEFGHIJKLMNOP',
);
const text = fc.oneof(
  { weight: 4, arbitrary: fc.string({ unit: 'binary', maxLength: 200 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'grapheme', maxLength: 200 }) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      '',
      ' ',
      '\n',
      '\r\n',
      '\t \u3000',
      '\u200b',
      '\ufeff',
      '\u0000',
      '\ud800',
      'a\u0000b',
      '"}\n{"v":1',
      '🚀'.repeat(50),
      '日本語。テスト！',
    ),
  },
  { weight: 1, arbitrary: OPTION_LIKE },
  {
    weight: 1,
    arbitrary: fc.tuple(fc.string({ maxLength: 20 }), SECRETISH, fc.string({ maxLength: 20 })).map(([a, s, b]) => `${a} ${s} ${b}`),
  },
);
const chatInput = fc.record({
  role: fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom(...ROLES) },
    { weight: 1, arbitrary: fc.oneof(fc.constantFrom('User', 'admin', '', ' user', 'user\n'), fc.string({ maxLength: 12 })) },
  ),
  session: fc.option(
    fc.oneof(
      fc.stringMatching(/^[\w.:-]{1,20}$/),
      fc.string({ maxLength: 30 }),
      fc.constant('x'.repeat(129)),
      OPTION_LIKE,
      fc.stringMatching(/^-[\w.:-]{1,8}$/),
    ),
    { nil: undefined, freq: 3 },
  ),
  text,
  viaStdin: fc.boolean(),
  meta: fc.option(
    fc.oneof(
      fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 }).map((o) => JSON.stringify(o)),
      fc.constantFrom('[]', 'null', '1', '"x"', '{', '{"__proto__":{"polluted":1}}', '{"token":"ghp_' + 'Z9'.repeat(18) + '"}', ''),
    ),
    { nil: undefined, freq: 3 },
  ),
});
type ChatInput = typeof chatInput extends fc.Arbitrary<infer T> ? T : never;

/** What vpm must do with a chat input, from the spec (§1 chat append). */
function chatExpectation(i: ChatInput): 'accept' | 'reject' | 'either' {
  if (!ROLES.includes(i.role)) return 'reject';
  // A flag-like value (`--text --json`) may be refused as a missing argument, like kubectl or gh do.
  const flagLike = [i.session, i.meta, i.viaStdin ? undefined : i.text].some((v) => v !== undefined && v.startsWith('-'));
  const t = i.viaStdin ? i.text.toWellFormed().replace(/\r?\n$/, '') : i.text;
  if (t.trim() === '') return 'reject';
  if (i.meta !== undefined) {
    try {
      let protoKey = false;
      const m = JSON.parse(i.meta, (k, v) => {
        protoKey ||= k === '__proto__';
        return v;
      });
      // a "__proto__" key anywhere is refused: it would not survive being stored
      if (!m || typeof m !== 'object' || Array.isArray(m) || protoKey) return 'reject';
    } catch {
      return 'reject';
    }
  }
  if (i.session !== undefined && !/^[\w.:-]{1,128}$/.test(i.session.trim())) return 'reject';
  // The 1 MiB limit is on the stored line (text JSON-escaped plus the envelope).
  const bytes = Buffer.byteLength(JSON.stringify(t));
  if (bytes > 1024 * 1024) return 'reject';
  if (bytes > 1024 * 1024 - 400) return 'either';
  return flagLike ? 'either' : 'accept';
}

async function chatTrial(
  t: import('./support/ledger.ts').Trial,
  i: ChatInput,
  run: (args: string[], o: { cwd: string; input?: string }) => Promise<VpmRun>,
): Promise<string> {
  const cwd = tempRepo('chat', {
    [`logs/${today()}.jsonl`]: `${JSON.stringify({ v: 1, id: 'chat_20260101T000000Z_seed', ts: new Date().toISOString(), session: 's', role: 'user', text: 'existing line' })}\n`,
  });
  const logFile = join(cwd, 'logs', `${today()}.jsonl`);
  const before = snapshot(cwd);
  const args = ['chat', 'append', '--role', i.role];
  if (i.session !== undefined) args.push('--session', i.session);
  if (i.meta !== undefined) args.push('--meta', i.meta);
  if (!i.viaStdin) args.push('--text', i.text);
  const r = await run(args, { cwd, input: i.viaStdin ? i.text : undefined });
  t.context.cwd = cwd;
  const expect = chatExpectation(i);
  t.add(errorProblems(r, { codes: expect === 'accept' ? [0] : expect === 'reject' ? [2] : [0, 2] }));
  if (r.exitCode === 0) {
    const lines = readFileSync(logFile, 'utf8').split('\n');
    t.check(lines.pop() === '', 'chat log does not end with a newline');
    t.check(lines.length === 2, `expected exactly one new line, the log has ${lines.length - 1}`);
    const entry = JSON.parse(lines[1] ?? 'null');
    // stdin carries bytes: a lone surrogate arrives as U+FFFD, like from any other program.
    const sentText = i.viaStdin ? i.text.toWellFormed().replace(/\r?\n$/, '') : i.text;
    t.same(entry?.text, maskSecrets(sentText, {}), 'stored text (masked as vpm masks secrets)');
    t.same(entry?.role, i.role, 'stored role');
    if (i.session !== undefined) t.same(entry?.session, i.session.trim(), 'stored session');
    if (i.meta !== undefined) t.same(entry?.meta, maskDeep(JSON.parse(i.meta), {}), 'stored meta');
    t.add(await integrityProblems(cwd));
  } else {
    t.add(snapshotDiff(before, snapshot(cwd)).map((d) => `rejected input changed files: ${d}`));
  }
  return cwd;
}

// ---------------------------------------------------------------------------------------------
// STATE files

const line = fc.string({ unit: 'grapheme', maxLength: 40 }).map((s) => s.replace(/[\r\n]/g, ' '));
const goalLine = fc
  .tuple(
    fc.constantFrom('- ', '* ', '  - ', '-'),
    fc.constantFrom('', '[ ] ', '[x] '),
    fc.integer({ min: 0, max: 12 }),
    fc.constantFrom(': ', '：', ' - ', '. ', ' ', ':'),
    line,
  )
  .map(([bullet, box, n, sep, txt]) => `${bullet}${box}G-${n}${sep}${txt}`);
const sectionBody = fc
  .array(
    fc.oneof(
      { weight: 3, arbitrary: line },
      { weight: 1, arbitrary: fc.constantFrom('```', '### sub', '', '## fake', '---', '- plain item') },
    ),
    { maxLength: 5 },
  )
  .map((l) => l.join('\n'));
const frontMatter = fc.oneof(
  { weight: 6, arbitrary: fc.constant('phase: S1\nupdated_at: "2026-01-01T00:00:00.000Z"') },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      'phase: S1',
      'updated_at: "2026-01-01T00:00:00.000Z"',
      'phase: [\n',
      'phase: 2\nupdated_at: 2026-01-01',
      'phase: ""\nupdated_at: "x"',
      'phase: S1\nupdated_at: "2026-01-01T00:00:00.000Z"\nowner: team-a\ntags: [a, b]',
      ': :',
      'phase: !!js/function "f"',
      'a: &a [1]\nb: *a\nphase: S1\nupdated_at: "2026-01-01T00:00:00Z"',
    ),
  },
  { weight: 1, arbitrary: fc.string({ maxLength: 40 }) },
);
const stateFile = fc.oneof(
  {
    weight: 8,
    arbitrary: fc
      .record({
        fm: fc.option(frontMatter, { nil: undefined, freq: 12 }),
        title: fc.option(line, { nil: undefined }),
        intro: fc.option(sectionBody, { nil: undefined, freq: 3 }),
        sections: fc.shuffledSubarray(['C', 'G', 'δ', 'Notes', 'C', 'Risks'], { minLength: 0, maxLength: 6 }),
        bodies: fc.array(sectionBody, { minLength: 6, maxLength: 6 }),
        goals: fc.array(goalLine, { maxLength: 5 }),
        goalProse: fc.option(line, { nil: undefined, freq: 3 }),
        crlf: fc.boolean(),
      })
      .map((s) => {
        const parts: string[] = [];
        if (s.fm !== undefined) parts.push('---', s.fm, '---', '');
        if (s.title !== undefined) parts.push(`# ${s.title}`, '');
        if (s.intro !== undefined) parts.push(s.intro, '');
        s.sections.forEach((h, i) => {
          parts.push(`## ${h}`, '');
          if (h === 'G') {
            if (s.goalProse !== undefined) parts.push(s.goalProse, '');
            parts.push(...s.goals, '');
          }
          parts.push(s.bodies[i] ?? '', '');
        });
        const out = parts.join('\n');
        return s.crlf ? out.replace(/\n/g, '\r\n') : out;
      }),
  },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 300 }) },
);

/**
 * Content of a document as a multiset of characters, without whitespace and the Markdown/separator
 * punctuation vpm may normalise (list markers, `:` after a goal id, quotes around YAML scalars).
 * A character missing afterwards is content that was lost.
 */
function chars(text: string): Map<string, number> {
  const m = new Map<string, number>();
  for (const ch of text.replace(/[\s\-*:：."'#]/gu, '')) m.set(ch, (m.get(ch) ?? 0) + 1);
  return m;
}

function lostChars(before: string, after: string): string[] {
  const a = chars(after);
  const lost: string[] = [];
  for (const [ch, n] of chars(before)) if ((a.get(ch) ?? 0) < n) lost.push(`${ch}×${n - (a.get(ch) ?? 0)}`);
  return lost;
}

/** Formatting vpm may normalise in Markdown blocks: surrounding whitespace, CRLF, runs of blank lines. */
function normalised(v: unknown): unknown {
  if (typeof v === 'string')
    return v
      .replace(/\r\n/g, '\n')
      .replace(/\n{3,}/g, '\n\n')
      .trim();
  if (Array.isArray(v)) return v.map(normalised);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, normalised(x)]));
  return v;
}

const frontMatterOf = (text: string): Record<string, unknown> | undefined => {
  const m = /^---\r?\n([\s\S]*?)\r?\n---\r?\n?/.exec(text);
  try {
    const v = m ? parseYaml(m[1]) : undefined;
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
};

// ---------------------------------------------------------------------------------------------
// JSON patches

const POINTERS = [
  '/phase',
  '/updated_at',
  '/title',
  '/current',
  '/delta',
  '/goals',
  '/goals/0',
  '/goals/1',
  '/goals/-',
  '/goals/0/id',
  '/goals/0/text',
  '/goals/9',
  '/other_sections',
  '/other_sections/-',
  '/other_sections/0/body',
  '/owner',
  '/goals/0/done',
  '',
  '/',
  '/__proto__/polluted',
  '/constructor/prototype/x',
  '/goals/~1',
  '/goals/-1',
  '/goals/01',
];
const goalValue = fc.record({
  id: fc.oneof(
    fc.integer({ min: 1, max: 9 }).map((n) => `G-${n}`),
    fc.constantFrom('G-x', 'g-1', ''),
  ),
  text: fc.oneof(line, fc.constant('')),
});
const patchValue = fc.oneof(
  goalValue,
  line,
  fc.jsonValue({ maxDepth: 2 }),
  fc.constant('2026-02-02T00:00:00.000Z'),
  fc.array(goalValue, { maxLength: 3 }),
);
const patchOp = fc.oneof(
  {
    weight: 12,
    arbitrary: fc
      .record({
        op: fc.oneof(
          { weight: 8, arbitrary: fc.constantFrom('add', 'remove', 'replace', 'move', 'copy', 'test') },
          { weight: 1, arbitrary: fc.constantFrom('ADD', 'delete', '', '_get') },
        ),
        path: fc.oneof({ weight: 6, arbitrary: fc.constantFrom(...POINTERS) }, { weight: 1, arbitrary: fc.string({ maxLength: 10 }) }),
        from: fc.constantFrom(...POINTERS),
        value: patchValue,
      })
      .map(({ op, path, from, value }) =>
        op === 'move' || op === 'copy' ? { op, path, from } : op === 'remove' ? { op, path } : { op, path, value },
      ),
  },
  { weight: 1, arbitrary: fc.oneof(fc.constantFrom(null, 1, 'add', [], { op: 'add' }, { path: '/phase' }), fc.jsonValue({ maxDepth: 1 })) },
);
const patchDoc = fc.oneof(
  { weight: 10, arbitrary: fc.array(patchOp, { maxLength: 4 }).map((ops) => JSON.stringify(ops)) },
  {
    weight: 1,
    arbitrary: fc.oneof(
      fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.stringify(v)),
      fc.constantFrom('', '[', '[{"op":"add","path":"/phase","value":"S2"},]', '\ufeff[]', '[]'.repeat(2)),
    ),
  },
);

/** Whether a patch document has an operation whose target is /updated_at. */
function writesUpdatedAt(doc: string): boolean {
  try {
    const ops: unknown = JSON.parse(doc);
    return Array.isArray(ops) && ops.some((o) => (o as { path?: unknown } | null)?.path === '/updated_at');
  } catch {
    return false;
  }
}

const RICH_STATE = [
  '---',
  'phase: S1',
  'updated_at: "2026-01-01T00:00:00.000Z"',
  '---',
  '',
  '# Current state',
  '',
  '## C',
  '',
  'Canary lane works.',
  '',
  '## G',
  '',
  '- G-1: ship the runner',
  '- G-2: canary with SLO gates',
  '',
  '## δ',
  '',
  'Next: failover drill.',
  '',
  '## Notes',
  '',
  'keep me',
  '',
].join('\n');

describe('fuzz: memory-loop inputs', () => {
  it('chat entries: accepted exactly as sent (masked) or refused with exit 2 and nothing written', async ({ task }) => {
    const c = openCase(task, 'fuzz', 'chat entries');
    const inputs = fc.sample(chatInput, { numRuns: scaled(250), seed: seedFor('chat') });
    for (const [n, i] of inputs.entries()) {
      // Most inputs in-process (fast, and argv-impossible strings); every 8th through a real process,
      // where `chat append` takes its hot path (src/cli/fast/chat-append.ts).
      const real = n % 8 === 0;
      const input = real
        ? {
            ...i,
            text: i.text.replace(/\0/g, '').toWellFormed(),
            role: i.role.replace(/\0/g, ''),
            session: i.session?.replace(/\0/g, ''),
            meta: i.meta?.replace(/\0/g, ''),
          }
        : i;
      let cwd = '';
      const ok = await c.trial(`${real ? 'process' : 'in-process'} chat append`, async (t) => {
        t.context.input = input;
        cwd = await chatTrial(t, input, real ? vpmProcess : vpmInProcess);
      });
      if (ok && cwd) removeDir(cwd);
    }
    // The 1 MiB line limit, at and over the edge.
    for (const size of [1024 * 1024 - 200, 1024 * 1024 + 10]) {
      let cwd = '';
      const ok = await c.trial(`chat append of ${size} bytes`, async (t) => {
        cwd = await chatTrial(t, { role: 'user', text: 'x'.repeat(size), viaStdin: true, session: undefined, meta: undefined }, vpmProcess);
      });
      if (ok) removeDir(cwd);
    }
    c.finish();
  });

  it('STATE files: check/show never crash and never write; a no-op patch of a valid STATE loses nothing', async ({ task }) => {
    const c = openCase(task, 'fuzz', 'STATE files');
    const files = fc.sample(stateFile, { numRuns: scaled(200), seed: seedFor('state') });
    for (const content of files) {
      const cwd = tempRepo('state', { 'STATE/current_state.md': content, 'noop.json': '[]' });
      const ok = await c.trial('state check/show/patch []', async (t) => {
        t.context = { cwd, state: content };
        const before = snapshot(cwd);
        const check = await vpmInProcess(['state', 'check'], { cwd });
        t.add(errorProblems(check, { codes: [0, 2] }));
        const show = await vpmInProcess(['--json', 'state', 'show'], { cwd });
        t.add(errorProblems(show, { codes: [check.exitCode], json: true }));
        t.add(snapshotDiff(before, snapshot(cwd)).map((d) => `read-only command changed files: ${d}`));
        if (check.exitCode !== 0) return;
        const shown = JSON.parse(show.stdout);
        const ids = shown.goals.map((g: { id: string }) => g.id);
        t.check(new Set(ids).size === ids.length, `state check passed with duplicate goal ids ${ids}`);
        const patch = await vpmInProcess(['state', 'patch', 'noop.json', '--yes'], { cwd });
        t.add(errorProblems(patch, { codes: [0] }));
        const after = readFileSync(join(cwd, 'STATE', 'current_state.md'), 'utf8');
        const again = await vpmInProcess(['--json', 'state', 'show'], { cwd });
        t.add(errorProblems(again, { codes: [0], json: true }));
        if (again.exitCode === 0) {
          const { updated_at: _a, ...was } = shown;
          const { updated_at: _b, ...now } = JSON.parse(again.stdout);
          t.same(normalised(now), normalised(was), 'parsed STATE after a no-op patch');
        }
        const lost = lostChars(content.replace(/^---\r?\n[\s\S]*?\r?\n---\r?\n?/, ''), after.replace(/^---\n[\s\S]*?\n---\n/, ''));
        t.check(lost.length === 0, () => `a no-op patch dropped content: ${lost.slice(0, 12).join(' ')}`);
        const fmBefore = frontMatterOf(content) ?? {};
        const fmAfter = frontMatterOf(after) ?? {};
        const droppedKeys = Object.keys(fmBefore).filter((k) => !(k in fmAfter));
        t.check(droppedKeys.length === 0, () => `a no-op patch dropped front-matter key(s) ${droppedKeys.join(', ')}`);
      });
      if (ok) removeDir(cwd);
    }
    c.finish();
  });

  it('JSON patches: applied exactly as RFC 6902 says, or refused with exit 2 and STATE and memory.json byte-identical', async ({
    task,
  }) => {
    const c = openCase(task, 'fuzz', 'JSON patches');
    const docs = fc.sample(patchDoc, { numRuns: scaled(250), seed: seedFor('patch') });
    for (const [n, doc] of docs.entries()) {
      const cwd = tempRepo('patch', { 'STATE/current_state.md': RICH_STATE, 'p.json': doc });
      const ok = await c.trial('state patch', async (t) => {
        t.context = { cwd, patch: doc };
        const run = n % 10 === 0 ? vpmProcess : vpmInProcess;
        const base = JSON.parse((await vpmInProcess(['--json', 'state', 'show'], { cwd })).stdout);
        const before = snapshot(cwd);
        const dry = await run(['state', 'patch', 'p.json', '--dry-run'], { cwd });
        t.add(snapshotDiff(before, snapshot(cwd)).map((d) => `--dry-run changed files: ${d}`));
        const r = await run(['state', 'patch', 'p.json', '--yes'], { cwd });
        t.check(dry.exitCode === r.exitCode, `--dry-run exited ${dry.exitCode}, the real run ${r.exitCode}`);
        // The oracle: fast-json-patch with RFC 6902 validation on the parsed state.
        let oracle: { ok: true; doc: Record<string, unknown> } | { ok: false; why: string };
        try {
          const ops = JSON.parse(doc);
          if (!Array.isArray(ops)) throw new Error('not an array');
          oracle = { ok: true, doc: jsonpatch.applyPatch(structuredClone(base), ops, true, false).newDocument };
        } catch (e) {
          oracle = { ok: false, why: (e as Error).message };
        }
        t.context.oracle = oracle.ok ? 'applies' : `refuses: ${oracle.why}`;
        t.add(errorProblems(r, { codes: oracle.ok ? [0, 2] : [2] }));
        if (r.exitCode !== 0) {
          t.add(snapshotDiff(before, snapshot(cwd)).map((d) => `refused patch changed files: ${d}`));
          return;
        }
        const shown = JSON.parse((await vpmInProcess(['--json', 'state', 'show'], { cwd })).stdout);
        if (oracle.ok) {
          for (const [k, v] of Object.entries(oracle.doc)) {
            // vpm stamps updated_at unless an operation writes it (`path`; a copy *from* it does not)
            if (k === 'updated_at' && !writesUpdatedAt(doc)) continue;
            t.same(normalised(shown[k]), normalised(v), `field ${k} after an accepted patch (accepted but not stored as patched?)`);
          }
        }
        const memory = existsSync(join(cwd, 'memory.json')) ? JSON.parse(readFileSync(join(cwd, 'memory.json'), 'utf8')) : undefined;
        t.check(memory?.entries?.[0]?.kind === 'state_patch', 'accepted patch not recorded in memory.json');
        t.add(await integrityProblems(cwd));
      });
      if (ok) removeDir(cwd);
    }
    c.finish();
  });
});
