import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** HEAD sha and branch for the evidence envelope; null outside a repository. */
export async function gitInfo(cwd: string): Promise<{ sha: string | null; branch: string | null }> {
  const git = async (...args: string[]) => {
    try {
      return (await run('git', args, { cwd })).stdout.trim() || null;
    } catch {
      return null;
    }
  };
  const [sha, branch] = await Promise.all([git('rev-parse', 'HEAD'), git('rev-parse', '--abbrev-ref', 'HEAD')]);
  return { sha, branch: branch === 'HEAD' ? null : branch };
}
