/** Temp folders for trials: removed when the trial passed, kept (and named in the report) when it failed. */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

export function tempRepo(prefix: string, files: Record<string, string | Buffer> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), `vpm-rel-${prefix}-`));
  for (const [rel, content] of Object.entries(files)) writeFile(dir, rel, content);
  return dir;
}

export function writeFile(dir: string, rel: string, content: string | Buffer): void {
  mkdirSync(dirname(join(dir, rel)), { recursive: true });
  writeFileSync(join(dir, rel), content);
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
}

/** A minimal valid STATE/current_state.md. */
export const STATE_MD = [
  '---',
  'phase: S1',
  'updated_at: "2026-01-01T00:00:00.000Z"',
  '---',
  '',
  '# Current state',
  '',
  '## C',
  '',
  'Canary lane works end to end.',
  '',
  '## G',
  '',
  '- G-1: ship the runner',
  '- G-2: canary with SLO gates',
  '',
  '## δ',
  '',
  'Next: failover drill.',
  '',
].join('\n');
