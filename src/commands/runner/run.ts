import type { CommandResult } from '../../core/command.js';
import { defineCommand, SUMMARY_FILE_FLAG } from '../../cli/spec.js';

export const run = defineCommand({
  path: ['run'],
  summary: 'run inbox jobs (codex/inbox/*.json) under the execution policy; dry unless --exec or RUN_MODE=exec',
  details: `Outcomes per step: done, deny (policy), fatal_error (non-zero exit, timeout, cannot start), stopped
(not run because the job halted). Exit 1 when any step is denied or fails, or a job file is invalid.
A dry run changes nothing in the inbox (jobs move to codex/inbox/_done/ only after --exec); its previews go to reports/codex_runs/<job_id>/dry/.
Exec steps run inside bubblewrap (read-only root, the repository writable, private /tmp and HOME,
no network unless the step or policy allows it); before the first one the working tree is saved as
refs/vpm/checkpoints/run_<job_id> and the command that undoes the run is printed.
Reports: reports/codex_runs/<job_id>/{run.log, steps/step_NNN.json, phase_state.json, phase_summary.json}.`,
  flags: {
    mode: {
      type: 'string',
      placeholder: '<mode>',
      description: 'run | test (run, then verify outputs and warn) | cleanrun (clear state first)',
      choices: ['run', 'test', 'cleanrun'],
      default: 'run',
    },
    clean: { type: 'boolean', description: 'clear previous run state first (same as --mode cleanrun)' },
    exec: { type: 'boolean', description: 'execute the steps (default: dry, or $RUN_MODE=dry|exec)' },
    dryRun: { type: 'boolean', description: 'only log [DRY] lines, even when RUN_MODE=exec' },
    sandbox: {
      type: 'boolean',
      negatable: true,
      description: 'run exec steps without the bubblewrap sandbox (recorded in every step log and the phase summary)',
    },
    checkpoint: { type: 'boolean', negatable: true, description: 'do not snapshot the working tree before an exec run (recorded)' },
    ...SUMMARY_FILE_FLAG,
  },
  examples: [
    { command: 'vpm run', description: 'dry: print [DRY] lines, execute nothing, leave the inbox as it is' },
    { command: 'vpm run --exec', description: 'execute the next job under the policy, sandboxed, after a checkpoint' },
    { command: 'vpm run undo ask_20261205T101500Z', description: 'put the tree back as it was before that run' },
    { command: 'vpm run --mode test --exec --summary-file out/run.json', description: 'run, verify the outputs, write a summary' },
  ],
  run: async (ctx, input): Promise<CommandResult> => (await import('./run.handlers.js')).runCommand(ctx, input),
});
