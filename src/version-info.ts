import { readFileSync } from 'node:fs';

/** The commit vpm was built from, recorded at build time in dist/build-info.json (absent in a tarball built outside git). */
export function builtFromCommit(): string | null {
  try {
    const info = JSON.parse(readFileSync(new URL('./build-info.json', import.meta.url), 'utf8')) as { git_sha?: unknown };
    return typeof info.git_sha === 'string' && /^[0-9a-f]{40}$/.test(info.git_sha) ? info.git_sha : null;
  } catch {
    return null;
  }
}
