import { describe, expect, it } from 'vitest';
import { parseCleanDryRun, splitByChangedPaths, unquoteCPath } from '../../src/git/untracked.ts';

describe('git clean --dry-run output', () => {
  it('turns paths relative to where git ran into paths from the top level, keeping directory slashes', () => {
    const out = ['Would remove u1', 'Would remove ../emptyd/', 'Would skip repository ../nested/', 'Would remove ../ü.txt', ''].join('\n');
    expect(parseCleanDryRun(out, 'app/')).toEqual(['app/u1', 'emptyd/', 'ü.txt']);
    expect(parseCleanDryRun('Would remove src/added/\n')).toEqual(['src/added/']);
  });

  it('undoes git quoting: escapes, quotes, and octal bytes of UTF-8', () => {
    expect(unquoteCPath('"we\\"ird\\nname"')).toBe('we"ird\nname');
    expect(unquoteCPath('"\\303\\274.txt"')).toBe('ü.txt');
    expect(unquoteCPath('"tab\\there\\\\"')).toBe('tab\there\\');
    expect(unquoteCPath('plain name.txt')).toBe('plain name.txt');
    expect(parseCleanDryRun('Would remove "../a\\tb"\n', 'sub/')).toEqual(['a\tb']);
  });
});

describe('untracked paths and the reset', () => {
  it('only paths the reset writes over or trips on must move before it; the rest can move while it runs', () => {
    const changed = ['src/new/feature.js', 'docs/guide.md', 'lib'];
    const { inTheWay, clear } = splitByChangedPaths(
      ['src/new/feature.js', 'src/new/', 'lib/extra.js', 'docs/other.md', 'src/scratch.js', 'tmp/'],
      changed,
    );
    // the same path; a directory over a changed path; a path under a changed file
    expect(inTheWay).toEqual(['src/new/feature.js', 'src/new/', 'lib/extra.js']);
    expect(clear).toEqual(['docs/other.md', 'src/scratch.js', 'tmp/']);
  });
});
