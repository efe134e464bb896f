/**
 * Offline, deterministic extractive summariser: split into sentences (ICU sentence rules, which
 * handle 。！？ as well as . ! ?), score each by the frequency of its words across the batch plus
 * cues (decisions, open items, commands, paths), then greedily keep the best sentences that fit
 * under the grapheme cap, in their original order. Decisions and next actions (the digest's own
 * classifier) are kept before any other sentence when not everything fits: they are what the next
 * session needs, chatter is not. A single sentence that is too long is cut at a grapheme boundary
 * with `…`.
 */
import { classifySentence } from '../findings.js';
import { graphemeLength, truncateGraphemes } from '../graphemes.js';

export interface SummaryInputTurn {
  role: string;
  text: string;
}

const sentenceSegmenter = new Intl.Segmenter('ja', { granularity: 'sentence' });
const wordSegmenter = new Intl.Segmenter('ja', { granularity: 'word' });

const STOPWORDS = new Set(
  'a an the and or but if then else of to in on at by for with from as is are was were be been it this that these those i you we they he she me my our your its not no do does did so can will just also は が を に で と の も へ や か ね よ です ます した する いる ある こと これ それ'.split(
    ' ',
  ),
);

const CUE_RE =
  /(決定|決め|合意|方針|次に|TODO|todo|要対応|未解決|課題|decid|agreed|must|should|next|todo|fix|error|fail|失敗|エラー|修正)/i;
const ARTEFACT_RE = /(`[^`]+`|\b[\w.-]+\/[\w./-]+|\bvpm\s+\w+|https?:\/\/\S+)/;

interface Sentence {
  index: number;
  text: string;
  length: number;
  words: string[];
  role: string;
  /** A decision or a next action / open item: filled first. */
  key: boolean;
}

function splitSentences(turns: SummaryInputTurn[]): Sentence[] {
  const out: Sentence[] = [];
  const seen = new Set<string>();
  for (const turn of turns) {
    for (const para of turn.text.split(/\r?\n+/)) {
      for (const { segment } of sentenceSegmenter.segment(para)) {
        const text = segment.replace(/\s+/g, ' ').trim();
        if (text === '' || seen.has(text)) continue;
        seen.add(text);
        const words: string[] = [];
        for (const w of wordSegmenter.segment(text)) {
          if (!w.isWordLike) continue;
          const word = w.segment.toLowerCase();
          if (!STOPWORDS.has(word)) words.push(word);
        }
        const { decision, next } = turn.role === 'tool' ? { decision: false, next: false } : classifySentence(text);
        out.push({ index: out.length, text, length: graphemeLength(text), words, role: turn.role, key: decision || next });
      }
    }
  }
  return out;
}

function scoreSentences(sentences: Sentence[]): Map<number, number> {
  const freq = new Map<string, number>();
  for (const s of sentences) for (const w of new Set(s.words)) freq.set(w, (freq.get(w) ?? 0) + 1);
  const scores = new Map<number, number>();
  const n = sentences.length;
  for (const s of sentences) {
    const distinct = new Set(s.words);
    let sum = 0;
    for (const w of distinct) sum += Math.log1p(freq.get(w) ?? 0);
    let score = distinct.size === 0 ? 0 : sum / Math.sqrt(distinct.size + 1);
    if (CUE_RE.test(s.text)) score *= 1.5;
    if (ARTEFACT_RE.test(s.text)) score *= 1.2;
    if (s.role === 'user') score *= 1.1;
    // Later sentences carry the latest state of the conversation.
    score *= 1 + (0.2 * s.index) / Math.max(1, n - 1);
    scores.set(s.index, score);
  }
  return scores;
}

export function summariseExtractive(turns: SummaryInputTurn[], maxGraphemes: number): string {
  const sentences = splitSentences(turns);
  if (sentences.length === 0) return '';
  const scores = scoreSentences(sentences);
  const ranked = [...sentences].sort(
    (a, b) => Number(b.key) - Number(a.key) || scores.get(b.index)! - scores.get(a.index)! || a.index - b.index,
  );
  const chosen: Sentence[] = [];
  let used = 0;
  for (const s of ranked) {
    const cost = s.length + (chosen.length > 0 ? 1 : 0); // a joining space at most
    if (used + cost > maxGraphemes) continue;
    chosen.push(s);
    used += cost;
  }
  if (chosen.length === 0) return truncateGraphemes(ranked[0].text, maxGraphemes);
  chosen.sort((a, b) => a.index - b.index);
  // Japanese sentences end in full-width punctuation and are joined without a space.
  const joined = chosen.reduce((acc, s) => (acc === '' ? s.text : /[。！？」』）]$/.test(acc) ? acc + s.text : `${acc} ${s.text}`), '');
  return truncateGraphemes(joined, maxGraphemes);
}
