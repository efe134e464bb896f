import type { CommandResult } from '../../core/command.js';
import { defineCommand } from '../../cli/spec.js';

export const chatAppend = defineCommand({
  path: ['chat', 'append'],
  summary: 'append one chat turn to logs/<YYYY-MM-DD>.jsonl (text from --text or stdin)',
  flags: {
    role: {
      type: 'string',
      placeholder: '<role>',
      description: 'who spoke',
      choices: ['user', 'assistant', 'system', 'tool'],
      default: 'user',
    },
    session: { type: 'string', placeholder: '<id>', description: 'session id (default: $VPM_SESSION or today)' },
    text: { type: 'string', placeholder: '<text>', description: 'the text (default: read stdin, at most 1 MiB)' },
    meta: { type: 'string', placeholder: '<json>', description: 'optional JSON object stored as meta' },
    lossy: {
      type: 'boolean',
      description: 'store text that is not valid UTF-8 with the invalid bytes replaced (default: refuse it, exit 2)',
    },
  },
  examples: [
    { command: 'vpm chat append --text "deploy hello to dev"', description: 'record a user turn' },
    { command: 'echo "tests pass" | vpm chat append --role assistant', description: 'text from stdin' },
    { command: `vpm chat append --session s1 --meta '{"tool":"codex"}' --text hi`, description: 'with a session and metadata' },
  ],
  run: async (ctx, input): Promise<CommandResult> => (await import('./chat-append.handlers.js')).chatAppendCommand(ctx, input),
});
