/**
 * The canonical form of a step, shared by the policy and the executor: the policy decides on the
 * words this module produces and the executor runs exactly those words, never a re-split (issue 15,
 * class 1: the policy split on space/tab while the executor split on every JS whitespace, so
 * `rm\u00a0-f\u00a0x\u00a0./echo` was judged `echo` and ran `rm`).
 *
 * Input that could be read in more than one way is refused, not repaired: a non-ASCII whitespace
 * or format character, a control character, or a NUL anywhere in a string command, anything outside
 * printable ASCII in a program name. Argv words may carry UTF-8 text (a commit message) and
 * newlines/tabs, since no splitting happens on them.
 */
import { parse as parseShell } from 'shell-quote';

/** Characters that make a string command shell syntax the runner will not interpret itself. */
export const SHELL_SPECIAL = /[;&|<>()`$*?[\]{}\n\r\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/;

/**
 * Never canonical in a string command: C0/C1 controls (tab included), DEL, every Unicode space
 * other than U+0020, format characters (U+FEFF, zero-width and bidi controls), line/paragraph
 * separators, lone surrogates and noncharacters.
 */
// (?! ): \p{White_Space} includes U+0020 itself, the one space that separates words.
const NON_CANONICAL_STRING = /(?! )[\u0000-\u001f\u007f-\u009f\p{White_Space}\p{Cf}\p{Cs}\p{Co}\p{Cn}]/u;
/** In an argv word: the same, except that tab and newline are text there (nothing splits them). */
const NON_CANONICAL_WORD =
  /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\p{Cf}\p{Cs}\p{Co}\p{Cn}\u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]/u;
/** A program name: printable ASCII only. */
const PROGRAM_NAME = /^[\u0021-\u007e]+$/;
/** The fast path: printable ASCII and space only (almost every command). */
const PLAIN_ASCII = /^[\u0020-\u007e]*$/;

export class NonCanonicalError extends Error {}

function codePoint(ch: string): string {
  return `U+${ch.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;
}

function findNonCanonical(text: string, re: RegExp): string | undefined {
  const m = re.exec(text);
  if (!m) return undefined;
  // The index counts code points, so it matches what an editor shows.
  const at = [...text.slice(0, m.index)].length;
  return `non_canonical: ${codePoint(m[0])} at ${at}`;
}

/** Why a string command is not canonical, or undefined. */
export function checkCommandString(text: string): string | undefined {
  if (PLAIN_ASCII.test(text)) return undefined;
  return findNonCanonical(text, NON_CANONICAL_STRING);
}

/** Why an argv word is not canonical, or undefined. `program` = the word names the program to run. */
export function checkArgvWord(word: string, program: boolean): string | undefined {
  if (typeof word !== 'string') return 'non_canonical: argv word is not a string';
  if (program) {
    if (PROGRAM_NAME.test(word)) return undefined;
    if (word === '') return 'non_canonical: empty program name';
    const bad = [...word].find((c) => !PROGRAM_NAME.test(c)) ?? word[0];
    return `non_canonical: ${codePoint(bad)} at ${[...word].indexOf(bad)} in the program name`;
  }
  if (PLAIN_ASCII.test(word)) return undefined;
  return findNonCanonical(word, NON_CANONICAL_WORD);
}

/** A string command, tokenised once: either plain words or (allowlisted verbatim only) shell text. */
export type Tokenised = { kind: 'words'; words: string[] } | { kind: 'shell'; text: string; special: string };

/**
 * Splits a canonical string command into words exactly as the executor will run them (shell-quote:
 * quotes and backslashes removed). Shell syntax is reported, never interpreted; the caller decides
 * (only a verbatim allowlist entry runs it, through `sh -c`). Throws NonCanonicalError.
 */
export function tokeniseCommand(text: string): Tokenised {
  const bad = checkCommandString(text);
  if (bad) throw new NonCanonicalError(bad);
  const special = SHELL_SPECIAL.exec(text);
  if (special) return { kind: 'shell', text, special: special[0] };
  if (!/["'\\#~]/.test(text)) return { kind: 'words', words: text.split(' ').filter((w) => w !== '') };
  const tokens = parseShell(text);
  const words: string[] = [];
  for (const t of tokens) {
    if (typeof t !== 'string') return { kind: 'shell', text, special: 'comment' in t ? '#' : String((t as { op?: string }).op ?? '?') };
    words.push(t);
  }
  return { kind: 'words', words };
}

/**
 * One argv word (or any text) for a log line: control characters, DEL, C1, Unicode line breaks and
 * format characters escaped (`\n`, `\u2028`), so a word can never start a new log line or hide text
 * (issue 15, class 7).
 */
export function escapeForLog(text: string): string {
  if (PLAIN_ASCII.test(text)) return text;
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029\p{Cf}]/gu, (c) => {
    if (c === '\n') return '\\n';
    if (c === '\r') return '\\r';
    if (c === '\t') return '\\t';
    const cp = c.codePointAt(0)!;
    return cp <= 0xff ? `\\x${cp.toString(16).padStart(2, '0')}` : `\\u${cp.toString(16).padStart(4, '0')}`;
  });
}
