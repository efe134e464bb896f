import { defineCommand } from '../../cli/spec.js';
import type { CommandResult } from '../../core/command.js';

export const chatImport = defineCommand({
  path: ['chat', 'import'],
  summary: "import an agent's own transcripts (Codex CLI, Claude Code, Aider) as chat entries; re-runs import only new turns",
  args: [
    { name: 'paths', description: "transcript files or folders (default: the tool's own locations for this repository)", variadic: true },
  ],
  flags: {
    from: {
      type: 'string',
      placeholder: '<tool>',
      description: 'whose transcripts: codex, claude-code or aider',
      choices: ['codex', 'claude-code', 'aider'],
      required: true,
    },
    dryRun: { type: 'boolean', description: 'count what would be imported; write nothing' },
  },
  examples: [
    { command: 'vpm chat import --from codex', description: "this repository's Codex CLI sessions ($CODEX_HOME/sessions)" },
    { command: 'vpm chat import --from claude-code --dry-run', description: 'count the Claude Code turns not imported yet' },
    { command: 'vpm chat import --from aider .aider.chat.history.md', description: 'an Aider chat history file' },
  ],
  run: async (ctx, input): Promise<CommandResult> => (await import('./chat-import.handlers.js')).chatImportCommand(ctx, input),
});
