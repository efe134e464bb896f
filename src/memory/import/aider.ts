/**
 * Aider's `.aider.chat.history.md` (in the repository root): Markdown appended as the chat goes.
 * `# aider chat started at <time>` opens a session; `#### ` lines are what the user typed (one
 * turn, several lines); `> ` lines are Aider's own output (`> Running <command>` when it runs a
 * shell command the reply suggested — Aider 0.86 does not write the exit code there); everything else
 * is the assistant's reply. Checked against files the real aider (pinned in
 * scripts/install-tools.sh) writes in tests/integration/chat-import.test.ts.
 */
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import { listFiles } from './files.js';
import { sessionId, type ImportedTurn, type LineOutcome, type ToolFormat, type TranscriptParser } from './types.js';

interface AiderState {
  session?: string;
  started?: string;
  turn: number;
  block?: { role: 'user' | 'assistant'; lines: string[]; line: number };
}

const STARTED = /^# aider chat started at (.+?)\s*$/;

class AiderParser implements TranscriptParser {
  private s: AiderState;

  constructor(state: unknown) {
    const s = (state ?? {}) as Partial<AiderState>;
    this.s = { session: s.session, started: s.started, turn: s.turn ?? 0, block: s.block };
  }

  state(): AiderState {
    return this.s;
  }

  private turn(role: ImportedTurn['role'], text: string, extra: Partial<ImportedTurn> = {}, line?: number): ImportedTurn {
    const n = this.s.turn++;
    // The n-th turn of the session that started at this time: the same on every re-read of the file.
    return {
      key: `${this.s.started ?? ''}:${n}`,
      role,
      text,
      session: sessionId('aider', this.s.session),
      ids: { started_at: this.s.started, turn: n, line },
      ...extra,
    };
  }

  private flush(): ImportedTurn[] {
    const b = this.s.block;
    this.s.block = undefined;
    if (!b) return [];
    const text = b.lines.join('\n').trim();
    return text === '' ? [] : [this.turn(b.role, text, {}, b.line)];
  }

  end(): ImportedTurn[] {
    return this.flush();
  }

  line(raw: string, lineNo: number): LineOutcome {
    const text = raw.replace(/\r$/, '');
    const started = STARTED.exec(text);
    if (started) {
      const turns = this.flush();
      this.s.started = started[1];
      this.s.session = (started[1] ?? '').replace(/[^\d]/g, '');
      this.s.turn = 0;
      return turns.length ? { kind: 'turns', turns } : { kind: 'skipped', what: 'session start' };
    }
    if (text.startsWith('####')) {
      const body = text.replace(/^####\s?/, '').replace(/ {2}$/, '');
      if (this.s.block?.role === 'user') {
        this.s.block.lines.push(body);
        return { kind: 'skipped', what: 'user line (continued)' };
      }
      const turns = this.flush();
      this.s.block = { role: 'user', lines: [body], line: lineNo };
      return turns.length ? { kind: 'turns', turns } : { kind: 'skipped', what: 'user line' };
    }
    if (text.startsWith('>')) {
      const turns = this.flush();
      const body = text.replace(/^>\s?/, '').replace(/ {2}$/, '');
      const run = /^Running (.+)$/.exec(body);
      if (run?.[1]) {
        const command = run[1];
        turns.push(this.turn('tool', `$ ${command}`, { command }, lineNo));
      }
      return turns.length ? { kind: 'turns', turns } : { kind: 'skipped', what: 'aider output' };
    }
    if (this.s.block?.role === 'assistant') {
      this.s.block.lines.push(text);
      return { kind: 'skipped', what: 'assistant line (continued)' };
    }
    const turns = this.flush();
    if (text.trim() !== '') this.s.block = { role: 'assistant', lines: [text], line: lineNo };
    return turns.length ? { kind: 'turns', turns } : { kind: 'skipped', what: 'blank line' };
  }
}

export const aiderFormat: ToolFormat = {
  tool: 'aider',
  createParser: (state) => new AiderParser(state),
  async defaultFiles(root) {
    const file = join(root, '.aider.chat.history.md');
    return existsSync(file) ? [file] : [];
  },
  expandPath: (path) => listFiles(path, (name) => name === '.aider.chat.history.md', 0),
};
