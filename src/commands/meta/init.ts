import { defineCommand } from '../../cli/spec.js';

export const init = defineCommand({
  path: ['init'],
  repo: 'required',
  summary: 'prepare this repository for vpm: STATE, .gitignore entries, vpm.config.yaml, codex/inbox/ (idempotent)',
  flags: {},
  examples: [
    { command: 'npx vpm init', description: 'in the root of your repository (or any directory inside it)' },
    { command: 'vpm init --json', description: 'what was created, updated and kept' },
  ],
  parse: () => ({}),
  async run(ctx) {
    const { initProject } = await import('../../project/init.js');
    const result = await initProject(ctx.root, ctx.now());
    const lines = [
      ...result.created.map((p) => `created  ${p}`),
      ...result.updated.map((p) => `updated  ${p}`),
      ...result.kept.map((p) => `kept     ${p}`),
    ];
    if (result.created.length + result.updated.length > 0) ctx.status('next: git add -A && vpm checkpoint initial');
    return { data: result, human: lines.join('\n') };
  },
});
