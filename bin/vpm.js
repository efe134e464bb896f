#!/usr/bin/env node
// Entry point kept tiny: enable V8's on-disk compile cache so repeated invocations start fast,
// then hand over to the compiled CLI.
import module from 'node:module';
module.enableCompileCache?.();
const { main } = await import('../dist/cli.js');
process.exitCode = await main(process.argv.slice(2));
