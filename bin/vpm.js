#!/usr/bin/env node
// Entry point kept tiny: enable V8's on-disk compile cache so repeated invocations start fast,
// take the hot path for `chat append` when its flags are plain, else hand over to the full CLI.
import module from 'node:module';
module.enableCompileCache?.();
const argv = process.argv.slice(2);
let exitCode;
if (argv.includes('chat') && argv.includes('append')) {
  const { tryFastPath } = await import('../dist/fast-path.bundle.js');
  exitCode = await tryFastPath(argv);
}
if (exitCode === undefined) {
  const { main } = await import('../dist/cli.js');
  exitCode = await main(argv);
}
process.exitCode = exitCode;
