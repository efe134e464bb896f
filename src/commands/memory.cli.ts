import { Option, type Command } from 'commander';
import type { ActionFactory } from '../cli.js';

/** The local memory loop: chat append → summary → digest → state, and `loop` chaining them. */
export function registerMemoryCommands(program: Command, act: ActionFactory): void {
  const chat = program.command('chat').description('conversation log (logs/<date>.jsonl)');
  chat
    .command('append')
    .description('append one chat turn to logs/<YYYY-MM-DD>.jsonl (text from --text or stdin)')
    .addOption(new Option('--role <role>', 'who spoke').choices(['user', 'assistant', 'system', 'tool']).default('user'))
    .option('--session <id>', 'session id (default: $VPM_SESSION or today)')
    .option('--text <text>', 'the text (default: read stdin)')
    .option('--meta <json>', 'optional JSON object stored as meta')
    .action(act('chat append', async () => (await import('./chat-append.js')).chatAppendCommand));

  program
    .command('summary')
    .description('summarise new chat entries (≤ 400 graphemes) into memory.json')
    .addOption(new Option('--provider <name>', 'summariser').choices(['extractive', 'openai']))
    .action(act('summary', async () => (await import('./summary.js')).summaryCommand));

  program
    .command('digest')
    .description('write docs/sessions/<date>_digest.md and diagrams/src/<date>_nav.md')
    .option('--date <YYYY-MM-DD>', 'day to digest (default: today, UTC)')
    .option('--session <id>', 'digest one session instead of a whole day')
    .action(act('digest', async () => (await import('./digest.js')).digestCommand));

  const state = program.command('state').description('STATE/current_state.md: the single source of truth');
  state
    .command('show')
    .description('print the parsed state')
    .action(act('state show', async () => (await import('./state.js')).stateShowCommand));
  state
    .command('check')
    .description('validate the state file (schema, unique goal ids)')
    .action(act('state check', async () => (await import('./state.js')).stateCheckCommand));
  state
    .command('patch <file>')
    .description('apply an RFC 6902 JSON patch to the parsed state (shows the diff; writes with --yes)')
    .option('-y, --yes', 'write without asking')
    .option('--dry-run', 'show the diff only')
    .action(act('state patch', async () => (await import('./state.js')).statePatchCommand));

  program
    .command('loop')
    .description('chat append (with --text) → summary → digest → healthcheck; stops at the first failing stage')
    .option('--text <text>', 'append this chat turn first')
    .addOption(new Option('--role <role>', 'role for --text').choices(['user', 'assistant', 'system', 'tool']).default('user'))
    .option('--session <id>', 'session id')
    .action(act('loop', async () => (await import('./loop.js')).loopCommand));
}
