import type { CommandHandler } from '../core/command.js';
export const loopCommand: CommandHandler = async () => ({ data: null });
