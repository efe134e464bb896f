/**
 * Claude Code session transcripts: `~/.claude/projects/<project>/<session-id>.jsonl`
 * (`$CLAUDE_CONFIG_DIR/projects` when set), where `<project>` is the session's working directory
 * with every character other than a letter or digit replaced by `-` (`/home/me/app.v2` →
 * `-home-me-app-v2`). Each line is a record: `user` and `assistant` (with `uuid`, `sessionId`,
 * `timestamp` and an Anthropic Messages `message` whose content holds text, `tool_use` and
 * `tool_result` blocks), `summary` (`summary`, `leafUuid`), and bookkeeping (`system`,
 * `file-history-snapshot`, …). Claude Code's licence does not suit CI, so the tests use fixtures
 * written from this documented shape rather than the real client.
 */
import { join } from 'node:path';
import { homeDir, listFiles } from './files.js';
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

const KNOWN_SKIPPED = new Set([
  'system',
  'file-history-snapshot',
  'attachment',
  'custom-title',
  'last-prompt',
  'queue-operation',
  'progress',
]);

interface ClaudeState {
  pending: Record<string, { command: string }>;
}

function resultText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) return content.map((c) => (c && typeof c === 'object' ? (str((c as Json).text) ?? '') : '')).join('\n');
  return '';
}

class ClaudeParser implements TranscriptParser {
  private s: ClaudeState;

  constructor(state: unknown) {
    this.s = { pending: ((state ?? {}) as Partial<ClaudeState>).pending ?? {} };
  }

  state(): ClaudeState {
    return this.s;
  }

  end(): ImportedTurn[] {
    return [];
  }

  line(text: string): LineOutcome {
    const parsed = parseJsonRecord(text);
    if ('malformed' in parsed) return parsed.malformed;
    const rec = parsed.rec;
    const type = str(rec.type);
    const session = sessionId('claude-code', str(rec.sessionId));
    const ts = str(rec.timestamp);
    const uuid = str(rec.uuid);
    if (type === 'summary') {
      const summary = str(rec.summary)?.trim();
      if (!summary) return { kind: 'skipped', what: 'empty summary' };
      const leaf = str(rec.leafUuid);
      return {
        kind: 'turns',
        turns: [{ key: `summary:${leaf ?? summary}`, role: 'system', text: `Summary: ${summary}`, session, ids: { leaf_uuid: leaf } }],
      };
    }
    if (type !== 'user' && type !== 'assistant') {
      return type !== undefined && KNOWN_SKIPPED.has(type)
        ? { kind: 'skipped', what: type }
        : { kind: 'unknown', type: type ?? '(no type)' };
    }
    if (rec.isMeta === true) return { kind: 'skipped', what: `${type} (meta)` };
    const message = (rec.message ?? {}) as Json;
    const content = message.content;
    const ids = { session_id: str(rec.sessionId), uuid, message_id: str(message.id) };
    const turns: ImportedTurn[] = [];
    const texts: string[] = [];
    const blocks = typeof content === 'string' ? [{ type: 'text', text: content }] : Array.isArray(content) ? (content as Json[]) : [];
    for (const block of blocks) {
      if (!block || typeof block !== 'object') continue;
      if (block.type === 'text' && typeof block.text === 'string') texts.push(block.text);
      else if (block.type === 'tool_use') {
        const input = (block.input ?? {}) as Json;
        const name = str(block.name) ?? 'tool';
        this.s.pending[str(block.id) ?? ''] = { command: str(input.command) ?? `${name} ${JSON.stringify(input)}` };
      } else if (block.type === 'tool_result') {
        const id = str(block.tool_use_id) ?? '';
        const command = this.s.pending[id]?.command ?? '(tool call)';
        delete this.s.pending[id];
        const output = resultText(block.content);
        // The Bash tool reports a failure as an error result starting "Exit code N"; a result that
        // is not an error finished with 0. Other failures carry no code.
        const m = /^Exit code (-?\d+)/.exec(output);
        const exitCode = m ? Number(m[1]) : block.is_error === true ? undefined : 0;
        turns.push({
          key: `tool:${id}`,
          role: 'tool',
          text: toolText(command, exitCode, output),
          session,
          ts,
          command,
          exitCode,
          ids: { ...ids, tool_use_id: id },
        });
      }
    }
    const joined = texts.join('\n').trim();
    if (joined) turns.unshift({ key: `msg:${uuid ?? `${ts}:${joined}`}`, role: type, text: joined, session, ts, ids });
    return turns.length ? { kind: 'turns', turns } : { kind: 'skipped', what: `${type} (no text)` };
  }
}

/** The folder Claude Code keeps this working directory's sessions in. */
export function claudeProjectDirName(cwd: string): string {
  return cwd.replace(/[^A-Za-z0-9]/g, '-');
}

export const claudeCodeFormat: ToolFormat = {
  tool: 'claude-code',
  createParser: (state) => new ClaudeParser(state),
  async defaultFiles(root, env) {
    const base = env.CLAUDE_CONFIG_DIR?.trim() || join(homeDir(env), '.claude');
    return listFiles(join(base, 'projects', claudeProjectDirName(root)), (name) => name.endsWith('.jsonl'), 0);
  },
  expandPath: (path) => listFiles(path, (name) => name.endsWith('.jsonl'), 1),
};
