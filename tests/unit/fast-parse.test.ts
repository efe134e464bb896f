/**
 * The start-up fast paths' command-line scanner (src/cli/fast/parse.ts) against node's
 * util.parseArgs in strict mode as the oracle: on random command lines built from the commands'
 * own flags and from the forms that must be left to commander, whatever the scanner accepts,
 * parseArgs accepts too, with the same words and values. A second check keeps it from passing by
 * refusing everything: the everyday forms are accepted, with the values the user meant.
 */
import fc from 'fast-check';
import { type ParseArgsOptionsConfig, parseArgs } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parseFast } from '../../src/cli/fast/parse.js';
import { type AnyCommandSpec, type FlagDecls, flagLongName, GLOBAL_FLAGS } from '../../src/cli/spec.js';
import { chatAppend } from '../../src/commands/memory/chat-append.js';
import { chatImport } from '../../src/commands/memory/chat-import.js';
import { rollback } from '../../src/commands/git/rollback.js';

const SPECS: AnyCommandSpec[] = [chatAppend, chatImport, rollback];

function oracle(spec: AnyCommandSpec, argv: string[]) {
  const options: ParseArgsOptionsConfig = {};
  for (const flags of [spec.flags, GLOBAL_FLAGS] as FlagDecls[]) {
    for (const [key, decl] of Object.entries(flags)) {
      options[flagLongName(key, decl)] = { type: decl.type, ...(decl.short ? { short: decl.short } : {}) };
    }
  }
  return parseArgs({ args: argv, allowPositionals: true, strict: true, options });
}

/** The pieces a command line is made of: the specs' own flags with values, and the forms left to commander. */
function vocabulary(spec: AnyCommandSpec): string[][] {
  const pieces = [...spec.path, 'chat', 'x', '-', '--', '-5', '--help', '-h', '--unknown', '-yz', 'user', 'a b', '', '--=x'].map((w) => [
    w,
  ]);
  for (const flags of [spec.flags, GLOBAL_FLAGS] as FlagDecls[]) {
    for (const [key, decl] of Object.entries(flags)) {
      const name = flagLongName(key, decl);
      pieces.push([`--${name}`], [`--${name}=v`], [`--${name}=`], [`--${name}=-v`]);
      if (decl.short) pieces.push([`-${decl.short}`], [`-${decl.short}v`]);
      for (const value of decl.type === 'string' ? [...(decl.choices ?? []), 'v', '-'] : []) {
        pieces.push([`--${name}`, value], [`--${name}=${value}`]);
        if (decl.short) pieces.push([`-${decl.short}`, value]);
      }
    }
  }
  return pieces;
}

describe('fast-path command-line scanner', () => {
  it.each(SPECS.map((s) => [s.path.join(' '), s] as const))(
    '%s: whatever it accepts, parseArgs (strict) accepts with the same words and values',
    (_name, spec) => {
      const pieces = vocabulary(spec);
      let accepted = 0;
      fc.assert(
        fc.property(fc.array(fc.constantFrom(...pieces), { maxLength: 6 }), (chosen) => {
          const tail = chosen.flat();
          for (const argv of [tail, [...spec.path, ...tail], [...tail.slice(0, 2), ...spec.path, ...tail.slice(2)]]) {
            const ours = parseFast(spec, argv);
            if (!ours) continue;
            accepted++;
            const theirs = oracle(spec, argv);
            expect(theirs.positionals.slice(spec.path.length)).toEqual(ours.input.args);
            for (const [key, decl] of Object.entries(spec.flags)) {
              const given = theirs.values[flagLongName(key, decl)];
              if (decl.negatable) expect(ours.input.flags[key]).toBe(given === undefined);
              else if (given !== undefined) expect(ours.input.flags[key]).toBe(given);
            }
            expect(ours.globals.cwd).toBe(theirs.values.cwd);
            expect(ours.globals.json).toBe(theirs.values.json === true);
          }
        }),
        { numRuns: 3000 },
      );
      // Not vacuous: a fair share of the generated lines is accepted, and so compared.
      expect(accepted).toBeGreaterThan(100);
    },
  );

  it('accepts the everyday forms, with the values meant', () => {
    const append = (...argv: string[]) => parseFast(chatAppend, argv);
    expect(append('chat', 'append', '--text', 'hello there')?.input.flags).toMatchObject({ text: 'hello there', role: 'user' });
    expect(append('--cwd', '/repo', 'chat', 'append', '--role=assistant', '--text=-1 is fine', '--json')).toEqual({
      globals: { json: true, cwd: '/repo', verbose: false, debug: false },
      input: { args: [], flags: { role: 'assistant', session: undefined, text: '-1 is fine', meta: undefined, lossy: false } },
    });
    expect(append('chat', 'append', '--meta', '{"a":1}', '--lossy', '--session', 's1')?.input.flags).toMatchObject({
      meta: '{"a":1}',
      lossy: true,
      session: 's1',
    });
    expect(parseFast(rollback, ['rollback', '-y', '--no-test'])?.input.flags).toMatchObject({ yes: true, test: false });
  });

  it('leaves to commander what it is not sure of', () => {
    for (const argv of [
      ['chat', 'append', '--text', 'a', '--text', 'b'], // repeated: commander takes the last
      ['chat', 'append', '--text', '--json'], // ambiguous value
      ['chat', 'append', '--text'], // missing value
      ['chat', 'append', '--role', 'robot'], // not a choice
      ['chat', 'append', '--help'],
      ['chat', 'append', '--', '--text'],
      ['chat', 'append', 'extra'],
      ['chat', 'append', '--json=yes'],
    ]) {
      expect(parseFast(chatAppend, argv), argv.join(' ')).toBeUndefined();
    }
  });
});
