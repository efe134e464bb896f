/** Small read-only helpers shared by the healthcheck checks. */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';

/** Repo-relative POSIX paths of the files under `dir` (recursively) whose names match `re`. */
export function listFiles(cwd: string, dir: string, re: RegExp): string[] {
  let entries;
  try {
    entries = readdirSync(join(cwd, dir), { recursive: true, withFileTypes: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  return entries
    .filter((e) => e.isFile() && re.test(e.name))
    .map((e) => relative(cwd, join(e.parentPath, e.name)).split(sep).join('/'))
    .sort();
}

export function readJsonLines(path: string): unknown[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const out: unknown[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      out.push(JSON.parse(line));
    } catch {
      // A torn or foreign line is skipped: lag statistics are best-effort over what parses.
    }
  }
  return out;
}

/** memory.json as raw JSON (not schema-validated: the healthcheck must see entries the schema would reject). */
export function readMemoryRaw(cwd: string): { entries: Array<Record<string, unknown>>; error: string | null; exists: boolean } {
  let text: string;
  try {
    text = readFileSync(join(cwd, 'memory.json'), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { entries: [], error: null, exists: false };
    throw err;
  }
  try {
    const doc = JSON.parse(text) as { entries?: unknown };
    if (!doc || typeof doc !== 'object' || !Array.isArray(doc.entries))
      return { entries: [], error: 'memory.json has no entries array', exists: true };
    return { entries: doc.entries.filter((e): e is Record<string, unknown> => !!e && typeof e === 'object'), error: null, exists: true };
  } catch (err) {
    return { entries: [], error: `memory.json is not valid JSON: ${(err as Error).message}`, exists: true };
  }
}

/** Nearest-rank percentile of an ascending array. */
export function percentile(sorted: number[], p: number): number | null {
  if (sorted.length === 0) return null;
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(sorted.length, rank) - 1];
}
