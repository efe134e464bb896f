import type { Ctx } from './context.js';

export interface ProgressOptions {
  /** Nothing is shown for waits shorter than this (most finish before a spinner would help). */
  delayMs?: number;
  /** Without a TTY: how often a plain "still …" line is printed. */
  intervalMs?: number;
}

/**
 * Shows that a long wait is still going: on a TTY a spinner on stderr once the wait passes
 * `delayMs` (1 s), without one a plain line then, and another every `intervalMs` (10 s) with the
 * elapsed time — so CI logs show progress without animation. Never on stdout.
 */
export async function withProgress<T>(ctx: Ctx, text: string, work: () => Promise<T>, opts: ProgressOptions = {}): Promise<T> {
  const delayMs = opts.delayMs ?? 1_000;
  const intervalMs = opts.intervalMs ?? 10_000;
  const started = Date.now();
  let spinner: { stop(): void } | undefined;
  let ticker: ReturnType<typeof setInterval> | undefined;
  const tty = ctx.io.stderrIsTTY && ctx.colorEnabled();
  const shown = setTimeout(() => {
    if (tty) {
      void import('yocto-spinner').then(({ default: yoctoSpinner }) => {
        if (done) return;
        const s = yoctoSpinner({ text, stream: ctx.io.stderr as NodeJS.WriteStream }).start();
        spinner = { stop: () => void s.stop() };
      });
      return;
    }
    ctx.status(`${text} …`);
    ticker = setInterval(() => ctx.status(`${text} … still waiting (${Math.round((Date.now() - started) / 1000)} s)`), intervalMs);
    ticker.unref?.();
  }, delayMs);
  shown.unref?.();
  let done = false;
  try {
    return await work();
  } finally {
    done = true;
    clearTimeout(shown);
    if (ticker) clearInterval(ticker);
    spinner?.stop();
  }
}

/** Asks a yes/no question on the TTY. Only call when ctx.canPrompt(). */
export async function confirm(ctx: Ctx, question: string): Promise<boolean> {
  const { createInterface } = await import('node:readline/promises');
  const rl = createInterface({ input: ctx.io.stdin, output: ctx.io.stderr });
  try {
    const answer = await rl.question(`${question} [y/N] `);
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    rl.close();
  }
}
