/** The execution policy (src/runner/policy/): canonical form, wrappers, program rules, evaluation. */
export * from './policy/evaluate.js';
