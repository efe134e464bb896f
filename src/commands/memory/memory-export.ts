import { defineCommand } from '../../cli/spec.js';
import { UsageError } from '../../core/errors.js';

export const memoryExport = defineCommand({
  path: ['memory', 'export'],
  summary: 'write the project memory (goals and coverage, freezes, open items, summaries) into a marked section of AGENTS.md / CLAUDE.md',
  details:
    'Only the text between <!-- vpm:memory:start --> and <!-- vpm:memory:end --> is replaced (the section is appended when the markers are absent); the rest of the file is left byte for byte. The same state gives the same bytes.',
  flags: {
    agentsMd: { type: 'boolean', description: 'write AGENTS.md at the repository root' },
    claudeMd: { type: 'boolean', description: 'write CLAUDE.md at the repository root' },
    maxChars: {
      type: 'string',
      placeholder: '<n>',
      description: 'size budget of the section in characters, markers included',
      default: '4000',
    },
    summaries: { type: 'string', placeholder: '<n>', description: 'how many of the newest summaries to include (default 5)', default: '5' },
  },
  examples: [
    { command: 'vpm memory export --agents-md', description: 'update the memory section of AGENTS.md' },
    { command: 'vpm memory export --claude-md --max-chars 2000', description: 'CLAUDE.md, at most 2,000 characters' },
    { command: 'vpm memory export --agents-md --claude-md', description: 'both files' },
  ],
  parse: ({ flags }) => {
    const files = [...(flags.agentsMd ? (['AGENTS.md'] as const) : []), ...(flags.claudeMd ? (['CLAUDE.md'] as const) : [])];
    if (files.length === 0)
      throw new UsageError('say which file to write', {
        hint: 'vpm memory export --agents-md (AGENTS.md) or --claude-md (CLAUDE.md), or both',
      });
    const int = (v: string, name: string, min: number) => {
      if (!/^\d{1,7}$/.test(v) || Number(v) < min) throw new UsageError(`${name} must be a whole number ≥ ${min}, got '${v}'`);
      return Number(v);
    };
    return { files, maxChars: int(flags.maxChars, '--max-chars', 100), summaries: int(flags.summaries, '--summaries', 0) };
  },
  async run(ctx, { files, maxChars, summaries }) {
    const { exportMemory } = await import('../../memory/agents-export.js');
    const results = [];
    for (const file of files) results.push(await exportMemory(ctx.root, { file, maxChars, summaries, now: ctx.now(), env: ctx.env }));
    return {
      data: { files: results },
      human: results
        .map(
          (r) =>
            `${r.file}: ${r.changed ? (r.created ? 'created' : 'updated') : 'unchanged'} (${r.chars}/${r.max_chars} characters${
              Object.values(r.omitted).some(Boolean)
                ? `, left out: ${Object.entries(r.omitted)
                    .filter(([, n]) => n > 0)
                    .map(([k, n]) => `${n} ${k.replace('_', ' ')}`)
                    .join(', ')}`
                : ''
            })`,
        )
        .join('\n'),
    };
  },
});
