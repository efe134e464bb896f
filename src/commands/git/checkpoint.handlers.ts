import type { CommandHandler } from '../../core/command.js';
import type { Ctx } from '../../core/context.js';
import type { FlagsOf } from '../../cli/spec.js';
import type { checkpoint } from './checkpoint.js';

type CheckpointOpts = FlagsOf<typeof checkpoint>;

const session = (ctx: Ctx) => ctx.git();

export const checkpointCommand: CommandHandler<CheckpointOpts> = async (ctx, { args, opts }) => {
  const { createCheckpoint, validateCheckpointName } = await import('../../git/checkpoint.js');
  const { writeGitSummary, failureReason } = await import('../../git/summary.js');
  let stage = 'validate';
  try {
    const { git, repo } = await session(ctx);
    const name = await validateCheckpointName(git, args[0]);
    stage = 'commit';
    const created = await createCheckpoint({ git, repo, stateRoot: ctx.root, env: ctx.env, now: ctx.now }, name);
    if (created.empty) ctx.status(`nothing had changed: CHECKPOINT ${name} is an empty commit on top of the previous HEAD`);
    if (created.warning) ctx.status(`warning: ${created.warning}`);
    if (created.replaced) ctx.status(`checkpoint ${name} existed (at ${created.replaced.slice(0, 12)}); it now points at the new commit`);
    ctx.requestFields.checkpoint = name;
    await writeGitSummary(ctx.startDir, opts.summaryFile, {
      phase: 'checkpoint',
      step: created.hash,
      done: true,
      latest_step: 'commit',
      step_count: 1,
      end_reason: `checkpoint ${name} created`,
    });
    return { data: created, human: `checkpoint ${created.hash}` };
  } catch (err) {
    await writeGitSummary(ctx.startDir, opts.summaryFile, {
      phase: 'checkpoint',
      step: null,
      done: false,
      latest_step: stage,
      step_count: 0,
      end_reason: failureReason(err),
    }).catch((e: Error) => ctx.status(`warning: could not write ${opts.summaryFile}: ${e.message}`));
    throw err;
  }
};

export const checkpointListCommand: CommandHandler = async (ctx) => {
  const { listCheckpoints } = await import('../../git/checkpoint.js');
  const { git } = await session(ctx);
  const list = await listCheckpoints(git);
  if (list.length === 0) {
    if (!ctx.json) ctx.status('no checkpoints yet (create one with: vpm checkpoint NAME)');
    return { data: [] };
  }
  const width = Math.max(4, ...list.map((c) => c.name.length));
  const lines = [
    `${'NAME'.padEnd(width)}  ${'COMMIT'.padEnd(12)}  ${'DATE'.padEnd(24)}  SUBJECT`,
    ...list.map((c) => `${c.name.padEnd(width)}  ${c.hash.slice(0, 12)}  ${c.date}  ${c.subject}`),
  ];
  return { data: list, human: lines.join('\n') };
};
