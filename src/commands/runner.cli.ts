import { Option, type Command } from 'commander';
import type { ActionFactory } from '../cli.js';

/** The runner lane: `vpm ask` queues inbox jobs, `vpm run` executes them under the execution policy. */
export function registerRunnerCommands(program: Command, act: ActionFactory): void {
  program
    .command('run')
    .description('run inbox jobs (codex/inbox/*.json) under the execution policy; dry unless --exec or RUN_MODE=exec')
    .addOption(new Option('--mode <mode>', 'run | test (run, then verify outputs and warn) | cleanrun (clear state first)').choices(['run', 'test', 'cleanrun']).default('run'))
    .option('--clean', 'clear previous run state first (same as --mode cleanrun)')
    .option('--exec', 'execute the steps (default: dry, or $RUN_MODE=dry|exec)')
    .option('--dry-run', 'only log [DRY] lines, even when RUN_MODE=exec')
    .option('--no-sandbox', 'run exec steps without the bubblewrap sandbox (recorded in every step log and the phase summary)')
    .option('--no-checkpoint', 'do not snapshot the working tree before an exec run (recorded)')
    .option('--summary-file <path>', 'also write a JSON summary to PATH and a one-line summary to PATH with .txt')
    .addHelpText(
      'after',
      `
Outcomes per step: done, deny (policy), fatal_error (non-zero exit, timeout, cannot start), stopped
(not run because the job halted). Exit 1 when any step is denied or fails, or a job file is invalid.
Reports: reports/codex_runs/<job_id>/{run.log, steps/step_NNN.json, phase_state.json, phase_summary.json}.`,
    )
    .action(act('run', async () => (await import('./run.js')).runCommand));

  program
    .command('ask [text...]')
    .description('queue an /ask request as an inbox job; "S5 apply: <env> <target>" makes an apply job')
    .option('--issue <n>', 'GitHub issue the request comes from (text read from GitHub when not given)')
    .option('--comment <id>', 'GitHub issue comment holding the request')
    .option('--repo <owner/name>', 'repository for --issue/--comment (default: config github.repo or $GITHUB_REPOSITORY)')
    .option('--context <name>', 'kube context for an apply job')
    .option('-n, --namespace <ns>', 'namespace for an apply job')
    .action(act('ask', async () => (await import('./ask.js')).askCommand));
}
