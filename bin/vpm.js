#!/usr/bin/env node
// Entry point, CommonJS on purpose (bin/package.json): the hot paths (`chat append`, `rollback`) then run
// without initialising the ES module loader. V8's on-disk compile cache makes repeated
// invocations start fast. Everything else hands over to the full CLI (ESM, dist/cli.js).
'use strict';
require('node:module').enableCompileCache?.();

async function run(argv) {
  if (argv.includes('chat') && argv.includes('append')) {
    const { tryFastPath } = require('../dist/fast-path.bundle.cjs');
    const code = await tryFastPath(argv);
    if (code !== undefined) return code;
  } else if (argv.includes('rollback')) {
    // Starts the rollback's first git reads (a walk over the whole tree) before the command loads.
    require('../dist/rollback-prestart.bundle.cjs').prestartRollback(argv);
    const { tryRollbackFastPath } = require('../dist/rollback-fast-path.bundle.cjs');
    const code = await tryRollbackFastPath(argv);
    if (code !== undefined) return code;
  }
  const { main } = await import('../dist/cli.js');
  return main(argv);
}

run(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
