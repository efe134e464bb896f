/**
 * Issue 19: `vpm init` asks whether `.ops/deploy_freeze.json` is committed (`--freeze-file` without a
 * terminal). `committed` leaves the rest of vpm's runtime state ignored but lets git see the freeze flag;
 * `local` (default) ignores all of `.ops/`.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir, vpm } from '../helpers/cli.js';

function repo(): string {
  const dir = tempDir('vpm-init-freeze-');
  execFileSync('git', ['init', '-q', dir]);
  return dir;
}
const status = (dir: string) => execFileSync('git', ['-C', dir, 'status', '--porcelain', '--untracked-files=all'], { encoding: 'utf8' });

describe('vpm init --freeze-file', () => {
  it('committed: git sees .ops/deploy_freeze.json, not the audit log', async () => {
    const dir = repo();
    expect((await vpm(['init', '--freeze-file', 'committed'], { cwd: dir })).exitCode).toBe(0);
    const ignore = fs.readFileSync(path.join(dir, '.gitignore'), 'utf8');
    expect(ignore).toMatch(/^\/\.ops\/\*$/m);
    expect(ignore).toMatch(/^!\/\.ops\/deploy_freeze\.json$/m);
    expect(ignore).not.toMatch(/^\/\.ops\/$/m);
    expect((await vpm(['freeze', 'on', '--local', '--reason', 'travels with the repo'], { cwd: dir })).exitCode).toBe(0);
    expect(status(dir)).toMatch(/^\?\? \.ops\/deploy_freeze\.json$/m);
    expect(status(dir)).not.toMatch(/deploy_freeze_audit/);
    // Idempotent: a second init adds nothing.
    const again = await vpm(['init', '--freeze-file', 'committed', '--json'], { cwd: dir });
    expect(JSON.parse(String(again.stdout)).data?.kept ?? JSON.parse(String(again.stdout)).kept).toContain('.gitignore');
  });

  it('local (default without a terminal): all of .ops/ stays ignored', async () => {
    const dir = repo();
    expect((await vpm(['init'], { cwd: dir })).exitCode).toBe(0);
    expect(fs.readFileSync(path.join(dir, '.gitignore'), 'utf8')).toMatch(/^\/\.ops\/$/m);
    expect((await vpm(['freeze', 'on', '--local', '--reason', 'this checkout only'], { cwd: dir })).exitCode).toBe(0);
    expect(status(dir)).not.toMatch(/\.ops/);
  });
});
