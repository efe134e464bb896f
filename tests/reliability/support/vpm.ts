/**
 * Running vpm for the reliability suite, and the invariants every run must keep.
 *
 * - `vpmProcess`: the built CLI as a real child process (`node bin/vpm.js`), like users run it.
 * - `vpmInProcess`: the same `main()` of dist/cli/main.js called in this process with captured streams —
 *   thousands of fuzz inputs per minute, and inputs argv cannot carry (lone surrogates, NUL).
 * - `spawnVpm` + `killAt`: a child in its own process group, SIGKILLed (with its steps) at a chosen
 *   moment.
 * - `errorProblems`: a clear error (`error: …`), the documented exit code, never `internal error`
 *   or a stack trace without --debug, and at most one JSON document on stdout.
 * - `snapshot`/`snapshotDiff`: byte-level before/after of a directory ("nothing lost").
 * - `integrityProblems`: every state file vpm writes still parses and matches its schema.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { execa, type ResultPromise } from 'execa';
import { REPO_ROOT, VPM_BIN } from '../../helpers/cli.ts';
import { clip } from './ledger.ts';

export { REPO_ROOT, VPM_BIN };
const dist = (p: string) => pathToFileURL(join(REPO_ROOT, 'dist', p)).href;

export interface VpmRun {
  exitCode: number;
  stdout: string;
  stderr: string;
  durationMs: number;
}

export interface VpmRunOptions {
  cwd: string;
  env?: Record<string, string | undefined>;
  input?: string;
  timeoutMs?: number;
}

/** The environment of every vpm run here: nothing from the developer's shell that changes behaviour. */
function baseEnv(extra: Record<string, string | undefined> = {}): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = { ...process.env, NO_COLOR: '1' };
  for (const k of Object.keys(env)) {
    if (/^(VPM_(?!TESTENV|RELIABILITY)|GITHUB_|GH_TOKEN$|RUN_MODE$)/.test(k)) delete env[k];
  }
  return { ...env, ...extra };
}

export async function vpmProcess(args: string[], o: VpmRunOptions): Promise<VpmRun> {
  const t0 = Date.now();
  const r = await execa(process.execPath, [VPM_BIN, '--cwd', o.cwd, ...args], {
    cwd: o.cwd,
    env: baseEnv(o.env),
    extendEnv: false,
    input: o.input,
    stdin: o.input === undefined ? 'ignore' : undefined,
    reject: false,
    timeout: o.timeoutMs ?? 120_000,
    stripFinalNewline: false,
  });
  const harness = r.timedOut
    ? '\n[harness] timed out'
    : r.exitCode === undefined
      ? `\n[harness] could not run vpm: ${r.shortMessage ?? r.message}`
      : '';
  return {
    exitCode: r.exitCode ?? (r.timedOut ? 124 : 127),
    stdout: String(r.stdout ?? ''),
    stderr: `${String(r.stderr ?? '')}${harness}`,
    durationMs: Date.now() - t0,
  };
}

type Main = (argv: string[], io: unknown, env: NodeJS.ProcessEnv) => Promise<number>;
let mainPromise: Promise<Main> | undefined;

/** `main()` of the built CLI, in this process. */
export async function vpmInProcess(args: string[], o: VpmRunOptions): Promise<VpmRun> {
  mainPromise ??= import(dist('cli/main.js')).then((m) => m.main as Main);
  const main = await mainPromise;
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  const sink = (into: Buffer[]) =>
    new Writable({
      write(chunk, _enc, cb) {
        into.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
        cb();
      },
    });
  const io = {
    stdin: Readable.from(o.input === undefined ? [] : [Buffer.from(o.input, 'utf8')]),
    stdout: sink(out),
    stderr: sink(err),
    stdinIsTTY: false,
    stdoutIsTTY: false,
    stderrIsTTY: false,
  };
  const t0 = Date.now();
  let exitCode: number;
  try {
    exitCode = await main(['--cwd', o.cwd, ...args], io, baseEnv(o.env) as NodeJS.ProcessEnv);
  } catch (e) {
    // main() must turn every error into an exit code; one escaping is a bug in itself.
    err.push(Buffer.from(`[harness] main() threw: ${(e as Error)?.stack ?? e}\n`));
    exitCode = 70;
  }
  return {
    exitCode,
    stdout: Buffer.concat(out).toString('utf8'),
    stderr: Buffer.concat(err).toString('utf8'),
    durationMs: Date.now() - t0,
  };
}

// ---------------------------------------------------------------------------------------------
// Crash injection

export interface KilledRun {
  /** True when the process was still running at the kill (the kill landed inside the command). */
  killed: boolean;
  exitCode: number | null;
  stdout: string;
  stderr: string;
  durationMs: number;
}

export function spawnVpm(args: string[], o: VpmRunOptions): ResultPromise {
  return execa(process.execPath, [VPM_BIN, '--cwd', o.cwd, ...args], {
    cwd: o.cwd,
    env: baseEnv(o.env),
    extendEnv: false,
    detached: true, // its own process group: the kill takes its children (runner steps) too
    ...(o.input === undefined ? { stdin: 'ignore' as const } : { input: o.input }),
    reject: false,
    timeout: o.timeoutMs ?? 120_000,
  });
}

/** SIGKILLs the child's whole process group after `delayMs` (or when `when` resolves first, then waits `delayMs`). */
export async function killAt(child: ResultPromise, delayMs: number, when?: Promise<unknown>): Promise<KilledRun> {
  const t0 = Date.now();
  let done = false;
  const finished = child.then((r) => {
    done = true;
    return r;
  });
  if (when) await Promise.race([when, finished]);
  await Promise.race([new Promise((r) => setTimeout(r, delayMs)), finished]);
  const killed = !done;
  if (killed && child.pid) {
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
  const r = await finished;
  return {
    killed,
    exitCode: killed ? null : (r.exitCode ?? null),
    stdout: String(r.stdout ?? ''),
    stderr: String(r.stderr ?? ''),
    durationMs: Date.now() - t0,
  };
}

/**
 * Kill points: a fifth spread over the whole run (start-up included), the rest over its last 45%
 * (node start-up takes the first half or more; the reads and writes come at the end), up to 5% past
 * the calibrated duration.
 */
export function killDelay(rand: () => number, durationMs: number): number {
  const u = rand();
  return Math.round(u < 0.2 ? rand() * durationMs : durationMs * (0.6 + rand() * 0.45));
}

// ---------------------------------------------------------------------------------------------
// Clear errors

const STACK_RE = /^\s+at (?:.+ \()?(?:file:|node:|\/|<anonymous>|native).*$/m;

/**
 * `silentOk`: the command reports its own failure as data (e.g. `vpm run` with failed jobs) and may
 * exit non-zero without an `error:` line.
 */
export function errorProblems(r: VpmRun, o: { codes: number[]; json?: boolean; silentOk?: boolean }): string[] {
  const problems: string[] = [];
  const tail = () => `stderr: ${clip(r.stderr.trim(), 500)}`;
  if (!o.codes.includes(r.exitCode)) problems.push(`exit ${r.exitCode}, expected ${o.codes.join(' or ')}; ${tail()}`);
  if (/internal error/i.test(r.stderr)) problems.push(`internal error (vpm calls this a bug); ${tail()}`);
  if (STACK_RE.test(r.stderr) || STACK_RE.test(r.stdout)) problems.push(`stack trace without --debug; ${tail()}`);
  if (r.exitCode !== 0 && !o.silentOk && !/^error: \S/m.test(r.stderr))
    problems.push(`exit ${r.exitCode} without an "error: …" line; ${tail()}`);
  if (o.json && r.stdout.trim() !== '') {
    try {
      const doc = JSON.parse(r.stdout);
      if (r.exitCode !== 0 && doc && typeof doc === 'object' && 'ok' in doc && doc.error?.exit_code !== r.exitCode) {
        problems.push(`--json error document says exit_code ${doc.error?.exit_code}, process exited ${r.exitCode}`);
      }
    } catch {
      problems.push(`--json stdout is not exactly one JSON document: ${clip(r.stdout, 300)}`);
    }
  }
  return problems;
}

// ---------------------------------------------------------------------------------------------
// Nothing lost: byte-level snapshots

export type Snapshot = Map<string, string>;

/** sha256 of every file under dir (lock dirs and vpm's own request log excluded). */
export function snapshot(dir: string, exclude: (rel: string) => boolean = () => false): Snapshot {
  const out: Snapshot = new Map();
  if (!existsSync(dir)) return out;
  for (const e of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!e.isFile()) continue;
    const rel = relative(dir, join(e.parentPath, e.name)).split(sep).join('/');
    if (rel === 'logs/vpm.log.jsonl' || /\.lock(\/|\.owner$|$)/.test(rel) || rel.startsWith('.git/') || exclude(rel)) continue;
    out.set(
      rel,
      createHash('sha256')
        .update(readFileSync(join(dir, rel)))
        .digest('hex'),
    );
  }
  return out;
}

export function snapshotDiff(before: Snapshot, after: Snapshot): string[] {
  const out: string[] = [];
  for (const [k, v] of before) {
    if (!after.has(k)) out.push(`removed ${k}`);
    else if (after.get(k) !== v) out.push(`changed ${k}`);
  }
  for (const k of after.keys()) if (!before.has(k)) out.push(`added ${k}`);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Every file parses

interface Schemas {
  memory: import('zod').ZodType;
  chat: import('zod').ZodType;
  freeze: import('zod').ZodType;
  evidenceById: (id: string) => { schema: import('zod').ZodType } | undefined;
  readState: (cwd: string) => Promise<unknown>;
  graphemeLength: (s: string) => number;
}
let schemasPromise: Promise<Schemas> | undefined;

async function schemas(): Promise<Schemas> {
  schemasPromise ??= (async () => {
    const [memory, chat, freeze, evidence, registry, state, graphemes] = await Promise.all([
      import(dist('schemas/memory.js')),
      import(dist('schemas/chat.js')),
      import(dist('schemas/freeze.js')),
      import(dist('schemas/evidence.js')),
      import(dist('evidence/registry.js')),
      import(dist('memory/state-doc.js')),
      import(dist('memory/graphemes.js')),
    ]);
    await registry.loadEvidenceKinds();
    return {
      memory: memory.MemoryFileSchema,
      chat: chat.ChatEntrySchema,
      freeze: freeze.FreezeSchema,
      evidenceById: evidence.evidenceKindBySchemaId,
      readState: state.readState,
      graphemeLength: graphemes.graphemeLength,
    };
  })();
  return schemasPromise;
}

function filesUnder(cwd: string, dir: string, re: RegExp): string[] {
  const root = join(cwd, dir);
  if (!existsSync(root) || !statSync(root).isDirectory()) return [];
  return readdirSync(root, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && re.test(e.name))
    .map((e) => relative(cwd, join(e.parentPath, e.name)).split(sep).join('/'))
    .sort();
}

function jsonLinesProblems(cwd: string, rel: string, check?: (v: unknown) => string | undefined, allowTornTail = false): string[] {
  const text = readFileSync(join(cwd, rel), 'utf8');
  if (text === '') return [];
  const problems: string[] = [];
  if (!text.endsWith('\n') && !allowTornTail)
    problems.push(`${rel}: last line is torn (no trailing newline): ${clip(text.slice(text.lastIndexOf('\n') + 1), 120)}`);
  text
    .split('\n')
    .slice(0, -1)
    .forEach((line, i) => {
      let v: unknown;
      try {
        v = JSON.parse(line);
      } catch (e) {
        problems.push(`${rel}:${i + 1}: not JSON (${(e as Error).message}): ${clip(line, 120)}`);
        return;
      }
      const p = check?.(v);
      if (p) problems.push(`${rel}:${i + 1}: ${p}`);
    });
  return problems.slice(0, 5);
}

const zodProblem = (schema: import('zod').ZodType, v: unknown): string | undefined => {
  const r = schema.safeParse(v);
  return r.success
    ? undefined
    : r.error.issues
        .slice(0, 3)
        .map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`)
        .join('; ');
};

/**
 * Every state file vpm keeps in `cwd` parses and matches its schema: memory.json (and the 400-grapheme
 * cap), STATE, chat logs (no torn line), the request log, .ops/*.json(l), every JSON under reports/ (the
 * evidence kinds against their schema) and codex/ (jobs, unless `skipInbox`).
 *
 * `allowTornTail` (right after a SIGKILL only): an append-only log may end in the unterminated
 * remains of a write the kill cut short — readers skip a line until its newline and the next append
 * cuts it off — but every complete line must still parse.
 */
export async function integrityProblems(cwd: string, o: { skipInbox?: boolean; allowTornTail?: boolean } = {}): Promise<string[]> {
  const s = await schemas();
  const problems: string[] = [];
  const readJson = (rel: string): unknown => {
    try {
      return JSON.parse(readFileSync(join(cwd, rel), 'utf8'));
    } catch (e) {
      problems.push(`${rel}: does not parse: ${(e as Error).message}`);
      return undefined;
    }
  };
  if (existsSync(join(cwd, 'memory.json'))) {
    const m = readJson('memory.json') as { entries?: Array<{ summary?: string; id?: string }> } | undefined;
    if (m !== undefined) {
      const p = zodProblem(s.memory, m);
      if (p) problems.push(`memory.json: ${p}`);
      for (const e of m.entries ?? []) {
        if (typeof e.summary === 'string' && s.graphemeLength(e.summary) > 400)
          problems.push(`memory.json: entry ${e.id} has ${s.graphemeLength(e.summary)} graphemes (> 400)`);
      }
    }
  }
  if (existsSync(join(cwd, 'STATE', 'current_state.md'))) {
    try {
      await s.readState(cwd);
    } catch (e) {
      problems.push(`STATE/current_state.md: ${(e as Error).message}`);
    }
  }
  for (const rel of filesUnder(cwd, 'logs', /^\d{4}-\d{2}-\d{2}\.jsonl$/))
    problems.push(...jsonLinesProblems(cwd, rel, (v) => zodProblem(s.chat, v), o.allowTornTail));
  if (existsSync(join(cwd, 'logs', 'vpm.log.jsonl')))
    problems.push(...jsonLinesProblems(cwd, 'logs/vpm.log.jsonl', undefined, o.allowTornTail));
  for (const rel of filesUnder(cwd, '.ops', /\.jsonl$/)) problems.push(...jsonLinesProblems(cwd, rel, undefined, o.allowTornTail));
  for (const rel of filesUnder(cwd, '.ops', /\.json$/)) {
    const v = readJson(rel);
    if (v !== undefined && rel === '.ops/deploy_freeze.json') {
      const p = zodProblem(s.freeze, v);
      if (p) problems.push(`${rel}: ${p}`);
    }
  }
  for (const rel of filesUnder(cwd, 'reports', /\.json$/)) {
    const v = readJson(rel) as { schema?: unknown } | undefined;
    if (v && typeof v === 'object' && typeof v.schema === 'string') {
      const kind = s.evidenceById(v.schema);
      if (kind) {
        const p = zodProblem(kind.schema, v);
        if (p) problems.push(`${rel}: does not match ${v.schema}: ${p}`);
      }
    }
  }
  if (!o.skipInbox) for (const rel of filesUnder(cwd, 'codex', /\.json$/)) readJson(rel);
  return problems;
}
