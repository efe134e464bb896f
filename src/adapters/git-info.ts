import { openGit } from './git.js';

/** HEAD sha and branch for the evidence envelope; null outside a repository (or before the first commit). */
export async function gitInfo(cwd: string, env: NodeJS.ProcessEnv = process.env): Promise<{ sha: string | null; branch: string | null }> {
  const git = await openGit(cwd, { env });
  const read = async (args: string[]) => {
    const r = await git.probe(args);
    return r.exitCode === 0 ? r.stdout.trim() || null : null;
  };
  const [sha, branch] = await Promise.all([
    read(['rev-parse', '--verify', '--quiet', 'HEAD']),
    read(['symbolic-ref', '--quiet', '--short', 'HEAD']),
  ]);
  return { sha, branch };
}
