/**
 * Codex CLI rollout files: `$CODEX_HOME/sessions/YYYY/MM/DD/rollout-<time>-<uuid>.jsonl`
 * (CODEX_HOME defaults to ~/.codex). Each line is `{timestamp, type, payload}`: `session_meta`
 * (session id, cwd, cli_version), `response_item` (payload.type message / function_call /
 * function_call_output / custom_tool_call / local_shell_call / reasoning …), `event_msg` (UI events,
 * among them `exec_command_end` in older versions and `item_completed` with a `CommandExecution`
 * item in newer ones, both carrying the command and its exit code), `turn_context`, `compacted`.
 * The shapes were read from codex-rs's protocol and checked against files the real CLI (pinned in
 * scripts/install-tools.sh) writes in tests/integration/chat-import.test.ts.
 */
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { homeDir, isInside, listFiles, realpathOr } from './files.js';
import {
  type Json,
  parseJsonRecord,
  sessionId,
  str,
  toolText,
  type ImportedTurn,
  type LineOutcome,
  type ToolFormat,
  type TranscriptParser,
} from './types.js';

/** Top-level record types known to carry nothing to import (bookkeeping, usage, per-turn settings). */
const KNOWN_SKIPPED = new Set(['turn_context', 'compacted', 'world_state', 'token_usage_record']);
/** Texts Codex itself injects as user/developer messages (context, instructions), not typed by anyone. */
const INJECTED =
  /^\s*(<environment_context>|<user_instructions>|<skills_instructions>|<permissions|<user_shell_command>|<turn_aborted>|# AGENTS\.md instructions)/;
/** How many finished call ids are remembered, so the output record after an exec-end event is not stored twice. */
const RECENT_CALLS = 256;

interface Pending {
  command: string;
}

interface CodexState {
  session?: string;
  cwd?: string;
  pending: Record<string, Pending>;
  done: string[];
}

function contentText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content
    .map((c) => (c && typeof c === 'object' ? (str((c as Json).text) ?? '') : ''))
    .filter(Boolean)
    .join('\n');
}

/** `["bash","-lc","echo hi"]` → `echo hi`; other argv arrays joined with spaces. */
export function commandLine(command: unknown): string | undefined {
  if (typeof command === 'string') return command;
  if (!Array.isArray(command) || command.length === 0) return undefined;
  const argv = command.map(String);
  if (argv.length === 3 && /(^|\/)(ba|z|da)?sh$/.test(argv[0] ?? '') && /^-l?c$/.test(argv[1] ?? '')) return argv[2];
  return argv.join(' ');
}

function callCommand(name: string, args: unknown): string {
  let parsed: unknown = args;
  if (typeof args === 'string') {
    try {
      parsed = JSON.parse(args);
    } catch {
      return `${name} ${args}`;
    }
  }
  const a = (parsed && typeof parsed === 'object' ? parsed : {}) as Json;
  return (
    commandLine(a.cmd) ?? commandLine(a.command) ?? `${name}${args ? ` ${typeof args === 'string' ? args : JSON.stringify(args)}` : ''}`
  );
}

/** The exit code in a function_call_output: "Process exited with code N" (exec_command) or `{metadata:{exit_code}}` (shell). */
function outputExitCode(output: unknown): { exitCode?: number; text: string } {
  let text = typeof output === 'string' ? output : JSON.stringify(output ?? '');
  if (output && typeof output === 'object' && typeof (output as Json).content === 'string') text = (output as Json).content as string;
  const m = /Process exited with code (-?\d+)/.exec(text) ?? /Exit code:? (-?\d+)/.exec(text);
  if (m) return { exitCode: Number(m[1]), text };
  try {
    const j = JSON.parse(text) as Json;
    const meta = j.metadata as Json | undefined;
    if (meta && typeof meta.exit_code === 'number') return { exitCode: meta.exit_code, text: str(j.output) ?? text };
  } catch {
    /* plain text output */
  }
  return { text };
}

class CodexParser implements TranscriptParser {
  private s: CodexState;

  constructor(state: unknown) {
    const s = (state ?? {}) as Partial<CodexState>;
    this.s = { session: s.session, cwd: s.cwd, pending: s.pending ?? {}, done: s.done ?? [] };
  }

  state(): CodexState {
    return this.s;
  }

  end(): ImportedTurn[] {
    return [];
  }

  private session(): string {
    return sessionId('codex', this.s.session);
  }

  private finish(
    callId: string,
    command: string,
    exitCode: number | undefined,
    output: string | undefined,
    ts: string | undefined,
  ): LineOutcome {
    delete this.s.pending[callId];
    if (this.s.done.includes(callId)) return { kind: 'skipped', what: 'tool output already imported' };
    this.s.done.push(callId);
    if (this.s.done.length > RECENT_CALLS) this.s.done.splice(0, this.s.done.length - RECENT_CALLS);
    return {
      kind: 'turns',
      turns: [
        {
          key: `${this.s.session ?? ''}:call:${callId}`,
          role: 'tool',
          session: this.session(),
          text: toolText(command, exitCode, output),
          command,
          exitCode,
          ts,
          ids: { session_id: this.s.session, call_id: callId },
        },
      ],
    };
  }

  line(text: string): LineOutcome {
    const parsed = parseJsonRecord(text);
    if ('malformed' in parsed) return parsed.malformed;
    const rec = parsed.rec;
    const type = str(rec.type);
    const p = (rec.payload && typeof rec.payload === 'object' ? rec.payload : {}) as Json;
    const ts = str(rec.timestamp);
    if (type === 'session_meta') {
      // Newer files nest it: payload.meta; older ones have the fields on payload itself.
      const meta = (p.meta && typeof p.meta === 'object' ? p.meta : p) as Json;
      this.s.session = str(meta.id) ?? str(meta.session_id) ?? this.s.session;
      this.s.cwd = str(meta.cwd) ?? this.s.cwd;
      return { kind: 'skipped', what: 'session_meta' };
    }
    if (type === 'event_msg') return this.event(p, ts);
    if (type === 'response_item') return this.item(p, ts);
    if (type !== undefined && KNOWN_SKIPPED.has(type)) return { kind: 'skipped', what: type };
    return { kind: 'unknown', type: type ?? '(no type)' };
  }

  private event(p: Json, ts: string | undefined): LineOutcome {
    const t = str(p.type);
    if (t === 'exec_command_end') {
      const callId = str(p.call_id) ?? '';
      const command = commandLine(p.command) ?? this.s.pending[callId]?.command ?? '(command)';
      const exitCode = typeof p.exit_code === 'number' ? p.exit_code : undefined;
      return this.finish(callId, command, exitCode, str(p.aggregated_output) ?? str(p.formatted_output) ?? str(p.stdout), ts);
    }
    if (t === 'item_completed' && p.item && typeof p.item === 'object' && (p.item as Json).type === 'CommandExecution') {
      const item = p.item as Json;
      const callId = str(item.id) ?? '';
      const command = commandLine(item.command) ?? this.s.pending[callId]?.command ?? '(command)';
      const exitCode = typeof item.exit_code === 'number' ? item.exit_code : undefined;
      return this.finish(callId, command, exitCode, str(item.aggregated_output), ts);
    }
    // Other events (user_message, agent_message, token_count, task_started …) repeat what the
    // response items already hold, or are UI state.
    return { kind: 'skipped', what: `event_msg${t ? `:${t}` : ''}` };
  }

  private item(p: Json, ts: string | undefined): LineOutcome {
    const t = str(p.type);
    const ids = { session_id: this.s.session, item_id: str(p.id) };
    switch (t) {
      case 'message': {
        const role = str(p.role);
        const text = contentText(p.content).trim();
        if ((role !== 'user' && role !== 'assistant') || text === '' || (role === 'user' && INJECTED.test(text))) {
          return { kind: 'skipped', what: `message:${role ?? '?'}` };
        }
        // A message id when Codex records one; else the content itself identifies the turn.
        const key = `${this.s.session ?? ''}:${str(p.id) ?? `${role}:${ts ?? ''}:${text}`}`;
        return { kind: 'turns', turns: [{ key, role, text, session: this.session(), ts, ids }] };
      }
      case 'function_call':
      case 'custom_tool_call': {
        const callId = str(p.call_id) ?? str(p.id) ?? '';
        this.s.pending[callId] = { command: callCommand(str(p.name) ?? 'tool', p.arguments ?? p.input) };
        return { kind: 'skipped', what: `${t} (stored with its output)` };
      }
      case 'local_shell_call': {
        const callId = str(p.call_id) ?? str(p.id) ?? '';
        const action = (p.action ?? {}) as Json;
        this.s.pending[callId] = { command: commandLine(action.command) ?? 'local_shell' };
        return { kind: 'skipped', what: `${t} (stored with its output)` };
      }
      case 'function_call_output':
      case 'custom_tool_call_output': {
        const callId = str(p.call_id) ?? '';
        const { exitCode, text } = outputExitCode(p.output);
        return this.finish(callId, this.s.pending[callId]?.command ?? '(tool call)', exitCode, text, ts);
      }
      case 'reasoning':
      case 'web_search_call':
      case 'compaction':
        return { kind: 'skipped', what: t };
      default:
        return { kind: 'unknown', type: `response_item:${t ?? '?'}` };
    }
  }
}

/** The cwd a rollout file records on its first line (session_meta), or undefined. */
export async function rolloutCwd(path: string): Promise<string | undefined> {
  const fh = await open(path, 'r');
  try {
    // session_meta holds the base instructions, tens of KB: read until its newline, at most 4 MiB.
    const chunks: Buffer[] = [];
    let total = 0;
    const buf = Buffer.allocUnsafe(256 * 1024);
    while (total < 4 * 1024 * 1024) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, total);
      if (bytesRead === 0) break;
      const part = buf.subarray(0, bytesRead);
      const nl = part.indexOf(0x0a);
      chunks.push(Buffer.from(nl === -1 ? part : part.subarray(0, nl)));
      total += bytesRead;
      if (nl !== -1) break;
    }
    const rec = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Json;
    if (rec.type !== 'session_meta') return undefined;
    const p = (rec.payload ?? {}) as Json;
    const meta = (p.meta && typeof p.meta === 'object' ? p.meta : p) as Json;
    return str(meta.cwd);
  } catch {
    return undefined;
  } finally {
    await fh.close();
  }
}

export const codexFormat: ToolFormat = {
  tool: 'codex',
  createParser: (state) => new CodexParser(state),
  async defaultFiles(root, env) {
    const home = env.CODEX_HOME?.trim() || join(homeDir(env), '.codex');
    const files = await listFiles(join(home, 'sessions'), (name) => /^rollout-.*\.jsonl$/.test(name), 4);
    const realRoot = await realpathOr(root);
    const mine: string[] = [];
    for (const file of files) {
      const cwd = await rolloutCwd(file);
      if (cwd !== undefined && isInside(await realpathOr(cwd), realRoot)) mine.push(file);
    }
    return mine;
  },
  expandPath: (path) => listFiles(path, (name) => name.endsWith('.jsonl'), 4),
};
