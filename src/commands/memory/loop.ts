import { defineCommand } from '../../cli/spec.js';
import type { CommandResult } from '../../core/command.js';

export const loop = defineCommand({
  path: ['loop'],
  summary: '[chat import →] chat append (--text or piped stdin) → summary → digest → healthcheck; stops at the first failing stage',
  flags: {
    text: { type: 'string', placeholder: '<text>', description: 'append this chat turn first (or pipe it on stdin)' },
    role: {
      type: 'string',
      placeholder: '<role>',
      description: 'role for the appended turn',
      choices: ['user', 'assistant', 'system', 'tool'],
      default: 'user',
    },
    session: { type: 'string', placeholder: '<id>', description: 'session id' },
    import: {
      type: 'boolean',
      description: 'first import new turns from every agent whose transcripts exist for this repository (vpm chat import)',
    },
  },
  examples: [
    { command: 'vpm loop', description: 'summary → digest → healthcheck' },
    { command: 'vpm loop --text "switched the gate to prometheus"', description: 'record a turn first' },
    { command: 'echo "done for today" | vpm loop', description: 'the turn from stdin' },
    { command: 'vpm loop --import', description: 'import Codex / Claude Code / Aider transcripts first' },
  ],
  run: async (ctx, input): Promise<CommandResult> => (await import('./loop.handlers.js')).loopCommand(ctx, input),
});
