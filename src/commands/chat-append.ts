import type { CommandHandler } from '../core/command.js';
export const chatAppendCommand: CommandHandler = async () => ({ data: null });
