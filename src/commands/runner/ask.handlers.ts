import type { CommandHandler } from '../../core/command.js';
import type { Ctx } from '../../core/context.js';
import { UsageError } from '../../core/errors.js';
import { readStdinText } from '../../core/stdin.js';
import type { Job } from '../../schemas/job.js';
import type { FlagsOf } from '../../cli/spec.js';
import type { ask } from './ask.js';

export type AskOptions = FlagsOf<typeof ask>;

function positiveInt(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || Number(value) <= 0) throw new UsageError(`${flag} must be a positive number, got ${JSON.stringify(value)}`);
  return Number(value);
}

async function readStdin(ctx: Ctx): Promise<string> {
  return readStdinText(ctx.io.stdin, {
    limitBytes: 65_536,
    what: 'the /ask text on stdin',
    hint: 'put large inputs in a file and reference it',
  });
}

export const askCommand: CommandHandler<AskOptions> = async (ctx, { args, opts }) => {
  const issue = positiveInt(opts.issue, '--issue');
  const comment = positiveInt(opts.comment, '--comment');
  let text = args.join(' ');
  let source: Job['source'] = { type: 'cli' };
  if (issue !== undefined || comment !== undefined) {
    const config = await ctx.config();
    const repo = opts.repo ?? config.github?.repo ?? ctx.env.GITHUB_REPOSITORY;
    if (!text) {
      if (!repo)
        throw new UsageError('no repository for --issue/--comment', {
          hint: 'pass --repo owner/name, set github.repo in vpm.config, or GITHUB_REPOSITORY',
        });
      const { fetchAskText } = await import('../../runner/github-comment.js');
      const fetched = await fetchAskText(await ctx.github({ repo }), { issue, comment });
      text = fetched.text;
      source = {
        type: comment !== undefined ? 'issue_comment' : 'issue',
        url: fetched.url,
        repo,
        ...(fetched.issue ? { issue: fetched.issue } : {}),
        ...(comment !== undefined ? { comment_id: comment } : {}),
      };
    } else {
      source = {
        type: comment !== undefined ? 'issue_comment' : 'issue',
        ...(repo ? { repo } : {}),
        ...(issue !== undefined ? { issue } : {}),
        ...(comment !== undefined ? { comment_id: comment } : {}),
      };
    }
  } else if (!text) {
    if (ctx.io.stdinIsTTY)
      throw new UsageError('no /ask text given', {
        hint: 'vpm ask "S5 apply: dev hello-ksvc", pipe it on stdin, or use --issue N --comment ID',
      });
    text = await readStdin(ctx);
  }
  if (Buffer.byteLength(text, 'utf8') > 65_536)
    throw new UsageError('the /ask text is longer than 64 KiB', { hint: 'put large inputs in a file and reference it' });
  const { buildAskJob, writeAskJob } = await import('../../runner/ask.js');
  const job = buildAskJob({ text, source, context: opts.context, namespace: opts.namespace }, ctx.now(), ctx.env);
  const result = await writeAskJob(ctx.root, job);
  if (result.overlay_exists === false)
    ctx.status(`warning: ${job.apply!.overlay} does not exist yet; the apply job will fail when executed without it`);
  return {
    data: {
      id: job.id,
      kind: job.kind,
      file: result.file,
      ...(job.apply ? { overlay: job.apply.overlay, overlay_exists: result.overlay_exists } : {}),
      source: job.source,
    },
    human: result.file,
  };
};
