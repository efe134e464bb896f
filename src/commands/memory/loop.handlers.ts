import type { CommandResult } from '../../core/command.js';
import type { Ctx } from '../../core/context.js';
import { VpmError } from '../../core/errors.js';
import { chatAppend } from './chat-append.js';
import { digest } from './digest.js';
import { summary } from './summary.js';
import { healthcheck } from '../evidence/healthcheck.js';
import type { HandlerInput } from '../../cli/spec.js';
import type { loop } from './loop.js';
import { fstatSync } from 'node:fs';

type LoopInput = HandlerInput<(typeof loop)['flags']>;

interface StageReport {
  stage: string;
  status: 'ok' | 'failed' | 'skipped';
  detail?: string;
  data?: unknown;
}

/**
 * Whether stdin carries text to append: a pipe (`echo … | vpm loop`) or a redirected file. Not a
 * terminal, and not the socket a parent process leaves open without writing to it, which would
 * make the loop wait forever for text nobody sends.
 */
function stdinHasText(ctx: Ctx): boolean {
  if (ctx.io.stdinIsTTY) return false;
  try {
    const stat = fstatSync(0);
    return stat.isFIFO() || stat.isFile();
  } catch {
    return false;
  }
}

/** The first line that says why a failed stage failed (its human output names the red checks). */
function failureReason(result: CommandResult): string {
  const lines = (result.human ?? '')
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  return lines.find((l) => /\b(red|fail|error|not ok|✗)/i.test(l)) ?? lines[0] ?? `${result.outcome}`;
}

const STAGE_HINTS: Record<string, string> = {
  'chat import': 'run vpm chat import --from <tool> alone to see the error',
  'chat append': 'check the text and --role, then re-run vpm loop',
  summary: 'run vpm summary alone to see the error',
  digest: 'run vpm digest alone to see the error',
  healthcheck: 'see reports/quality.json, reports/coverage.json and the test output above; run vpm healthcheck alone after fixing',
};

/**
 * The whole chain in one command. Each stage runs the same command spec as the stand-alone command;
 * the first failing stage stops the loop, is named with its reason and a hint, and its exit code is the loop's.
 */
export async function loopCommand(ctx: Ctx, { opts }: LoopInput): Promise<CommandResult> {
  const piped = opts.text === undefined && stdinHasText(ctx);
  const stages: Array<[string, () => Promise<CommandResult | undefined>]> = [
    [
      'chat append',
      async () => {
        if (opts.text === undefined && !piped) return undefined;
        return chatAppend.run(
          ctx,
          chatAppend.parse({ args: [], flags: { role: opts.role, session: opts.session, text: opts.text, meta: undefined, lossy: false } }),
        );
      },
    ],
    ['summary', async () => summary.run(ctx, summary.parse({ args: [], flags: { provider: undefined } }))],
    ['digest', async () => digest.run(ctx, digest.parse({ args: [], flags: { date: undefined, session: opts.session } }))],
    [
      'healthcheck',
      async () =>
        healthcheck.run(
          ctx,
          healthcheck.parse({
            args: [],
            flags: {
              testCmd: undefined,
              test: true,
              diagrams: true,
              minGoalCoverage: undefined,
              coverageSummary: 'coverage/coverage-summary.json',
              testTimeout: '1800',
            },
          }),
        ),
    ],
  ];
  // The import stage exists only with --import: without it the loop's stages are what they were.
  if (opts.import) {
    stages.unshift([
      'chat import',
      async () => {
        const { runImport, renderImport } = await import('./chat-import.handlers.js');
        const report = await runImport(ctx, ['codex', 'claude-code', 'aider'], [], false);
        return { data: report, human: renderImport(report) };
      },
    ]);
  }
  const report: StageReport[] = [];
  for (const [stage, run] of stages) {
    try {
      const result = await run();
      if (result === undefined) {
        report.push({ stage, status: 'skipped', detail: 'no --text given and nothing piped on stdin' });
        continue;
      }
      if (result.outcome !== undefined && result.outcome !== 'ok') {
        const reason = failureReason(result);
        report.push({ stage, status: 'failed', detail: reason, data: result.data });
        const hint = STAGE_HINTS[stage];
        return {
          data: { ok: false, failed_stage: stage, reason, hint, stages: report },
          human: `${renderLoop(report)}\nloop stopped at ${stage}: ${reason}\nhint: ${hint}`,
          outcome: result.outcome,
        };
      }
      report.push({ stage, status: 'ok', data: result.data });
      ctx.status(`loop: ${stage} ok`);
    } catch (err) {
      report.push({ stage, status: 'failed', detail: (err as Error).message });
      ctx.status(`loop: stopped at ${stage}`);
      if (err instanceof VpmError) {
        throw new VpmError(`loop stopped at stage '${stage}': ${err.message}`, {
          exitCode: err.exitCode,
          hint: err.hint ?? STAGE_HINTS[stage],
          details: { stages: report },
        });
      }
      throw err;
    }
  }
  return { data: { ok: true, failed_stage: null, stages: report }, human: renderLoop(report) };
}

function renderLoop(report: StageReport[]): string {
  return report.map((r) => `${r.status.padEnd(7)} ${r.stage}${r.detail ? ` (${r.detail})` : ''}`).join('\n');
}
