/**
 * The provider catalogue's needles (src/core/secrets.ts PROVIDER_SHAPES). A short text is scanned
 * only with the shapes whose needles it contains, which finds the same tokens as the whole
 * catalogue only if every match of a shape (with the text its lookbehind requires) holds one of
 * the shape's needles. Property 1 checks that on strings generated from each shape; property 2
 * checks the outcome: texts of generated tokens mask the same on the short-text path as on the
 * whole-catalogue path that long texts take.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { maskText, PROVIDER_SHAPES } from '../../src/core/secrets.js';

function classEnd(s: string, i: number): number {
  for (let j = i + 1; j < s.length; j++) {
    if (s[j] === '\\') j++;
    else if (s[j] === ']') return j + 1;
  }
  throw new Error(`unclosed class in ${s}`);
}

function groupEnd(s: string, i: number): number {
  let depth = 0;
  for (let j = i; j < s.length; j++) {
    if (s[j] === '\\') j++;
    else if (s[j] === '[') j = classEnd(s, j) - 1;
    else if (s[j] === '(') depth++;
    else if (s[j] === ')' && --depth === 0) return j + 1;
  }
  throw new Error(`unclosed group in ${s}`);
}

/**
 * A shape as the text around a match must read: negative lookarounds dropped (they add no
 * characters), a positive lookbehind made part of the pattern (its text is in the scanned text).
 */
function concrete(source: string): string {
  let out = '';
  for (let i = 0; i < source.length; ) {
    if (source.startsWith('(?<!', i) || source.startsWith('(?!', i)) {
      i = groupEnd(source, i);
    } else if (source.startsWith('(?<=', i)) {
      out += '(?:';
      i += 4;
    } else if (source[i] === '\\') {
      out += source.slice(i, i + 2);
      i += 2;
    } else if (source[i] === '[') {
      const end = classEnd(source, i);
      out += source.slice(i, end);
      i = end;
    } else {
      out += source[i++];
    }
  }
  return out;
}

const shapes = PROVIDER_SHAPES.map(([needles, source]) => ({
  needles: needles.split(' '),
  source,
  strings: fc.stringMatching(new RegExp(`^(?:${concrete(source)})$`)),
}));

/** Well beyond the length up to which a text's needles are looked for. */
const PAD = ' '.repeat(64 * 1024);

describe('provider needles', () => {
  it.each(shapes.map((s) => [s.source, s] as const))('every match of %s holds one of its needles', (_source, shape) => {
    fc.assert(
      fc.property(shape.strings, (token) => {
        expect(
          shape.needles.some((n) => token.includes(n)),
          token,
        ).toBe(true);
      }),
      { numRuns: 200 },
    );
  });

  it('texts of tokens mask the same on the short-text path as with the whole catalogue', () => {
    const token = fc.oneof(...shapes.map((s) => s.strings));
    const separator = fc.constantFrom(' ', '\n', ': ', '=', '"', '.', 'x', '/', '-', '_');
    let masked = 0;
    fc.assert(
      fc.property(fc.array(fc.tuple(separator, token), { minLength: 1, maxLength: 6 }), (parts) => {
        const text = parts.map(([sep, t]) => sep + t).join('');
        const short = maskText(text, {});
        expect(short + PAD).toBe(maskText(text + PAD, {}));
        if (short !== text) masked++;
      }),
      { numRuns: 2000 },
    );
    // Not vacuous: most texts hold a token that is masked (a letter glued before some shapes is not one).
    expect(masked).toBeGreaterThan(1500);
  });
});
