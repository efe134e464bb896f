/**
 * `vpm summary`: summarise the chat entries after memory.json's cursor into one ≤ 400-grapheme
 * entry, prepended to memory.json (newest first), and move the cursor — all in one atomic update.
 */
import type { Ctx } from '../core/context.js';
import { makeId } from '../core/ids.js';
import { maskSecrets } from '../core/secrets.js';
import { SUMMARY_MAX_GRAPHEMES, type MemoryEntry } from '../schemas/memory.js';
import { readChatSince, type InvalidChatLine } from './chat-reader.js';
import { graphemeLength, truncateGraphemes } from './graphemes.js';
import { updateMemory } from './memory-store.js';
import { summariseExtractive, type SummaryInputTurn } from './summarisers/extractive.js';

export interface SummaryOutcome {
  created: MemoryEntry | null;
  invalid_lines: InvalidChatLine[];
  message: string;
}

interface ProviderResult {
  text: string;
  provider: string;
  fallback?: { from: string; reason: string };
  tokenIn?: number;
  tokenOut?: number;
}

async function runProvider(ctx: Ctx, turns: SummaryInputTurn[], providerFlag?: string): Promise<ProviderResult> {
  const config = await ctx.config();
  const provider = providerFlag ?? config.summary.provider;
  if (provider === 'openai') {
    try {
      const { summariseOpenAi, DEFAULT_OPENAI_BASE_URL } = await import('./summarisers/openai.js');
      const r = await summariseOpenAi(turns, {
        baseUrl: config.summary.base_url ?? DEFAULT_OPENAI_BASE_URL,
        model: config.summary.model ?? 'gpt-4o-mini',
        apiKey: ctx.env.VPM_LLM_API_KEY,
        timeoutMs: config.summary.timeout_ms,
        maxGraphemes: SUMMARY_MAX_GRAPHEMES,
      });
      return { text: r.text, provider: 'openai', tokenIn: r.tokenIn, tokenOut: r.tokenOut };
    } catch (err) {
      // The reason names what went wrong (no VPM_LLM_API_KEY, endpoint not reached, its answer).
      const e = err as Error & { hint?: string };
      const reason = maskSecrets(
        e.name === 'TimeoutError' ? `no answer within ${config.summary.timeout_ms} ms (timeout)` : e.message,
        ctx.env,
      );
      ctx.status(
        `warning: openai summariser not used: ${reason}; using the extractive summariser${e.hint ? `\nhint: ${maskSecrets(e.hint, ctx.env)}` : ''}`,
      );
      return { text: summariseExtractive(turns, SUMMARY_MAX_GRAPHEMES), provider: 'extractive', fallback: { from: 'openai', reason } };
    }
  }
  return { text: summariseExtractive(turns, SUMMARY_MAX_GRAPHEMES), provider: 'extractive' };
}

export async function summariseNewChat(ctx: Ctx, providerFlag?: string): Promise<SummaryOutcome> {
  const config = await ctx.config();
  return updateMemory<SummaryOutcome>(ctx.root, async (memory) => {
    const read = readChatSince(ctx.root, memory.cursor);
    if (read.entries.length === 0) {
      const moved = JSON.stringify(read.cursor) !== JSON.stringify(memory.cursor);
      return {
        // Skipped invalid lines still advance the cursor so they are not re-reported forever.
        next: moved ? { ...memory, cursor: read.cursor } : undefined,
        result: { created: null, invalid_lines: read.invalid, message: 'no new chat entries; nothing to summarise' },
      };
    }
    const turns = read.entries.map((e) => ({ role: e.role, text: e.text }));
    const r = await runProvider(ctx, turns, providerFlag);
    // The cap holds whatever the provider returned.
    const summary = truncateGraphemes(maskSecrets(r.text, ctx.env).replace(/\s+/g, ' ').trim(), SUMMARY_MAX_GRAPHEMES);
    const chars = graphemeLength(summary);
    const sourceChars = turns.reduce((n, t) => n + graphemeLength(t.text), 0);
    const entry: MemoryEntry = {
      id: makeId('sum', ctx.now()),
      created_at: ctx.now().toISOString(),
      kind: 'summary',
      summary,
      chars,
      source: { from_id: read.entries[0].id, to_id: read.entries[read.entries.length - 1].id, count: read.entries.length },
      provider: r.provider,
      ...(r.fallback ? { fallback: r.fallback } : {}),
      compress_ratio: sourceChars === 0 ? 0 : Number((chars / sourceChars).toFixed(4)),
      sessions: [...new Set(read.entries.map((e) => e.session))].sort(),
    };
    Object.assign(ctx.requestFields, {
      token_in: r.tokenIn ?? Math.ceil(sourceChars / 4),
      token_out: r.tokenOut ?? Math.ceil(chars / 4),
      compress_ratio: entry.compress_ratio,
      provider: r.provider,
    });
    const entries = [entry, ...memory.entries].slice(0, config.summary.max_entries);
    return {
      next: { ...memory, version: 1, cursor: read.cursor, entries },
      result: {
        created: entry,
        invalid_lines: read.invalid,
        message: `summarised ${read.entries.length} entries into ${chars} characters`,
      },
    };
  });
}
