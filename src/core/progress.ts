import type { Ctx } from './context.js';

export interface Progress {
  update(text: string): void;
  succeed(text: string): void;
  fail(text: string): void;
}

/**
 * A spinner on stderr when stderr is a TTY (and NO_COLOR is unset); plain status lines otherwise,
 * so CI logs stay readable and nothing animated ever reaches stdout.
 */
export async function startProgress(ctx: Ctx, text: string): Promise<Progress> {
  if (!ctx.colorEnabled()) {
    ctx.status(text);
    return {
      update: (t) => ctx.status(t),
      succeed: (t) => ctx.status(t),
      fail: (t) => ctx.status(t),
    };
  }
  const { default: yoctoSpinner } = await import('yocto-spinner');
  const spinner = yoctoSpinner({ text, stream: ctx.io.stderr as NodeJS.WriteStream }).start();
  return {
    update: (t) => {
      spinner.text = t;
    },
    succeed: (t) => void spinner.success(t),
    fail: (t) => void spinner.error(t),
  };
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
