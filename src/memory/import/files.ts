/** File-system helpers shared by the transcript formats. */
import { readdir, realpath, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join, sep } from 'node:path';

export function homeDir(env: NodeJS.ProcessEnv): string {
  return env.HOME?.trim() || homedir();
}

export async function realpathOr(path: string): Promise<string> {
  try {
    return await realpath(path);
  } catch {
    return path;
  }
}

export function isInside(path: string, root: string): boolean {
  return path === root || path.startsWith(root.endsWith(sep) ? root : `${root}${sep}`);
}

/**
 * `path` itself when it is a file; else the files under it whose name passes `accept`, at most
 * `depth` folders down, sorted (so imports run in a stable order). A missing path gives [].
 */
export async function listFiles(path: string, accept: (name: string) => boolean, depth: number): Promise<string[]> {
  let st: Awaited<ReturnType<typeof stat>>;
  try {
    st = await stat(path);
  } catch {
    return [];
  }
  if (st.isFile()) return [path];
  if (!st.isDirectory() || depth < 0) return [];
  const out: string[] = [];
  const entries = await readdir(path, { withFileTypes: true });
  for (const e of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    const full = join(path, e.name);
    if (e.isDirectory()) out.push(...(await listFiles(full, accept, depth - 1)));
    else if (e.isFile() && accept(e.name)) out.push(full);
  }
  return out;
}
