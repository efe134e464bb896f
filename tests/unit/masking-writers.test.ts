/**
 * Issue 16's "one masking sink": every module that writes files (or streams) is enumerated from the
 * source, and each either masks what it writes (imports the masker) or is listed here with the
 * reason its bytes cannot hold a secret vpm captured. A new writer that does neither fails this test.
 * Printed output needs no entry: every byte to stdout/stderr passes maskingIo (src/cli/execute.ts,
 * src/core/context.ts, src/cli/main.ts).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '..', '..');
const WRITE_CALL =
  /\b(writeFileSync|appendFileSync|writeFile|createWriteStream|writeSync|writeFileAtomic|writeJsonAtomic|appendDurable|appendLines)\(/;
const MASKS = /\b(maskValue|maskText|maskSecrets|maskDeep|maskedJson|maskedTail|maskOutput|maskingIo|maskingWritable)\b/;

/** Writers that need no masking, and why. */
const NO_SECRET_BY_CONSTRUCTION: Record<string, string> = {
  'src/core/fs.ts': 'the write primitives themselves: callers pass masked content',
  'src/commands/evidence/schema.handlers.ts': 'JSON Schemas generated from vpm’s own zod schemas',
  'src/diagrams/export.ts': 'SVGs rendered from the repository’s own diagram sources, no captured text',
  'src/git/checkpoint.ts': 'a commit hash (logs/last_checkpoint.txt)',
  'src/git/state-files.ts': 'byte copies of vpm’s own (already masked) state kept through a reset',
  'src/git/untracked.ts': 'the restore script: paths of the user’s own files moved aside',
  'src/healthcheck/run.ts': 'report documents built by evidence/write.ts, which masks every value',
  'src/healthcheck/digest-runs.ts': 'digest run timestamps and paths',
  'src/project/init.ts': 'vpm init’s fixed starter files',
};

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? sources(p) : p.endsWith('.ts') ? [p] : [];
  });
}

describe('every writer passes the masking sink', () => {
  const writers = sources(join(ROOT, 'src'))
    .map((p) => ({ file: relative(ROOT, p), text: readFileSync(p, 'utf8') }))
    .filter((m) => WRITE_CALL.test(m.text));

  it('finds the writers (the scan itself works)', () => {
    expect(writers.map((w) => w.file)).toEqual(
      expect.arrayContaining(['src/memory/chat-log.ts', 'src/runner/job-runner.ts', 'src/evidence/write.ts']),
    );
  });

  it.each(writers.map((w) => [w.file, w] as const))('%s masks what it writes, or cannot hold a secret', (file, w) => {
    if (file in NO_SECRET_BY_CONSTRUCTION) return;
    expect(MASKS.test(w.text), `${file} writes without the masker; mask the values (src/core/secrets.ts) or list it with a reason`).toBe(
      true,
    );
  });

  it('lists no module that no longer writes', () => {
    const files = new Set(writers.map((w) => w.file));
    expect(Object.keys(NO_SECRET_BY_CONSTRUCTION).filter((f) => !files.has(f))).toEqual([]);
  });
});
