import { defineCommand } from '../../cli/spec.js';
import { UsageError } from '../../core/errors.js';

const SHELLS = ['bash', 'zsh', 'fish'] as const;

export const completion = defineCommand({
  path: ['completion'],
  summary: 'print a shell completion script for vpm (bash, zsh or fish)',
  repo: 'none',
  args: [{ name: 'shell', description: 'bash | zsh | fish', required: true, choices: ['bash', 'zsh', 'fish'] }],
  flags: {},
  examples: [
    { command: 'source <(vpm completion bash)', description: 'bash, this shell' },
    { command: 'vpm completion zsh > "${fpath[1]}/_vpm"', description: 'zsh, permanently' },
    { command: 'vpm completion fish > ~/.config/fish/completions/vpm.fish', description: 'fish' },
  ],
  parse: ({ args }) => {
    const shell = args[0] as (typeof SHELLS)[number];
    if (!SHELLS.includes(shell)) throw new UsageError(`no completion for shell '${args[0]}'`, { hint: `use one of: ${SHELLS.join(', ')}` });
    return { shell };
  },
  async run(_ctx, { shell }) {
    const { completionScript } = await import('../../cli/completion.js');
    const script = completionScript(shell);
    return { data: { shell, script }, human: script };
  },
});
