import type { CommandHandler, CommandResult } from '../core/command.js';
import type { Ctx } from '../core/context.js';
import { VpmError } from '../core/errors.js';

interface LoopOptions {
  text?: string;
  role: string;
  session?: string;
}

interface StageReport {
  stage: string;
  status: 'ok' | 'failed' | 'skipped';
  detail?: string;
  data?: unknown;
}

/**
 * The whole chain in one command. Each stage is the same code the stand-alone command runs; the
 * first failing stage stops the loop and is named, and its exit code is the loop's.
 */
export const loopCommand: CommandHandler<LoopOptions> = async (ctx, { opts }) => {
  const stages: Array<[string, () => Promise<CommandResult | undefined>]> = [
    [
      'chat append',
      async () => {
        if (opts.text === undefined) return undefined;
        const { chatAppendCommand } = await import('./chat-append.js');
        return chatAppendCommand(ctx, { args: [], opts: { role: opts.role, session: opts.session, text: opts.text } });
      },
    ],
    ['summary', async () => (await import('./summary.js')).summaryCommand(ctx, { args: [], opts: {} })],
    ['digest', async () => (await import('./digest.js')).digestCommand(ctx, { args: [], opts: { session: undefined } })],
    ['healthcheck', async () => healthcheckStage(ctx)],
  ];
  const report: StageReport[] = [];
  for (const [stage, run] of stages) {
    try {
      const result = await run();
      if (result === undefined) {
        report.push({ stage, status: 'skipped', detail: stage === 'chat append' ? 'no --text given' : 'not available yet' });
        continue;
      }
      if (result.exitCode) {
        report.push({ stage, status: 'failed', data: result.data });
        return { data: { ok: false, failed_stage: stage, stages: report }, human: renderLoop(report), exitCode: result.exitCode };
      }
      report.push({ stage, status: 'ok', data: result.data });
      ctx.status(`loop: ${stage} ok`);
    } catch (err) {
      report.push({ stage, status: 'failed', detail: (err as Error).message });
      ctx.status(`loop: stopped at ${stage}`);
      if (err instanceof VpmError) {
        throw new VpmError(`loop stopped at stage '${stage}': ${err.message}`, { exitCode: err.exitCode, hint: err.hint, details: { stages: report } });
      }
      throw err;
    }
  }
  return { data: { ok: true, failed_stage: null, stages: report }, human: renderLoop(report) };
};

async function healthcheckStage(ctx: Ctx): Promise<CommandResult | undefined> {
  try {
    // The healthcheck command arrives with the evidence work; until then the stage is skipped.
    const specifier = './healthcheck.js';
    const mod = (await import(specifier)) as { healthcheckCommand?: CommandHandler };
    if (mod.healthcheckCommand) return mod.healthcheckCommand(ctx, { args: [], opts: {} });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ERR_MODULE_NOT_FOUND') throw err;
  }
  return undefined;
}

function renderLoop(report: StageReport[]): string {
  return report.map((r) => `${r.status.padEnd(7)} ${r.stage}${r.detail ? ` (${r.detail})` : ''}`).join('\n');
}
