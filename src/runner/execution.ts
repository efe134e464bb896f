/**
 * How an exec run executes: the sandbox (refusing, exit 3, when bubblewrap is missing or cannot
 * start — never silently unsandboxed), whether to checkpoint, the kill grace period.
 */
import type { VpmConfig } from '../schemas/config.js';
import { RefusedError } from '../core/errors.js';
import { checkSandbox, planSandbox, type Sandbox } from './sandbox.js';

export interface Execution {
  sandbox: Sandbox;
  checkpoint: boolean;
  killGraceMs: number;
}

export async function prepareExecution(
  config: VpmConfig,
  opts: { noSandbox?: boolean; noCheckpoint?: boolean },
  deps: { cwd: string; env: NodeJS.ProcessEnv },
): Promise<Execution> {
  const configured = config.runner?.sandbox ?? 'bwrap';
  if (configured === 'none' && !opts.noSandbox) {
    throw new RefusedError('runner.sandbox is none, but unsandboxed steps need an explicit flag', {
      hint: 'pass --no-sandbox to run exec steps without the sandbox (recorded in every step log), or set runner.sandbox: bwrap',
    });
  }
  const mode = opts.noSandbox ? 'none' : 'bwrap';
  const sandbox = planSandbox(
    mode,
    deps.cwd,
    deps.env,
    opts.noSandbox ? `--no-sandbox${configured === 'none' ? ' (runner.sandbox: none)' : ''}` : undefined,
  );
  const problem = await checkSandbox(sandbox);
  if (problem) {
    throw new RefusedError(`exec mode runs every step in a bubblewrap sandbox: ${problem}`, {
      hint: 'install it (Debian/Ubuntu: apt-get install bubblewrap; Fedora: dnf install bubblewrap), or pass --no-sandbox to run steps unsandboxed knowingly',
    });
  }
  return { sandbox, checkpoint: !opts.noCheckpoint, killGraceMs: Math.round((config.runner?.kill_grace_s ?? 2) * 1000) };
}
