/**
 * OpenAI-compatible chat-completions summariser (any endpoint speaking that API). Callers fall
 * back to the extractive summariser on any error or timeout; the cap is enforced on its output too.
 * Failures say which: no API key (EnvironmentError), endpoint not reached (UnreachableError), or
 * what the endpoint answered (OperationalError).
 */
import { describeNetworkFailure, networkHint } from '../../adapters/net-errors.js';
import { EnvironmentError, OperationalError, UnreachableError } from '../../core/errors.js';
import type { SummaryInputTurn } from './extractive.js';

export const DEFAULT_OPENAI_BASE_URL = 'https://api.openai.com/v1';

/**
 * OpenAI's own endpoint always wants a key, so without one vpm does not send the chat there at all.
 * Other OpenAI-compatible endpoints (a local model server) may not; they are asked, and a 401/403
 * answer names the missing key.
 */
function missingKey(baseUrl: string, apiKey: string | undefined): EnvironmentError | undefined {
  if (apiKey) return undefined;
  if (new URL(baseUrl).host !== new URL(DEFAULT_OPENAI_BASE_URL).host) return undefined;
  return new EnvironmentError(`VPM_LLM_API_KEY is not set (the openai summariser needs it for ${new URL(baseUrl).host})`, {
    hint: 'export VPM_LLM_API_KEY=<key>, or set summary.provider: extractive in vpm.config.yaml',
  });
}

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
  const keyProblem = missingKey(opts.baseUrl, opts.apiKey);
  if (keyProblem) throw keyProblem;
  let res: Response;
  try {
    res = await (opts.fetch ?? fetch)(url, {
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
  } catch (err) {
    const net = describeNetworkFailure(err);
    if (!net) throw err;
    const why = net.kind === 'timeout' ? `no answer within ${opts.timeoutMs} ms (timeout)` : net.text;
    throw new UnreachableError('the LLM provider', url, why, {
      hint: `${networkHint(net.kind)}; check VPM_LLM_BASE_URL / summary.base_url`,
      cause: err,
    });
  }
  if (!res.ok) {
    await res.body?.cancel().catch(() => undefined);
    const host = new URL(url).host;
    if (res.status === 401 || res.status === 403) {
      throw new OperationalError(
        `the LLM provider at ${host} refused the request: HTTP ${res.status} (${opts.apiKey ? 'VPM_LLM_API_KEY not accepted' : 'VPM_LLM_API_KEY is not set'})`,
        {
          hint: opts.apiKey ? 'set VPM_LLM_API_KEY to a valid key for this endpoint' : 'export VPM_LLM_API_KEY=<key>',
        },
      );
    }
    throw new OperationalError(`the LLM provider at ${host} answered HTTP ${res.status}`, {
      retryable: res.status === 429 || res.status >= 500,
    });
  }
  const body = (await res.json()) as {
    choices?: Array<{ message?: { content?: string } }>;
    usage?: { prompt_tokens?: number; completion_tokens?: number };
  };
  const text = body.choices?.[0]?.message?.content?.trim();
  if (!text) throw new Error('response had no choices[0].message.content');
  return { text, tokenIn: body.usage?.prompt_tokens, tokenOut: body.usage?.completion_tokens };
}
