/**
 * What of a test run's output goes into the report. A plain tail loses the one thing the reader
 * needs whenever the failure is printed far from the end (a coverage table, a long list of passing
 * tests or a second failing suite after it): the failing assertion. So the output is read as it
 * streams and split into failure blocks — vitest/jest `FAIL …` sections (assertion, Expected/
 * Received diff, `❯ file:line` frame), jest `● test` entries, pytest's `FAILURES`/`ERRORS` section
 * test by test, and for any other tool lines that say error/fail/assert with a little context — and
 * the report keeps whole failure blocks first, then the end of the output, within one size budget.
 *
 * Memory stays bounded whatever the output size: the last lines and the failure blocks up to a
 * multiple of the budget are kept (each line at most a few times the shown length), the rest is
 * only counted. Secrets are masked on whole blocks
 * before anything is cut, so a truncated token cannot slip past the patterns.
 */
import { stripVTControlCharacters } from 'node:util';
import { maskSecrets } from '../core/secrets.js';

export interface TailBudget {
  /** Most lines in the result, markers included. */
  maxLines: number;
  /** Most characters in the result (sum of line lengths). */
  maxChars: number;
  /** Longer lines are cut to this many characters. */
  maxLineChars: number;
}

export const DEFAULT_TAIL_BUDGET: TailBudget = { maxLines: 120, maxChars: 12_000, maxLineChars: 400 };

/** Lines of the end of the output kept even when failure blocks would fill the budget. */
const TAIL_RESERVE_LINES = 15;
/** Lines of a later failure block kept when it does not fit whole (its name and assertion). */
const HEAD_LINES = 12;
/** Lines a single block may hold while collecting; a longer one is cut there. */
const MAX_BLOCK_LINES = 200;
/** Lines before a generic error line that are kept with it. */
const GENERIC_BEFORE = 2;
/** Most lines after a generic error line that are kept with it (a blank line ends it sooner). */
const GENERIC_AFTER = 12;

type BlockKind = 'structured' | 'generic';

interface Block {
  kind: BlockKind;
  start: number;
  lines: string[];
  /** Lines that belonged to the block but were not kept (MAX_BLOCK_LINES). */
  dropped: number;
}

// Where a failure block starts.
const VITEST_JEST_FAIL = /^\s*FAIL\s+\S/; // vitest " FAIL  file > test", jest "FAIL file"
const JEST_TEST = /^\s+● \S/; // jest "  ● suite › test"
const PYTEST_SECTION = /^=+ (FAILURES|ERRORS) =+$/;
const PYTEST_TEST = /^_{3,} .+ _{3,}$/; // "_____ test_name _____" inside the section
// Where one ends (the line itself is not part of it).
const VITEST_SEPARATOR = /^⎯{3,}/;
const SUMMARY_LINE = /^\s*(PASS\s+\S|Test Files\s|Tests\s+\d|Test Suites:|Snapshots:|Time:|Duration\s|Start at\s)/;
const PYTEST_HEADER = /^={3,} .* ={3,}$/;
// Any other tool: a line that reports a failure.
const GENERIC_FAILURE =
  /\b(?:error|errors|fail|failed|failure|failures|failing|assert|assertion|assertionerror|exception|panic|traceback)\b|^\s*[×✗✘]\s|^not ok\b|--- FAIL:/i;

/**
 * Collects streamed output (`push` chunks as they come, then `finish`), remembering only what the
 * report can use.
 */
export class TestOutputCollector {
  private readonly budget: TailBudget;
  private partial = '';
  private total = 0;
  /** The last lines, oldest first. */
  private recent: string[] = [];
  /**
   * Whether the lines already dropped from `recent` left a private-key block open: its remaining
   * lines (no BEGIN left to see) must still be recognised as key material when masked.
   */
  private keyBlockOpen = false;
  private readonly blocks: Block[] = [];
  private current: Block | undefined;
  /** Generic blocks are followed for GENERIC_AFTER lines or until a blank line. */
  private genericLeft = 0;
  private inPytestSection = false;
  private keptChars = 0;
  /** Failure blocks seen after the store was full. */
  private blocksNotKept = 0;

  /**
   * Lines are held at most this long. Several times the shown length, so masking (done later, on
   * what is held) still sees any secret that crosses the point where the line is shown cut.
   */
  private readonly collectLineChars: number;
  private skipping = false;

  constructor(budget: TailBudget = DEFAULT_TAIL_BUDGET) {
    this.budget = budget;
    this.collectLineChars = budget.maxLineChars * 4;
  }

  push(chunk: string): void {
    let text = chunk;
    if (this.skipping) {
      // The rest of a line already cut at collectLineChars: dropped up to its newline.
      const nl = text.indexOf('\n');
      if (nl < 0) return;
      text = text.slice(nl);
      this.skipping = false;
    }
    const parts = (this.partial + text).split('\n');
    this.partial = parts.pop() ?? '';
    for (const line of parts) this.line(line);
    if (this.partial.length > this.collectLineChars) {
      this.partial = this.partial.slice(0, this.collectLineChars);
      this.skipping = true;
    }
  }

  /** The selected lines, masked with `env`'s secrets. */
  finish(env: NodeJS.ProcessEnv, extraLines: string[] = []): string[] {
    if (this.partial) this.line(this.partial);
    this.partial = '';
    for (const l of extraLines) this.line(l);
    this.close();
    return selectOutput(
      { blocks: this.blocks, recent: this.recent, total: this.total, blocksNotKept: this.blocksNotKept, keyBlockOpen: this.keyBlockOpen },
      this.budget,
      env,
    );
  }

  private line(raw: string): void {
    const cut = raw.length > this.collectLineChars ? raw.slice(0, this.collectLineChars) : raw;
    const line = stripVTControlCharacters(cut).replace(/\r$/, '');
    const index = this.total++;
    this.track(line, index);
    this.recent.push(line);
    // Room for the tail plus the generic block's lines before its first.
    if (this.recent.length > this.budget.maxLines + GENERIC_BEFORE) {
      const dropped = this.recent.shift() ?? '';
      if (KEY_BEGIN_RE.test(dropped)) this.keyBlockOpen = true;
      if (KEY_END_RE.test(dropped)) this.keyBlockOpen = false;
    }
  }

  private track(line: string, index: number): void {
    if (PYTEST_SECTION.test(line)) {
      this.close();
      this.inPytestSection = true;
      this.open('structured', index, [line]);
      return;
    }
    if (this.inPytestSection) {
      if (PYTEST_HEADER.test(line)) {
        // The next section (short test summary, warnings, the result line) ends the failures.
        this.inPytestSection = false;
        this.close();
      } else if (PYTEST_TEST.test(line)) {
        this.close();
        this.open('structured', index, [line]);
        return;
      } else {
        this.append(line);
        return;
      }
    }
    if (VITEST_JEST_FAIL.test(line) || JEST_TEST.test(line)) {
      this.close();
      this.open('structured', index, [line]);
      return;
    }
    if (this.current?.kind === 'structured') {
      if (VITEST_SEPARATOR.test(line) || SUMMARY_LINE.test(line)) this.close();
      else this.append(line);
      return;
    }
    if (this.current?.kind === 'generic') {
      if (line.trim() === '' || this.genericLeft <= 0) this.close();
      else {
        this.append(line);
        this.genericLeft--;
        return;
      }
    }
    if (GENERIC_FAILURE.test(line)) {
      const before = this.recent.slice(-GENERIC_BEFORE);
      this.open('generic', index - before.length, [...before, line]);
      this.genericLeft = GENERIC_AFTER;
    }
  }

  private open(kind: BlockKind, start: number, lines: string[]): void {
    this.current = { kind, start, lines, dropped: 0 };
  }

  private append(line: string): void {
    const b = this.current;
    if (!b) return;
    if (b.lines.length < MAX_BLOCK_LINES) b.lines.push(line);
    else b.dropped++;
  }

  private close(): void {
    const b = this.current;
    this.current = undefined;
    if (!b) return;
    while (b.lines.length > 1 && b.lines[b.lines.length - 1].trim() === '') b.lines.pop();
    const size = b.lines.reduce((n, l) => n + Math.min(l.length, this.budget.maxLineChars) + 1, 0);
    // Keep up to twice the budget: enough to choose from, bounded whatever the output.
    if (this.keptChars + size > this.budget.maxChars * 2 && this.blocks.length > 0) {
      this.blocksNotKept++;
      return;
    }
    this.keptChars += size;
    this.blocks.push(b);
  }
}

interface Collected {
  blocks: Block[];
  recent: string[];
  /** The lines before `recent` opened a private-key block that `recent` continues. */
  keyBlockOpen: boolean;
  total: number;
  blocksNotKept: number;
}

function clip(b: Block, end: number): Block {
  const room = end - b.start;
  if (b.lines.length + b.dropped <= room) return b;
  return { ...b, lines: b.lines.slice(0, room), dropped: Math.max(0, room - b.lines.length) };
}

function omitted(n: number): string {
  return `… (${n} line${n === 1 ? '' : 's'} not shown)`;
}

const KEY_BEGIN_RE = /-----BEGIN[ A-Z0-9]*PRIVATE KEY/;
const KEY_END_RE = /-----END[ A-Z0-9]*PRIVATE KEY/;

/**
 * Masks a run of lines as one text (a secret may span lines), then cuts over-long lines. When the
 * run continues a key block whose BEGIN line is gone, the BEGIN is put back for the masker and the
 * line taken off again.
 */
function maskLines(lines: string[], env: NodeJS.ProcessEnv, maxLineChars: number, continuesKeyBlock = false): string[] {
  const text = lines.join('\n');
  const masked = continuesKeyBlock
    ? maskSecrets(`-----BEGIN PRIVATE KEY-----\n${text}`, env, { keepLines: true }).replace(/^[^\n]*\n/, '')
    : maskSecrets(text, env, { keepLines: true });
  return masked.split('\n').map((l) => (l.length > maxLineChars ? `${l.slice(0, maxLineChars)}… (+${l.length - maxLineChars} chars)` : l));
}

/**
 * Failure blocks first (structured ones when there are any, else the generic ones), in the order
 * they were printed, each whole while it fits; then as much of the end of the output as is left,
 * never less than TAIL_RESERVE_LINES. Gaps between the pieces are marked with the number of lines
 * left out.
 */
function selectOutput(c: Collected, budget: TailBudget, env: NodeJS.ProcessEnv): string[] {
  const tailStart = c.total - c.recent.length; // index of recent[0]
  const reserveLines = Math.min(TAIL_RESERVE_LINES, c.recent.length);
  // The last reserveLines lines always go to the tail: blocks starting there need no copy of their
  // own, and a block running into them (one never closed, e.g. output that stopped mid-failure)
  // is clipped where they begin.
  const reserveStart = c.total - reserveLines;
  const outside = c.blocks.filter((b) => b.start < reserveStart).map((b) => clip(b, reserveStart));
  const structured = outside.filter((b) => b.kind === 'structured');
  const candidates = structured.length > 0 ? structured : outside;

  const maskedTail = maskLines(c.recent, env, budget.maxLineChars, c.keyBlockOpen);
  const reserveChars = maskedTail.slice(-reserveLines).reduce((n, l) => n + l.length, 0);

  interface Piece {
    start: number;
    end: number; // exclusive, in output line indices
    lines: string[];
  }
  const pieces: Piece[] = [];
  let usedLines = 0;
  let usedChars = 0;
  const fits = (lines: number, chars: number) =>
    usedLines + lines <= budget.maxLines - reserveLines - 1 && usedChars + chars <= budget.maxChars - reserveChars;

  let lastEnd = 0;
  const keep = (b: Block, lines: string[], marker: number) => {
    pieces.push({ start: b.start, end: b.start + b.lines.length + b.dropped, lines });
    usedLines += lines.length + marker;
    usedChars += lines.reduce((n, l) => n + l.length, 0);
    lastEnd = b.start + b.lines.length + b.dropped;
  };
  const moreOfThis = (n: number) => `… (${n} more line${n === 1 ? '' : 's'} of this failure not shown)`;
  for (const b of candidates) {
    if (b.start < lastEnd) continue; // overlaps a piece already kept
    const masked = maskLines(b.lines, env, budget.maxLineChars);
    const whole = b.dropped > 0 ? [...masked, moreOfThis(b.dropped)] : masked;
    // One marker line before the block when something precedes it.
    const marker = b.start > lastEnd ? 1 : 0;
    if (
      fits(
        whole.length + marker,
        whole.reduce((n, l) => n + l.length, 0),
      )
    ) {
      keep(b, whole, marker);
      continue;
    }
    // It does not fit whole: keep its beginning (the test's name and the assertion) — all that
    // fits when it is the first failure, at most HEAD_LINES for a later one — and leave the
    // failures after it to the marker: the first failures come first.
    const room = Math.min(budget.maxLines - reserveLines - 2 - marker - usedLines, pieces.length === 0 ? Infinity : HEAD_LINES);
    const head: string[] = [];
    let headChars = 0;
    for (const l of masked) {
      if (head.length >= room || usedChars + headChars + l.length > budget.maxChars - reserveChars) break;
      head.push(l);
      headChars += l.length;
    }
    if (head.length >= Math.min(3, masked.length)) keep(b, [...head, moreOfThis(b.lines.length - head.length + b.dropped)], marker);
    break;
  }

  // The end of the output with whatever budget is left (one line of it kept for the marker before
  // it), taken from the last line backwards and never reaching back into a kept block.
  const out: string[] = [];
  const tail: string[] = [];
  let tailChars = 0;
  const firstAvailable = Math.max(lastEnd, tailStart) - tailStart;
  for (let i = maskedTail.length - 1; i >= firstAvailable; i--) {
    const l = maskedTail[i];
    if (usedLines + tail.length + 2 > budget.maxLines || usedChars + tailChars + l.length > budget.maxChars) break;
    tail.unshift(l);
    tailChars += l.length;
  }
  const tailFirst = c.total - tail.length;

  let cursor = 0;
  for (const p of pieces) {
    if (p.start > cursor) out.push(omitted(p.start - cursor));
    out.push(...p.lines);
    cursor = p.end;
  }
  if (tailFirst > cursor) out.push(omitted(tailFirst - cursor));
  out.push(...tail);
  if (c.blocksNotKept > 0 && out.length < budget.maxLines) {
    out.splice(out.length - tail.length, 0, `… (${c.blocksNotKept} more failure block${c.blocksNotKept === 1 ? '' : 's'} not shown)`);
  }
  return out;
}
