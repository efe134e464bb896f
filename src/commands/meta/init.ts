import { defineCommand } from '../../cli/spec.js';

export const init = defineCommand({
  path: ['init'],
  repo: 'required',
  summary: 'prepare this repository for vpm: STATE, .gitignore entries, vpm.config.yaml, codex/inbox/ (idempotent)',
  flags: {
    freezeFile: {
      type: 'string',
      placeholder: '<mode>',
      choices: ['local', 'committed'],
      description:
        'local: .ops/deploy_freeze.json stays ignored (a freeze holds in this checkout, and on the clusters with a fleet); committed: it is tracked, so a freeze travels with the repository (one commit per freeze on/off). Asked on a terminal; default local',
    },
  },
  examples: [
    { command: 'npx vpm init', description: 'in the root of your repository (or any directory inside it)' },
    { command: 'vpm init --json', description: 'what was created, updated and kept' },
  ],
  async run(ctx, { opts }) {
    const { initProject } = await import('../../project/init.js');
    let freezeFile = opts.freezeFile as 'local' | 'committed' | undefined;
    if (!freezeFile && ctx.canPrompt()) {
      const { confirm } = await import('../../core/progress.js');
      const committed = await confirm(
        ctx,
        'Commit .ops/deploy_freeze.json so a freeze travels with the repository (one commit per freeze on/off)?',
      );
      freezeFile = committed ? 'committed' : 'local';
    }
    const result = await initProject(ctx.root, ctx.now(), { freezeFile: freezeFile ?? 'local' });
    const lines = [
      ...result.created.map((p) => `created  ${p}`),
      ...result.updated.map((p) => `updated  ${p}`),
      ...result.kept.map((p) => `kept     ${p}`),
    ];
    if (result.created.length + result.updated.length > 0) ctx.status('next: git add -A && vpm checkpoint initial');
    return { data: result, human: lines.join('\n') };
  },
});
