import type { CommandHandler } from '../core/command.js';
export const stateShowCommand: CommandHandler = async () => ({ data: null });
export const stateCheckCommand = stateShowCommand;
export const statePatchCommand = stateShowCommand;
