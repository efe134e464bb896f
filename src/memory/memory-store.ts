/**
 * memory.json: read (validated; a corrupt file is reported and never overwritten) and updated
 * under a lock with an atomic rename, so a killed `vpm summary` never leaves it unparsable.
 */
import { join } from 'node:path';
import { readStateTextIfExists, withLock, writeJsonAtomic } from '../core/fs.js';
import { UsageError } from '../core/errors.js';
import { maskValue } from '../core/secrets.js';
import { formatZodIssues } from '../core/zod-issues.js';
import { MemoryFileSchema, type MemoryFile } from '../schemas/memory.js';

const MEMORY_FILE = 'memory.json';

function memoryPath(cwd: string): string {
  return join(cwd, MEMORY_FILE);
}

export function readMemory(cwd: string): MemoryFile {
  const text = readStateTextIfExists(memoryPath(cwd));
  if (text === undefined) return { version: 1, cursor: null, entries: [] };
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`memory.json is corrupt (not valid JSON: ${(err as Error).message}); it was left untouched`, {
      hint: 'restore it from git or a backup, or move it aside to start a new memory',
    });
  }
  const parsed = MemoryFileSchema.safeParse(raw);
  if (!parsed.success) {
    throw new UsageError(`memory.json does not match its schema; it was left untouched:\n  ${formatZodIssues(parsed.error).join('\n  ')}`, {
      hint: 'fix the listed fields, or move the file aside to start a new memory',
    });
  }
  return parsed.data;
}

/** Read-modify-write under the memory lock. `update` returns the new file, or undefined for no change. */
export async function updateMemory<T>(
  cwd: string,
  update: (current: MemoryFile) => Promise<{ next?: MemoryFile; result: T }> | { next?: MemoryFile; result: T },
): Promise<T> {
  const path = memoryPath(cwd);
  return withLock(
    path,
    async () => {
      const { next, result } = await update(readMemory(cwd));
      // Masked as a value before it is written: every writer of memory.json goes through here.
      if (next) await writeJsonAtomic(path, maskValue(next));
      return result;
    },
    { what: 'memory.json' },
  );
}
