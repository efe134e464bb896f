/** User-perceived characters (grapheme clusters): what the 400-character cap counts. */
const graphemeSegmenter = new Intl.Segmenter('und', { granularity: 'grapheme' });

export function graphemes(text: string): string[] {
  return Array.from(graphemeSegmenter.segment(text), (s) => s.segment);
}

export function graphemeLength(text: string): number {
  let n = 0;
  for (const _ of graphemeSegmenter.segment(text)) n++;
  return n;
}

/** Cuts at a grapheme boundary so the result, ellipsis included, has at most `max` graphemes. */
export function truncateGraphemes(text: string, max: number, ellipsis = '…'): string {
  const parts = graphemes(text);
  if (parts.length <= max) return text;
  return (
    parts
      .slice(0, Math.max(0, max - graphemeLength(ellipsis)))
      .join('')
      .trimEnd() + ellipsis
  );
}
