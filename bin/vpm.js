#!/usr/bin/env node
// Entry point, CommonJS on purpose (bin/package.json): the start-up fast paths (`--version`, `chat
// append`, `chat import`, `rollback`) then run without initialising the ES module loader, and the Node.js version
// check below parses on any Node. Everything else hands over to the full CLI (ESM, dist/cli/main.js).
// This file and src/cli/main.ts are the only places that set the process's exit code.
'use strict';

const major = Number(process.versions.node.split('.')[0]);
if (major < 22) {
  process.stderr.write(`vpm needs Node.js 22 or newer; this is ${process.versions.node}\n`);
  process.exitCode = 2;
  return;
}
require('node:module').enableCompileCache?.();

/** `vpm --version` / `-V` alone: answered before anything else loads. */
function versionOnly(argv) {
  return argv.length === 1 && (argv[0] === '--version' || argv[0] === '-V');
}

async function run(argv) {
  if (versionOnly(argv)) {
    process.stdout.write(`${require('../package.json').version}\n`);
    return 0;
  }
  // The fast paths check the command line against the command's spec and return undefined for
  // anything they are not sure of; the full CLI then takes over.
  if (argv.includes('chat') && argv.includes('append')) {
    const code = await require('../dist/fast/chat-append.cjs').runFast(argv);
    if (code !== undefined) return code;
  } else if (argv.includes('chat') && argv.includes('import')) {
    const code = await require('../dist/fast/chat-import.cjs').runFast(argv);
    if (code !== undefined) return code;
  } else if (argv.includes('rollback')) {
    // Starts the rollback's first git reads (a walk over the whole tree) before the command loads.
    const prefetched = require('../dist/fast/rollback-prestart.cjs').prestartRollback(argv);
    const code = await require('../dist/fast/rollback.cjs').runFast(argv, prefetched);
    if (code !== undefined) return code;
  }
  // `vpm … | head`: once the reader is gone there is nothing left to say; end quietly, as git does.
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (err) => {
      if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    });
  }
  const { main } = await import('../dist/cli/main.js');
  return main(argv);
}

run(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
