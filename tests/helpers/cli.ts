/** Runs the built vpm CLI as a real child process (`node bin/vpm.js`), the way users run it. */
import { execa, type Result } from 'execa';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const REPO_ROOT = resolve(import.meta.dirname, '..', '..');
export const VPM_BIN = join(REPO_ROOT, 'bin', 'vpm.js');

export interface RunOptions {
  cwd: string;
  env?: Record<string, string | undefined>;
  input?: string;
  timeoutMs?: number;
}

export async function vpm(args: string[], opts: RunOptions): Promise<Result> {
  return execa(process.execPath, [VPM_BIN, '--cwd', opts.cwd, ...args], {
    cwd: opts.cwd,
    env: { VPM_SESSION: undefined, GITHUB_TOKEN: undefined, ...opts.env },
    input: opts.input,
    stdin: opts.input === undefined ? 'ignore' : undefined,
    reject: false,
    timeout: opts.timeoutMs ?? 60_000,
  });
}

/** Runs with --json and parses stdout, failing the test if stdout is not exactly one JSON document. */
export async function vpmJson<T = any>(args: string[], opts: RunOptions): Promise<{ result: Result; json: T }> {
  const result = await vpm(['--json', ...args], opts);
  return { result, json: JSON.parse(String(result.stdout)) as T };
}

export function tempDir(prefix = 'vpm-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}
