import { defineCommand } from '../../cli/spec.js';
import { UsageError } from '../../core/errors.js';

export const memorySearch = defineCommand({
  path: ['memory', 'search'],
  summary: 'find chat entries, summaries and digests by words (Japanese included), newest first',
  args: [{ name: 'query', description: 'the words to find (every word must occur)', required: true, variadic: true }],
  flags: {
    limit: { type: 'string', placeholder: '<n>', description: 'at most this many hits (default 20)', default: '20' },
  },
  examples: [
    { command: 'vpm memory search canary', description: 'every mention of the canary, newest first' },
    { command: 'vpm memory search カナリア 中止', description: 'Japanese words (both must occur)' },
    { command: 'vpm memory search --json --limit 5 rollback', description: 'the five newest hits as JSON' },
  ],
  parse: ({ args, flags }) => {
    if (!/^[1-9]\d{0,5}$/.test(flags.limit)) throw new UsageError(`--limit must be a whole number from 1 to 999999, got '${flags.limit}'`);
    return { query: args.join(' '), limit: Number(flags.limit) };
  },
  async run(ctx, { query, limit }) {
    const { searchMemory } = await import('../../memory/search.js');
    const r = searchMemory(ctx.root, query, { limit });
    const lines = r.hits.map((h) => `${h.ts}  ${h.kind.padEnd(7)}  ${h.id}\n    ${h.snippet}`);
    const more = r.total > r.hits.length ? `\n(${r.total - r.hits.length} older hits not shown; raise --limit)` : '';
    return {
      data: r,
      human: r.hits.length
        ? `${lines.join('\n')}${more}`
        : `no chat entry, summary or digest contains ${r.terms.map((t) => `'${t}'`).join(' and ')}`,
    };
  },
});
