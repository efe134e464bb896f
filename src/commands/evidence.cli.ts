import { Option, type Command } from 'commander';
import type { ActionFactory } from '../cli.js';

/** Evidence and the CI lane: healthcheck, diagrams, schema export, check-in, persist-report contract. */
export function registerEvidenceCommands(program: Command, act: ActionFactory): void {
  program
    .command('healthcheck')
    .description('run the tests, validate + export Mermaid diagrams, write reports/{coverage,lag,quality}.json (exit 1 when a check is red)')
    .option('--test-cmd <cmd>', 'test command (default: config test.command, else npm test); run without a shell')
    .option('--no-test', 'skip the tests')
    .option('--no-diagrams', 'skip Mermaid validation and SVG export')
    .option('--min-goal-coverage <ratio>', 'goal coverage (0..1) below which coverage is red (default 0 or $VPM_MIN_GOAL_COVERAGE)')
    .option('--coverage-summary <path>', 'istanbul json-summary with test coverage totals', 'coverage/coverage-summary.json')
    .option('--test-timeout <seconds>', 'kill the tests after this long', '1800')
    .action(act('healthcheck', async () => (await import('./healthcheck.js')).healthcheckCommand));

  const diagrams = program.command('diagrams').description('Mermaid diagrams under diagrams/src/ (*.md ```mermaid blocks, *.mmd)');
  diagrams
    .command('check')
    .description('validate every diagram; errors name the file and line')
    .action(act('diagrams check', async () => (await import('./diagrams.js')).diagramsCheckCommand));
  diagrams
    .command('export')
    .description('validate and write SVGs to diagrams/export/ (headless Chromium: /usr/bin/chromium or $VPM_CHROMIUM)')
    .action(act('diagrams export', async () => (await import('./diagrams.js')).diagramsExportCommand));

  const schema = program.command('schema').description('JSON Schemas of the evidence kinds and file formats');
  schema
    .command('export')
    .description('write every evidence kind and file format as JSON Schema (default into schemas/)')
    .option('--out <dir>', 'output directory', 'schemas')
    .option('--check', 'write nothing; exit 1 when a schema file is missing or stale')
    .action(act('schema export', async () => (await import('./schema.js')).schemaExportCommand));

  program
    .command('checkin')
    .description('print Repo / Branch / PR / Run / Evidence / Next (git + GitHub API + newest evidence; works offline)')
    .option('--repo <owner/name>', 'GitHub repository (default: config github.repo, GITHUB_REPOSITORY, or the github.com remote)')
    .option('--offline', 'do not contact GitHub')
    .action(act('checkin', async () => (await import('./checkin.js')).checkinCommand));

  const contract = program.command('contract').description('the persist-report contract (reports-only PRs merge themselves)');
  contract
    .command('check <pr>')
    .description('eligible when the PR changes only reports/** and its checks are green (exit 3 otherwise, naming the rule)')
    .option('--apply', 'when eligible: add the label and enable auto-merge')
    .option('--label <name>', 'label to add with --apply', 'persist-report')
    .addOption(new Option('--merge-method <method>', 'auto-merge method').choices(['merge', 'squash', 'rebase']).default('squash'))
    .option('--repo <owner/name>', 'GitHub repository (default: config github.repo or GITHUB_REPOSITORY)')
    .action(act('contract check', async () => (await import('./contract.js')).contractCheckCommand));
}
