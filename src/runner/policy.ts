/** The execution policy (src/runner/policy/): canonical form, wrappers, program rules, evaluation. */
export * from './policy/evaluate.js';
export { escapeForLog, tokeniseCommand, checkCommandString, checkArgvWord } from './policy/canonical.js';
