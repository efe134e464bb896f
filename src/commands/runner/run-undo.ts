import { defineCommand } from '../../cli/spec.js';
import { UsageError } from '../../core/errors.js';

export const runUndo = defineCommand({
  path: ['run', 'undo'],
  summary:
    'undo an exec run: files, HEAD and earlier uncommitted edits back as they were before it (from refs/vpm/checkpoints/run_<job_id>)',
  repo: 'required',
  args: [{ name: 'job-id', description: 'the job whose run to undo (printed by vpm run --exec)', required: true }],
  flags: {},
  details: 'Commits the run made stay reachable through refs/vpm/pre-undo/run_<job_id>_<ts>; vpm’s own state is left as it is.',
  examples: [{ command: 'vpm run undo ask_20261205T101500Z', description: 'undo that job’s run' }],
  parse: ({ args }) => {
    if (!/^[\w.:-]{1,128}$/.test(args[0]))
      throw new UsageError(`'${args[0]}' is not a job id`, { hint: 'use the id printed by vpm run --exec (see reports/codex_runs/)' });
    return { jobId: args[0] };
  },
  async run(ctx, { jobId }) {
    const { undoRun } = await import('../../runner/checkpoint.js');
    const result = await undoRun(ctx.root, jobId, ctx.now());
    ctx.status(`the run's own commits are kept at ${result.saved_ref}`);
    return {
      data: result,
      human: `undone ${jobId}: HEAD ${result.head?.slice(0, 12) ?? '(none)'}${result.branch ? ` on ${result.branch.replace(/^refs\/heads\//, '')}` : ''}`,
    };
  },
});
