/**
 * What a digest is for: the decisions, next actions and open items, commands, evidence paths, goal
 * ids and SLO figures of a conversation, each tied to the chat entry it came from. Offline and
 * deterministic (regular expressions and ICU segmentation only), in Japanese and English plain prose:
 * people write "SLO 違反のためカナリアを中止し…" or "we're going with 20", not `DECISION:` markers.
 *
 * Sentences are classified by cue phrases. A next-action cue (次は/明日/TODO/tomorrow/need to …)
 * makes a sentence an open item; a strong decision cue (決定/合意/中止/採用/decided/agreed/aborted/
 * rolled back …) makes it a decision even when it also names a next step; a weak one (〜にする/we'll)
 * only when there is no next-action cue ("we'll redeploy tomorrow" is a plan, not a decision).
 * Questions are never decisions, and open items only with an explicit marker (TODO/要確認 …).
 */
import type { ChatEntry } from './chat-log.js';

export type FindingKind = 'decision' | 'next' | 'command' | 'evidence' | 'goal' | 'slo';

export interface Finding {
  kind: FindingKind;
  text: string;
  /** The chat entry the finding came from (its first mention). */
  entry_id: string;
  ts: string;
  /** `command` findings from `role: tool` entries: the exit code recorded in meta. */
  exit_code?: number | null;
}

const sentenceSegmenter = new Intl.Segmenter('ja', { granularity: 'sentence' });

const NEXT_CUES = [
  // Japanese: time words, markers, plans.
  /次は|次に|次回|次の(?:スプリント|週|定例|ミーティング|リリース|作業|ステップ|手順)|明日|あした|明朝|明後日|来週|来月|週明け|今度|後ほど|後で|あとで|までに|TODO|要確認|要対応|要調査|予定|宿題|残作業|残タスク|フォローアップ|忘れずに|しておきます|しておく|しておいて|てもらえますか|が(?:やります|対応します|引き取ります|担当します)/i,
  // English. "next" only as a step ("next, …", "next step", "do next"), not "the next revision".
  /\bto-?do\b|\bfollow[- ]?up\b|\btomorrow\b|(?<!\bno )\bneeds? to\b|\bhave to\b|\bstill (?:need|have) to\b|\baction items?\b|\bnext (?:step|steps|action|time|up|week|sprint|we|i|let's|monday|morning)\b|(?:^|[.;:]\s*)next\b|\bnext[:,]|\b(?:do|try|tackle|handle|check|look at|then) next\b|\blater (?:today|this week|tonight)\b|\b(?:do|check|look at|revisit|handle) (?:it|this|that) later\b|\bI'll\b|\bI will\b|\bremember to\b|\bdon't forget\b|\bmake sure (?:to|we)\b|\bwe should\b|\bpending\b|\bTBD\b|\bon monday\b|\bnext week\b/i,
];
/** Explicit open-item markers: these count even in a question. */
const OPEN_MARKERS =
  /TODO|要確認|要対応|要調査|未解決|未定|宿題|\bto-?do\b|\bfollow[- ]?up\b|\baction items?\b|\bopen question\b|\bunclear\b|\bunresolved\b|\bTBD\b/i;
const UNDECIDED =
  /not (?:yet )?decided|haven't (?:yet )?decided|hasn't been decided|\bundecided\b|\bno decision\b|decision is pending|未定|まだ決め|決まっていない|決めていない|決まってない|決めてない|保留/i;
const DECISION_STRONG = [
  /決定|決めました|決めた|決めます|決まりました|決まった|決まり。|合意|中止|採用|見送|取りやめ|取り止め|切り戻し|ロールバックしました|ロールバックします|ロールバックする|ロールバック済|方針|ことにした|ことにしました|ことにします|ことにする|ことになりました|承認しました|確定/,
  /\bdecided\b|\bdecision\b|\bagreed\b|\bagree (?:on|to)\b|\bgoing with\b|\bgo with\b|\baborted\b|\babort(?:ing)? (?:the|it|this)\b|\brolled back\b|\broll(?:ing)? (?:it )?back\b|\bsettled on\b|\bchose\b|\bopted (?:for|to)\b|\breverted\b|\bapproved\b|\bstick with\b|\bthe plan is\b|\blet's (?!(?:see|check|look|wait|talk|discuss|think|chat|sync|not|try|figure|find|ask|hope)\b)[a-z]+|\bwe(?:'re| are) (?:going to|switching|keeping|dropping|pinning)\b|\bcalled off\b|\bpostponed?\b/i,
];
const DECISION_WEAK = [
  /にします|にする|にしました|にしましょう|でいきます|で行きます|でいこう|で進めます|で進める|とします|しないことに|を使います/,
  /\bwe'll\b|\bwe will\b|\bwe won't\b|\bwe will not\b/i,
];
const QUESTION = /[?？]\s*$|^(?:should|shall|do|does|did|can|could|would|is|are|was|were) (?:we|i|you|it|this|that|they)\b/i;

const wordSegmenter = new Intl.Segmenter('ja', { granularity: 'word' });

/** Whether a sentence has at least `min` words (stops counting there: segmentation is the cost). */
function hasWords(s: string, min: number): boolean {
  let n = 0;
  for (const w of wordSegmenter.segment(s)) if (w.isWordLike && ++n >= min) return true;
  return false;
}

const test = (res: RegExp[], s: string) => res.some((re) => re.test(s));

/** Whether one sentence is a decision, a next action / open item, both, or neither. */
export function classifySentence(sentence: string): { decision: boolean; next: boolean } {
  const s = sentence.normalize('NFKC');
  if (QUESTION.test(s)) return { decision: false, next: OPEN_MARKERS.test(s) };
  if (UNDECIDED.test(s)) return { decision: false, next: true };
  const next = test(NEXT_CUES, s) || OPEN_MARKERS.test(s);
  // A bare "Agreed." or "決定！" acknowledges; a decision says what was decided.
  const decision = (test(DECISION_STRONG, s) || (!next && test(DECISION_WEAK, s))) && hasWords(s, 3);
  return { decision, next };
}

/** Sentences of a text: ICU sentence rules per line (。！？ and . ! ?), list markers dropped. */
function sentencesOf(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split(/\r?\n+/)) {
    for (const { segment } of sentenceSegmenter.segment(line)) {
      const s = segment
        .replace(/\s+/g, ' ')
        .trim()
        .replace(/^(?:[-*•>]|\d+[.)])\s+/, '')
        .trim();
      if (s !== '') out.push(s);
    }
  }
  return out;
}

/**
 * The subcommands a word must be followed by to read as a command line, so "git is great" or
 * "npm registry" in prose are not commands. vpm's list is checked against the command table by a test.
 */
export const VPM_COMMAND_WORDS = [
  'apply',
  'ask',
  'canary',
  'chat',
  'checkin',
  'checkpoint',
  'clusters',
  'completion',
  'contract',
  'diagrams',
  'digest',
  'failover',
  'freeze',
  'guard',
  'healthcheck',
  'history',
  'init',
  'loop',
  'memory',
  'policy',
  'ready',
  'release',
  'rollback',
  'run',
  'schema',
  'sli',
  'state',
  'summary',
  'version',
];
const SUBCOMMANDS: Record<string, Set<string>> = {
  vpm: new Set(VPM_COMMAND_WORDS),
  git: new Set(
    'add am apply bisect blame branch checkout cherry-pick clean clone commit config describe diff fetch grep init log merge mv pull push rebase reflog remote reset restore revert rm show stash status switch tag worktree'.split(
      ' ',
    ),
  ),
  kubectl: new Set(
    'annotate apply attach auth autoscale cordon cp create debug delete describe diff drain edit events exec explain expose get label logs patch port-forward proxy replace rollout run scale set taint top uncordon wait config version'.split(
      ' ',
    ),
  ),
  npm: new Set(
    'audit ci exec i install init link ls outdated pack publish rebuild run run-script start stop t test uninstall update version view'.split(
      ' ',
    ),
  ),
  gh: new Set('api auth browse issue pr release repo run secret workflow label search'.split(' ')),
};
const TOOL_RE = /(?<![\w./$-])(vpm|kubectl|git|npm|gh)\s+([a-z][\w:-]*)/g;
/** Words that end an unquoted command inside prose ("… --weight 10 and it passed"). */
const PROSE_STOP = new Set(
  'and then but to so which that it with after before because again now later was is were are passed failed worked works returned gave showed said first'.split(
    ' ',
  ),
);
const ARG_TOKEN = /^(?:[\w./:=@,+%~^-]+|"[^"\n]*"|'[^'\n]*')$/;

function isCommandStart(tool: string, sub: string): boolean {
  return SUBCOMMANDS[tool]?.has(sub) ?? false;
}

/** A backticked span or a `$ `-prefixed line that parses as a command line, else null. */
function wholeCommand(span: string): string | null {
  const s = span.trim().replace(/^\$\s+/, '');
  const [tool, sub] = s.split(/\s+/);
  return tool && sub && isCommandStart(tool, sub) ? s.replace(/\s+/g, ' ') : null;
}

/** Commands in a text: backticked spans, `$ ` lines, and unquoted command lines in prose. */
export function commandsOf(text: string): string[] {
  const out: string[] = [];
  const prose = text.replace(/`+([^`\n]+)`+/g, (_, span: string) => {
    const c = wholeCommand(span);
    if (c) out.push(c);
    return ' '.repeat(span.length + 2);
  });
  for (const line of prose.split(/\r?\n/)) {
    const dollar = /^\s*\$\s+(.+)$/.exec(line);
    if (dollar) {
      const c = wholeCommand(dollar[1]);
      if (c) {
        out.push(c);
        continue;
      }
    }
    for (const m of line.matchAll(TOOL_RE)) {
      if (!isCommandStart(m[1], m[2])) continue;
      const tokens = line.slice(m.index).split(/\s+/);
      const kept: string[] = [];
      for (const [i, raw] of tokens.entries()) {
        const t = i >= 1 ? raw.replace(/[.,;:!?]+$/, '') : raw;
        if (i >= 2 && (PROSE_STOP.has(t.toLowerCase()) || !ARG_TOKEN.test(t))) break;
        kept.push(t);
        if (t !== raw) break; // a sentence ended at this token
      }
      out.push(kept.join(' '));
    }
  }
  return out;
}

const PATH_RE =
  /(?<![\w./-])((?:reports|docs|diagrams|infra|scripts|src|tests|STATE|codex|logs|bench|\.ops|\.github)\/[\w./@-]*[\w/-]|(?:[\w.-]+\/)+[\w.-]+\.(?:json|jsonl|md|ya?ml|log|txt|svg|csv|html|ts|js))(?![\w/])/g;
const GOAL_RE = /(?<![\w-])G-\d+(?!\d)/g;
const SLO_RE =
  /(?:(?<![\w])(?:p\d{2}(?:\.\d+)?|latency|error[ -]rate|success[ -]rate|availability|SLO|レイテンシ|遅延|エラー率|成功率|可用性)\s*(?:[:=は]|が|of|is|was|at|=)?\s*)?(?<![\w.])\d+(?:\.\d+)?\s?(?:ms|%|rps|qps|req\/s|s)(?![\w])/gi;

export function pathsOf(text: string): string[] {
  return Array.from(text.matchAll(PATH_RE), (m) => m[1].replace(/[.]+$/, ''));
}

export function goalsOf(text: string): string[] {
  return Array.from(text.matchAll(GOAL_RE), (m) => m[0]);
}

/** Numbers with units that read as SLO facts: "p95 420ms", "error rate 2.5%", "99.9%". */
export function sloFactsOf(text: string): string[] {
  return Array.from(text.normalize('NFKC').matchAll(SLO_RE), (m) => m[0].replace(/\s+/g, ' ').trim());
}

function toolCommand(entry: ChatEntry): { command: string; exit: number | null } | null {
  const meta = entry.meta ?? {};
  const raw = meta.command ?? meta.cmd;
  const command = Array.isArray(raw) ? raw.map(String).join(' ') : typeof raw === 'string' ? raw : (entry.text.split(/\r?\n/)[0] ?? '');
  const code = meta.exit_code ?? meta.exitCode ?? meta.exit ?? meta.status;
  const flat = command
    .replace(/^\$\s+/, '')
    .replace(/\s+/g, ' ')
    .trim();
  if (flat === '') return null;
  return { command: flat, exit: typeof code === 'number' && Number.isInteger(code) ? code : null };
}

/**
 * Every finding of the entries, in entry order then text order; a repeated finding keeps its first
 * entry. `role: tool` entries contribute their command (with exit code) and artefacts, never prose.
 */
export function extractFindings(entries: readonly ChatEntry[]): Finding[] {
  const out: Finding[] = [];
  const seen = new Set<string>();
  const add = (kind: FindingKind, text: string, e: ChatEntry, extra: Partial<Finding> = {}) => {
    const key = `${kind}\u0000${text}\u0000${extra.exit_code ?? ''}`;
    if (seen.has(key)) return;
    seen.add(key);
    out.push({ kind, text, entry_id: e.id, ts: e.ts, ...extra });
  };
  for (const e of entries) {
    if (e.role === 'tool') {
      const c = toolCommand(e);
      if (c) add('command', c.command, e, { exit_code: c.exit });
    } else {
      for (const s of sentencesOf(e.text)) {
        const { decision, next } = classifySentence(s);
        if (decision) add('decision', s, e);
        if (next) add('next', s, e);
      }
      for (const c of commandsOf(e.text)) add('command', c, e);
    }
    for (const p of pathsOf(e.text)) add('evidence', p, e);
    for (const g of goalsOf(e.text)) add('goal', g, e);
    if (e.role !== 'tool') for (const f of sloFactsOf(e.text)) add('slo', f, e);
  }
  return out;
}
