import type { CommandHandler } from '../core/command.js';
export const digestCommand: CommandHandler = async () => ({ data: null });
