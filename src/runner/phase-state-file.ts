/**
 * Reading the runner's phase_state.json files (the inbox-level one and each job's). A file that
 * does not parse is never silently replaced by a fresh state — that reset the job loop's counter
 * and let it run past max_jobs — it is moved aside as `<name>.corrupt-<ts>` and the run stops.
 */
import { renameSync } from 'node:fs';
import { basename, relative } from 'node:path';
import { UsageError } from '../core/errors.js';
import { readStateTextIfExists } from '../core/fs.js';

export function readPhaseStateFile<T extends object>(path: string, cwd: string, now: Date = new Date()): T | undefined {
  const text = readStateTextIfExists(path);
  if (text === undefined) return undefined;
  let problem: string | undefined;
  try {
    const value: unknown = JSON.parse(text);
    if (value && typeof value === 'object' && !Array.isArray(value)) return value as T;
    problem = 'it does not hold a JSON object';
  } catch (err) {
    problem = `it is not valid JSON (${(err as Error).message.split('\n')[0]})`;
  }
  const aside = `${path}.corrupt-${now.toISOString().replace(/[:.]/g, '-')}`;
  renameSync(path, aside);
  const shown = relative(cwd, path) || path;
  throw new UsageError(`${shown} is corrupt: ${problem}; moved it aside to ${basename(aside)} and stopped`, {
    hint: `inspect ${relative(cwd, aside) || aside}; running again starts that state fresh (a job loop restarts its count)`,
    details: { file: shown, moved_to: relative(cwd, aside) || aside },
  });
}
