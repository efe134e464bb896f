import type { CommandHandler } from '../core/command.js';
export const summaryCommand: CommandHandler = async () => ({ data: null });
