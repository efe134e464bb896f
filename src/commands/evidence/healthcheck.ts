import type { CommandResult } from '../../core/command.js';
import { defineCommand } from '../../cli/spec.js';

export const healthcheck = defineCommand({
  path: ['healthcheck'],
  summary: 'run the tests, validate + export Mermaid diagrams, write reports/{coverage,lag,quality}.json (exit 1 when a check is red)',
  flags: {
    testCmd: {
      type: 'string',
      placeholder: '<cmd>',
      description: 'test command (default: config test.command, else npm test); run without a shell',
    },
    test: { type: 'boolean', negatable: true, description: 'skip the tests' },
    diagrams: { type: 'boolean', negatable: true, description: 'skip Mermaid validation and SVG export' },
    minGoalCoverage: {
      type: 'string',
      placeholder: '<ratio>',
      description: 'goal coverage (0..1) below which coverage is red (default 0 or $VPM_MIN_GOAL_COVERAGE)',
    },
    coverageSummary: {
      type: 'string',
      placeholder: '<path>',
      description: 'istanbul json-summary with test coverage totals',
      default: 'coverage/coverage-summary.json',
    },
    testTimeout: { type: 'string', placeholder: '<seconds>', description: 'kill the tests after this long', default: '1800' },
  },
  examples: [
    { command: 'vpm healthcheck', description: 'tests, diagrams and reports' },
    { command: 'vpm healthcheck --no-test --min-goal-coverage 0.8', description: 'reports only, require 80% of goals with evidence' },
  ],
  run: async (ctx, input): Promise<CommandResult> => (await import('./healthcheck.handlers.js')).healthcheckCommand(ctx, input),
});
