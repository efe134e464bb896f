/** What the per-tool transcript parsers hand to the import engine (src/memory/import/index.ts). */

export type ImportTool = 'codex' | 'claude-code' | 'aider';

/** One turn found in a source file. `key` is the tool's own id for it (never an offset alone), so a re-read maps to the same entry id. */
export interface ImportedTurn {
  key: string;
  role: 'user' | 'assistant' | 'system' | 'tool';
  text: string;
  session: string;
  /** The tool's own ids and the record's timestamp, stored under meta.source. */
  ids?: Record<string, string | number | undefined>;
  ts?: string;
  /** For role 'tool': the command line and its exit code when the transcript records one. */
  command?: string;
  exitCode?: number;
}

/** What one line did: turns to store, or a reason it was skipped. */
export type LineOutcome =
  | { kind: 'turns'; turns: ImportedTurn[] }
  | { kind: 'skipped'; what: string }
  | { kind: 'unknown'; type: string }
  | { kind: 'malformed'; reason: string };

/**
 * A parser reads complete lines in file order. Its state (the current session, calls waiting for
 * their output) is plain JSON kept in the file's cursor, so an incremental run resumes mid-file.
 */
export interface TranscriptParser {
  line(text: string, lineNo: number): LineOutcome;
  /** Turns still held when the file ends (Aider's last block); the cursor then sits at the end. */
  end(): ImportedTurn[];
  state(): unknown;
}

export interface ToolFormat {
  tool: ImportTool;
  createParser(state: unknown): TranscriptParser;
  /** This tool's transcripts for the repository at `root`, from its own default locations. */
  defaultFiles(root: string, env: NodeJS.ProcessEnv): Promise<string[]>;
  /** The files a path the user gave stands for (a directory is searched). */
  expandPath(path: string): Promise<string[]>;
}

/** The text kept for a tool call's output: enough to read what happened, never a whole build log. */
const MAX_TOOL_OUTPUT_CHARS = 2_000;

function clip(text: string, max = MAX_TOOL_OUTPUT_CHARS): string {
  return text.length <= max ? text : `${text.slice(0, max)}\n… (${text.length - max} more characters)`;
}

export function toolText(command: string, exitCode: number | undefined, output: string | undefined): string {
  const head = `$ ${command}${exitCode === undefined ? '' : `\n(exit ${exitCode})`}`;
  const out = output?.trim();
  return out ? `${head}\n${clip(out)}` : head;
}

/** A session id as chat entries accept it (letters, digits, `.:-_`, at most 128). */
export function sessionId(tool: string, raw: string | undefined): string {
  const cleaned = (raw ?? 'unknown').replace(/[^\w.:-]/g, '-').slice(0, 100);
  return `${tool}-${cleaned}`;
}

/** A JSONL record as the parsers read it. */
export type Json = Record<string, unknown>;

export function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

/** One JSONL line as an object, or why it is malformed (reported with file:line, never fatal). */
export function parseJsonRecord(text: string): { rec: Json } | { malformed: LineOutcome } {
  let rec: unknown;
  try {
    rec = JSON.parse(text);
  } catch (err) {
    return { malformed: { kind: 'malformed', reason: `not JSON (${(err as Error).message})` } };
  }
  if (!rec || typeof rec !== 'object' || Array.isArray(rec)) return { malformed: { kind: 'malformed', reason: 'not a JSON object' } };
  return { rec: rec as Json };
}
