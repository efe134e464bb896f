/**
 * Property: no generated wrapping of a denied command is allowed. Wrappings are random nests of
 * wrappers (with their flags), VAR= prefixes, path spellings of argv0, shell quoting styles and
 * `sh -c` levels, applied to `rm …` and `git push …`. A second property checks the same wrappings of
 * harmless commands stay allowed, so the first one is not passing by denying everything.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { evaluatePolicy, type PolicyConfig } from '../../src/runner/policy.js';

const POLICY: PolicyConfig = {
  default_action: 'allow',
  deny_if_contains: ['rm', 'git push'],
  deny_patterns: [],
  allowlist: [],
  stop_on_deny: true,
  env_allow: ['FOO', 'LANG', 'A_B', 'x'],
};

const denied: string[][] = [
  ['rm', '-rf', 'x'],
  ['rm', 'x'],
  ['rm'],
  ['git', 'push'],
  ['git', 'push', 'origin', 'main'],
  ['git', 'push', '--force'],
];
const harmless: string[][] = [
  ['ls', '-la'],
  ['echo', 'rm'],
  ['git', 'status'],
  ['git', 'stash', 'push'],
  ['rmdir', 'd'],
  ['grep', 'rm', 'f'],
];

const gitGlobals = fc.constantFrom<string[]>([], ['-C', '.'], ['--no-pager'], ['--git-dir=.git'], ['--work-tree', '.'], ['-P'], ['--bare']);
const pathSpelling = fc.constantFrom(
  (s: string) => s,
  (s: string) => `/usr/bin/${s}`,
  (s: string) => `/bin/${s}`,
  (s: string) => `./${s}`,
  (s: string) => `../../bin/${s}`,
  (s: string) => `//usr///bin//${s}`,
);

type Wrap = (argv: string[]) => string[];
const shellQuote = (w: string) => `'${w.replace(/'/g, `'\\''`)}'`;
const safeVar = fc.constantFrom('FOO', 'LANG', 'A_B', 'x');
const wrappers: fc.Arbitrary<Wrap> = fc.oneof(
  fc.constant<Wrap>((a) => ['env', ...a]),
  fc.tuple(fc.constantFrom<string[]>([], ['-i'], ['-u', 'HOME'], ['-0'], ['--']), safeVar).map(
    ([f, v]): Wrap =>
      (a) => ['env', ...f, `${v}=1`, ...a],
  ),
  fc.constantFrom<string[]>([], ['-u', 'root'], ['-E'], ['-n', '-H'], ['--user=root'], ['--']).map(
    (f): Wrap =>
      (a) => ['sudo', ...f, ...a],
  ),
  fc.constantFrom<string[]>([], ['-n', '10'], ['-5'], ['-n5'], ['--adjustment=3']).map(
    (f): Wrap =>
      (a) => ['nice', ...f, ...a],
  ),
  fc.constantFrom<string[]>(['5'], ['-s', 'KILL', '5s'], ['--kill-after=1', '10'], ['--foreground', '1m'], ['-k', '2', '3']).map(
    (f): Wrap =>
      (a) => ['timeout', ...f, ...a],
  ),
  fc.constant<Wrap>((a) => ['nohup', ...a]),
  fc.constantFrom<string[]>([], ['-0'], ['-n', '1'], ['-r', '-P', '4'], ['--max-args=2']).map(
    (f): Wrap =>
      (a) => ['xargs', ...f, ...a],
  ),
  fc.constantFrom<string[]>([], ['-p']).map(
    (f): Wrap =>
      (a) => ['command', ...f, ...a],
  ),
  fc.constant<Wrap>((a) => ['exec', ...a]),
  fc.constantFrom<string[]>(['-oL'], ['-i0', '-e0'], ['--output=L']).map(
    (f): Wrap =>
      (a) => ['stdbuf', ...f, ...a],
  ),
  fc.constantFrom<string[]>([], ['-p']).map(
    (f): Wrap =>
      (a) => ['time', ...f, ...a],
  ),
  fc.constant<Wrap>((a) => ['setsid', ...a]),
  fc.constant<Wrap>((a) => ['busybox', ...a]),
  fc.constant<Wrap>((a) => ['flock', '/tmp/l', ...a]),
  fc.constant<Wrap>((a) => ['chroot', '/', ...a]),
  // watch joins its words and runs them with `sh -c`, so it is given one shell string.
  fc.constantFrom<string[]>([], ['-n', '1']).map(
    (f): Wrap =>
      (a) => ['watch', ...f, a.map(shellQuote).join(' ')],
  ),
  fc.constantFrom<string[]>([], ['-c', '3'], ['-n', '7']).map(
    (f): Wrap =>
      (a) => ['ionice', ...f, ...a],
  ),
  fc.constantFrom<string[]>([], ['-u', 'root']).map(
    (f): Wrap =>
      (a) => ['doas', ...f, ...a],
  ),
  safeVar.map(
    (v): Wrap =>
      (a) => [`${v}=val`, ...a],
  ),
  pathSpelling.map(
    (p): Wrap =>
      (a) => {
        // Spell the command word (after any VAR= prefixes) as a path.
        const i = a.findIndex((w) => !/^[A-Za-z_][A-Za-z0-9_]*=/.test(w));
        return i === -1 ? a : [...a.slice(0, i), p(a[i]), ...a.slice(i + 1)];
      },
  ),
);

/** Quoting styles a POSIX shell reads back as the same word. */
const quoteWord = fc.constantFrom(
  (w: string) => w,
  (w: string) => `'${w}'`,
  (w: string) => `"${w}"`,
  (w: string) => (w.length > 1 ? `${w[0]}''${w.slice(1)}` : `''${w}`),
  (w: string) => (w.length > 1 ? `${w[0]}""${w.slice(1)}` : `""${w}`),
  (w: string) =>
    w
      .split('')
      .map((c) => (/[a-z]/.test(c) ? `\\${c}` : c))
      .join(''),
);

/** Turns argv into a shell string, each word quoted by a randomly chosen style. */
const toShellString = (argv: string[], styles: Array<(w: string) => string>) =>
  argv.map((w, i) => (/^[A-Za-z0-9_./=,:@%+-]+$/.test(w) ? styles[i % styles.length](w) : shellQuote(w))).join(' ');

type Layer = { kind: 'wrap'; wrap: Wrap } | { kind: 'shell'; shell: string; flags: string[]; styles: Array<(w: string) => string> };
const layer: fc.Arbitrary<Layer> = fc.oneof(
  { weight: 3, arbitrary: wrappers.map((wrap): Layer => ({ kind: 'wrap', wrap })) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(
        fc.constantFrom('sh', 'bash', 'zsh', 'dash', '/bin/sh', '/usr/bin/bash'),
        fc.constantFrom<string[]>(['-c'], ['-lc'], ['-e', '-c'], ['-ec'], ['--norc', '-c'], ['-o', 'pipefail', '-c']),
        fc.array(quoteWord, { minLength: 1, maxLength: 4 }),
      )
      .map(([shell, flags, styles]): Layer => ({ kind: 'shell', shell, flags, styles })),
  },
);

function applyLayers(base: string[], layers: Layer[]): string[] {
  let argv = base;
  for (const l of layers) argv = l.kind === 'wrap' ? l.wrap(argv) : [l.shell, ...l.flags, toShellString(argv, l.styles)];
  return argv;
}

const wrapped = (bases: string[][]) =>
  fc
    .tuple(
      fc.constantFrom(...bases),
      gitGlobals,
      fc.array(layer, { minLength: 0, maxLength: 6 }),
      fc.boolean(),
      fc.array(quoteWord, { minLength: 1, maxLength: 4 }),
    )
    .map(([base, globals, layers, asString, styles]) => {
      const b = base[0] === 'git' ? ['git', ...globals, ...base.slice(1)] : base;
      const argv = applyLayers(b, layers);
      return asString ? { command: toShellString(argv, styles) } : { argv };
    });

describe('policy property: wrappings of denied commands', () => {
  it('never allows a wrapped rm or git push', () => {
    fc.assert(
      fc.property(wrapped(denied), (step) => {
        const d = evaluatePolicy(step, POLICY);
        expect(d.decision, `${JSON.stringify(step)} → ${d.matched_rule}`).toBe('deny');
      }),
      { numRuns: Number(process.env.VPM_PROPERTY_RUNS ?? 3000) },
    );
  });

  it('keeps the same wrappings of harmless commands allowed (the policy is not deny-everything)', () => {
    fc.assert(
      fc.property(wrapped(harmless), (step) => {
        const d = evaluatePolicy(step, POLICY);
        expect(d.decision, `${JSON.stringify(step)} → ${d.matched_rule}`).toBe('allow');
      }),
      { numRuns: Number(process.env.VPM_PROPERTY_RUNS ?? 2000) },
    );
  });
});

describe('policy property: arbitrary input', () => {
  const word = fc.oneof(
    fc.string({ maxLength: 12 }),
    fc.constantFrom(
      'rm',
      'git',
      'push',
      'sh',
      '-c',
      'env',
      'sudo',
      '--',
      '-',
      'x=1',
      'LD_PRELOAD=x',
      "'",
      '"',
      '\\',
      '$(',
      '`',
      ';',
      '|',
      '-S',
      'xargs',
      'timeout',
      'find',
      '-exec',
      ';',
      'eval',
    ),
  );
  it('always returns a decision, never throws, and denies whatever it cannot read', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.array(word, { maxLength: 12 }).map((argv) => ({ argv })),
          fc.array(word, { maxLength: 12 }).map((w) => ({ command: w.join(' ') })),
        ),
        (step) => {
          const started = performance.now();
          const d = evaluatePolicy(step, POLICY);
          expect(['allow', 'deny']).toContain(d.decision);
          expect(typeof d.matched_rule).toBe('string');
          expect(performance.now() - started).toBeLessThan(250);
          if ('argv' in step && step.argv.length === 0) expect(d.decision).toBe('deny');
        },
      ),
      { numRuns: Number(process.env.VPM_PROPERTY_RUNS ?? 3000) },
    );
  });
});
