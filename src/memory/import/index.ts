/**
 * `vpm chat import`: agent transcripts (Codex CLI, Claude Code, Aider) → chat entries in
 * logs/<date>.jsonl through the chat log's own append path (same checks and masking as
 * `vpm chat append`).
 *
 * Incremental: each source file has a cursor in logs/import-state.json — its inode, the offset
 * read up to, a hash of the last line read and the parser's state. A re-run reads only the bytes
 * after the offset; a file whose inode changed, that shrank, or whose last-read line no longer
 * hashes the same was rotated or rewritten and is read again from its start. Duplicates are
 * impossible either way: every entry id is derived from the tool's own id for the turn, and ids
 * already imported (logs/import-ids.txt) are skipped. The whole import holds one lock, so
 * concurrent imports run one after the other and the second finds nothing new.
 *
 * Crash safety: entries are appended first, then their ids, then the cursor. An import killed in
 * between leaves entries whose ids are not recorded yet; the next import re-reads from the old
 * cursor and first scans the chat log written since the last completed import for imported ids.
 */
import { createHash } from 'node:crypto';
import { closeSync, fstatSync, openSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { appendDurable, readStateTextIfExists, withLock, writeJsonAtomic } from '../../core/fs.js';
import { maskValue } from '../../core/secrets.js';
import { utcDate } from '../../core/ids.js';
import { appendChatEntries, type AppendChatBatchInput } from '../chat-log.js';
import { listChatFiles } from '../chat-log.js';
import type { ImportTool, ImportedTurn, ToolFormat } from './types.js';

const STATE_FILE = join('logs', 'import-state.json');
const IDS_FILE = join('logs', 'import-ids.txt');
const CHUNK = 4 * 1024 * 1024;
const BATCH = 5_000;
const ID_RE = /"id":"(chat_imp_[0-9a-f]+)"/;

interface FileCursor {
  tool: ImportTool;
  ino: number;
  offset: number;
  line: number;
  last_start: number;
  last_hash: string;
  parser: unknown;
}

interface ImportState {
  version: 1;
  files: Record<string, FileCursor>;
  /** The chat log position after the last completed import (see crash safety above). */
  log?: { file: string; offset: number };
}

export interface FileReport {
  tool: ImportTool;
  file: string;
  status: 'new' | 'appended' | 'unchanged' | 'reread';
  reason?: string;
  bytes: number;
  imported: number;
  by_role: Record<string, number>;
  duplicates: number;
  skipped: number;
  unknown: Record<string, number>;
  malformed: Array<{ line: number; reason: string }>;
  too_long: number;
}

export interface ImportReport {
  dry_run: boolean;
  files: FileReport[];
  totals: { files: number; imported: number; duplicates: number; unknown: number; malformed: number };
}

export interface ImportRequest {
  root: string;
  sources: Array<{ format: ToolFormat; files: string[] }>;
  dryRun: boolean;
  now: Date;
  env: NodeJS.ProcessEnv;
}

function hash(bytes: Buffer | string): string {
  return createHash('sha1').update(bytes).digest('hex');
}

function entryId(tool: ImportTool, key: string): string {
  return `chat_imp_${hash(`${tool}\0${key}`).slice(0, 24)}`;
}

function readState(root: string): ImportState {
  const text = readStateTextIfExists(join(root, STATE_FILE));
  if (text === undefined) return { version: 1, files: {} };
  try {
    const s = JSON.parse(text) as ImportState;
    if (s && s.version === 1 && s.files && typeof s.files === 'object') return s;
  } catch {
    /* fall through: an unreadable state only costs a re-read, never a duplicate (ids dedupe) */
  }
  return { version: 1, files: {} };
}

function readRange(fd: number, start: number, end: number): Buffer {
  const buf = Buffer.allocUnsafe(Math.max(0, end - start));
  let got = 0;
  while (got < buf.length) {
    const n = readSync(fd, buf, got, buf.length - got, start + got);
    if (n === 0) break;
    got += n;
  }
  return buf.subarray(0, got);
}

/** Where to start in a file: after its cursor when the file is the one the cursor describes, else at 0. */
function resumePoint(
  fd: number,
  ino: number,
  size: number,
  cursor: FileCursor | undefined,
): { from: 'new' | 'appended' | 'reread'; reason?: string } {
  if (!cursor) return { from: 'new' };
  if (cursor.ino !== ino) return { from: 'reread', reason: 'the file was replaced (rotated): read again from its start' };
  if (size < cursor.offset) return { from: 'reread', reason: 'the file shrank (truncated): read again from its start' };
  if (cursor.offset > 0 && hash(readRange(fd, cursor.last_start, cursor.offset)) !== cursor.last_hash) {
    return { from: 'reread', reason: 'the last line read changed (rewritten): read again from its start' };
  }
  return { from: 'appended' };
}

class Seen {
  private ids: Set<string> | undefined;
  constructor(
    private root: string,
    private state: ImportState,
  ) {}

  /** Loaded only when some file has new bytes: the re-run with nothing new never reads it. */
  get(): Set<string> {
    if (this.ids) return this.ids;
    const ids = new Set<string>();
    const text = readStateTextIfExists(join(this.root, IDS_FILE)) ?? '';
    for (const line of text.split('\n')) if (line) ids.add(line);
    // Entries a killed import appended without recording their ids: in the chat log written since the last completed import.
    const from = this.state.log;
    for (const file of listChatFiles(this.root)) {
      if (from && file < from.file) continue;
      const path = join(this.root, 'logs', file);
      const fd = openSync(path, 'r');
      try {
        const start = from && file === from.file ? from.offset : 0;
        const chunk = readRange(fd, start, fstatSync(fd).size).toString('utf8');
        for (const line of chunk.split('\n')) {
          const m = ID_RE.exec(line);
          if (m?.[1]) ids.add(m[1]);
        }
      } finally {
        closeSync(fd);
      }
    }
    this.ids = ids;
    return ids;
  }
}

function emptyReport(tool: ImportTool, file: string): FileReport {
  return {
    tool,
    file,
    status: 'unchanged',
    bytes: 0,
    imported: 0,
    by_role: {},
    duplicates: 0,
    skipped: 0,
    unknown: {},
    malformed: [],
    too_long: 0,
  };
}

function toInput(tool: ImportTool, file: string, turn: ImportedTurn, line: number, offset: number): AppendChatBatchInput {
  const source: Record<string, unknown> = { tool, file, line, offset };
  if (turn.ts) source.ts = turn.ts;
  for (const [k, v] of Object.entries(turn.ids ?? {})) if (v !== undefined) source[k] = v;
  const meta: Record<string, unknown> = { source };
  if (turn.command !== undefined) meta.command = turn.command;
  if (turn.exitCode !== undefined) meta.exit_code = turn.exitCode;
  return { id: entryId(tool, turn.key), role: turn.role, text: turn.text, session: turn.session, meta };
}

async function importFile(
  req: ImportRequest,
  state: ImportState,
  seen: Seen,
  format: ToolFormat,
  file: string,
  pendingIds: string[],
): Promise<FileReport> {
  const report = emptyReport(format.tool, file);
  const fd = openSync(file, 'r');
  try {
    const st = fstatSync(fd);
    const cursor = state.files[file];
    const resume = resumePoint(fd, st.ino, st.size, cursor);
    const fromCursor = resume.from === 'appended' && cursor;
    let offset = fromCursor ? cursor.offset : 0;
    if (fromCursor && offset === st.size) return report; // nothing new: the cheap path
    report.status = resume.from;
    if (resume.reason) report.reason = resume.reason;
    const parser = format.createParser(fromCursor ? cursor.parser : undefined);
    let lineNo = fromCursor ? cursor.line : 0;
    let lastStart = fromCursor ? cursor.last_start : 0;
    const ids = seen.get();
    let batch: AppendChatBatchInput[] = [];
    const flush = async (): Promise<void> => {
      if (batch.length === 0 || req.dryRun) {
        batch = [];
        return;
      }
      const { written, tooLong } = await appendChatEntries(req.root, batch, req.now, req.env);
      report.too_long += tooLong.length;
      for (const e of written) pendingIds.push(e.id);
      appendDurable(join(req.root, IDS_FILE), written.map((e) => `${e.id}\n`).join(''));
      batch = [];
    };
    const take = (turns: ImportedTurn[], line: number, at: number): void => {
      for (const turn of turns) {
        const input = toInput(format.tool, file, turn, line, at);
        if (ids.has(input.id)) {
          report.duplicates++;
          continue;
        }
        ids.add(input.id);
        report.imported++;
        report.by_role[turn.role] = (report.by_role[turn.role] ?? 0) + 1;
        batch.push(input);
      }
    };
    let carry: Buffer = Buffer.alloc(0);
    let pos = offset;
    while (pos < st.size) {
      const chunk = readRange(fd, pos, Math.min(st.size, pos + CHUNK));
      if (chunk.length === 0) break;
      pos += chunk.length;
      const buf = carry.length ? Buffer.concat([carry, chunk]) : chunk;
      const base = pos - buf.length;
      let start = 0;
      for (;;) {
        const nl = buf.indexOf(0x0a, start);
        if (nl === -1) break;
        lineNo++;
        const text = buf.toString('utf8', start, nl);
        const at = base + start;
        if (text.trim() !== '' || format.tool === 'aider') {
          const out = parser.line(text, lineNo);
          if (out.kind === 'turns') take(out.turns, lineNo, at);
          else if (out.kind === 'skipped') report.skipped++;
          else if (out.kind === 'unknown') report.unknown[out.type] = (report.unknown[out.type] ?? 0) + 1;
          else report.malformed.push({ line: lineNo, reason: out.reason });
        }
        lastStart = at;
        offset = base + nl + 1;
        start = nl + 1;
      }
      carry = Buffer.from(buf.subarray(start));
      if (batch.length >= BATCH) await flush();
    }
    // A last line without its newline may still be being written: it is read on the next import.
    take(parser.end(), lineNo, offset);
    await flush();
    report.bytes = offset - (fromCursor ? cursor.offset : 0);
    if (!req.dryRun) {
      state.files[file] = {
        tool: format.tool,
        ino: st.ino,
        offset,
        line: lineNo,
        last_start: lastStart,
        last_hash: hash(readRange(fd, lastStart, offset)),
        parser: parser.state(),
      };
    }
    return report;
  } finally {
    closeSync(fd);
  }
}

export async function importChats(req: ImportRequest): Promise<ImportReport> {
  const statePath = join(req.root, STATE_FILE);
  return withLock(
    statePath,
    async () => {
      const state = readState(req.root);
      const seen = new Seen(req.root, state);
      const files: FileReport[] = [];
      const pendingIds: string[] = [];
      for (const { format, files: paths } of req.sources) {
        for (const file of paths) files.push(await importFile(req, state, seen, format, file, pendingIds));
      }
      const changed = files.some((f) => f.status !== 'unchanged');
      if (changed && !req.dryRun) {
        const today = `${utcDate(req.now)}.jsonl`;
        let size = 0;
        try {
          size = statSync(join(req.root, 'logs', today)).size;
        } catch {
          /* no chat log written today yet */
        }
        state.log = { file: today, offset: size };
        // Cursors hold offsets and hashes, and each parser's own state (session ids, paths): masked like any stored value.
        await writeJsonAtomic(statePath, maskValue(state));
      }
      const sum = (f: (r: FileReport) => number): number => files.reduce((n, r) => n + f(r), 0);
      return {
        dry_run: req.dryRun,
        files,
        totals: {
          files: files.length,
          imported: sum((r) => r.imported),
          duplicates: sum((r) => r.duplicates),
          unknown: sum((r) => Object.values(r.unknown).reduce((a, b) => a + b, 0)),
          malformed: sum((r) => r.malformed.length),
        },
      };
    },
    { what: 'the chat import state (logs/import-state.json)' },
  );
}
