/**
 * Which file a program word runs (issue 15, class 5: a committed `tools/echo` ran as `allowlist:
 * echo`). An allowlist entry for a program name matches a path-spelled argv0 only when that path is
 * the same file PATH lookup finds, with the PATH the executor uses; the executor runs the same word
 * with the same PATH, so what was judged is what runs.
 */
import { accessSync, constants, realpathSync, statSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';

export interface ResolveContext {
  /** The directory steps run in (the repository). */
  cwd: string;
  /** The PATH steps run with. */
  path: string;
}

/** The PATH steps get when nothing else is known: system directories only. */
export const SYSTEM_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

const cache = new Map<string, string | null>();

function executableReal(file: string): string | undefined {
  try {
    if (!statSync(file).isFile()) return undefined;
    accessSync(file, constants.X_OK);
    return realpathSync(file);
  } catch {
    return undefined;
  }
}

/** The real path of the file `word` runs, or undefined when nothing would run. */
export function resolveProgram(word: string, ctx: ResolveContext): string | undefined {
  if (word.includes('/')) return executableReal(isAbsolute(word) ? word : resolve(ctx.cwd, word));
  const key = `${ctx.path}\u0000${word}`;
  const hit = cache.get(key);
  if (hit !== undefined) return hit ?? undefined;
  let found: string | undefined;
  for (const dir of ctx.path.split(':')) {
    // Relative PATH entries would make the answer depend on the directory; the executor's PATH has none.
    if (!dir || !isAbsolute(dir)) continue;
    found = executableReal(join(dir, word));
    if (found) break;
  }
  if (cache.size > 10_000) cache.clear();
  cache.set(key, found ?? null);
  return found;
}

/**
 * Does argv0 as written (`raw`) run the program an allowlist entry names? A bare name always does
 * (the executor looks it up the same way); a path only when it is the same file as `expected`
 * (a path in the entry, or the entry's name looked up on PATH).
 */
export function sameProgram(raw: string, expected: string, ctx: ResolveContext): boolean {
  if (!raw.includes('/') && !expected.includes('/')) return raw === expected;
  const a = resolveProgram(raw, ctx);
  const b = resolveProgram(expected, ctx);
  return a !== undefined && a === b;
}
