/**
 * OpenAI-compatible chat-completions summariser (any endpoint speaking that API). Callers fall
 * back to the extractive summariser on any error or timeout; the cap is enforced on its output too.
 */
import type { SummaryInputTurn } from './extractive.js';

export interface OpenAiOptions {
  baseUrl: string;
  model: string;
  apiKey?: string;
  timeoutMs: number;
  maxGraphemes: number;
  fetch?: typeof fetch;
}

export interface OpenAiSummary {
  text: string;
  tokenIn?: number;
  tokenOut?: number;
}

const MAX_PROMPT_CHARS = 60_000;

export async function summariseOpenAi(turns: SummaryInputTurn[], opts: OpenAiOptions): Promise<OpenAiSummary> {
  let transcript = turns.map((t) => `${t.role}: ${t.text}`).join('\n');
  // Keep the newest part of a very long batch: it carries the current state.
  if (transcript.length > MAX_PROMPT_CHARS) transcript = transcript.slice(-MAX_PROMPT_CHARS);
  const url = `${opts.baseUrl.replace(/\/+$/, '')}/chat/completions`;
  const res = await (opts.fetch ?? fetch)(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(opts.apiKey ? { authorization: `Bearer ${opts.apiKey}` } : {}),
    },
    body: JSON.stringify({
      model: opts.model,
      temperature: 0,
      messages: [
        {
          role: 'system',
          content: `Summarise this development chat in the language it is written in, in at most ${opts.maxGraphemes} characters. Keep decisions, commands, evidence paths and open items. Plain text, no preamble.`,
        },
        { role: 'user', content: transcript },
      ],
    }),
    signal: AbortSignal.timeout(opts.timeoutMs),
  });
  if (!res.ok) throw new Error(`HTTP ${res.status} from ${new URL(url).host}`);
  const body = (await res.json()) as {
    choices?: Array<{ message?: { content?: string } }>;
    usage?: { prompt_tokens?: number; completion_tokens?: number };
  };
  const text = body.choices?.[0]?.message?.content?.trim();
  if (!text) throw new Error('response had no choices[0].message.content');
  return { text, tokenIn: body.usage?.prompt_tokens, tokenOut: body.usage?.completion_tokens };
}
