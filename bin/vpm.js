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
/**
 * Loads a hot-path bundle (dist/fast/NAME.cjs) with a warm V8 code cache from the user's cache
 * directory. Node's own compile cache (enabled in run() for everything else) stores only what V8
 * compiles up front — the bundle's top level — so every function a command runs was compiled again
 * on every start (about 3 ms of `vpm chat append`'s own ~10 ms). This cache is taken once the command has run, so it holds
 * those functions too: `save()` writes it after a run that found none (or one V8 turned down).
 * It is keyed by the Node.js version, the bundle's path, size and mtime (V8 trusts a cache made for
 * a source of the same length, so an entry must never outlive the build it was made from), written
 * atomically, and skipped wherever anything about it fails, or with NODE_DISABLE_COMPILE_CACHE set.
 * Only chat append loads this way: a script compiled through node:vm can import() only through an
 * experimental loader hook that prints a warning when used, and the other hot paths import modules
 * on their way (write-file-atomic, readline, the spinner). Chat append's bundle imports nothing at
 * run time (its only import() calls are the context's client factories, which it never calls).
 */
function loadHotPath(name) {
  const path = require('node:path');
  const file = path.join(__dirname, '..', 'dist', 'fast', `${name}.cjs`);
  const cacheDir = process.env.NODE_DISABLE_COMPILE_CACHE ? undefined : userCacheDir(path);
  if (cacheDir === undefined) return { exports: require(file), save() {} };
  const fs = require('node:fs');
  const source = fs.readFileSync(file, 'utf8');
  const stat = fs.statSync(file);
  const key = Buffer.from(`${process.version} ${process.arch} ${stat.size} ${stat.mtimeMs} ${file}\n`);
  const cacheFile = path.join(cacheDir, `${name}-${pathHash(file)}.v8`);
  let cachedData;
  try {
    const bytes = fs.readFileSync(cacheFile);
    if (bytes.subarray(0, key.length).equals(key)) cachedData = bytes.subarray(key.length);
  } catch {
    // none yet
  }
  const vm = require('node:vm');
  const script = new vm.Script(`(function (exports, require, module, __filename, __dirname) {${source}\n})`, {
    filename: file,
    cachedData,
    importModuleDynamically: vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
  });
  const module = { exports: {} };
  // The bundle requires only Node's built-in modules (the same from anywhere); anything else is
  // resolved from the bundle's own directory, as Node's loader would.
  let bundleRequire;
  const requireFromBundle = (id) =>
    id.startsWith('node:') ? require(id) : (bundleRequire ??= require('node:module').createRequire(file))(id);
  script.runInThisContext()(module.exports, requireFromBundle, module, file, path.dirname(file));
  return {
    exports: module.exports,
    save() {
      if (cachedData !== undefined && !script.cachedDataRejected) return;
      try {
        fs.mkdirSync(cacheDir, { recursive: true });
        const tmp = `${cacheFile}.${process.pid}.tmp`;
        fs.writeFileSync(tmp, Buffer.concat([key, script.createCachedData()]));
        fs.renameSync(tmp, cacheFile);
      } catch {
        // a cache that cannot be written only costs the next start its warm-up
      }
    },
  };
}

/** `$XDG_CACHE_HOME/vpm/code-cache`, else `~/.cache/vpm/code-cache`; undefined without either. */
function userCacheDir(path) {
  const base = process.env.XDG_CACHE_HOME || (process.env.HOME && path.join(process.env.HOME, '.cache'));
  return base ? path.join(base, 'vpm', 'code-cache') : undefined;
}

/** FNV-1a of a path: one cache file per installed copy of vpm, overwritten by its next build. */
function pathHash(text) {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return (h >>> 0).toString(16);
}

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
  const chatAppend = argv.includes('chat') && argv.includes('append');
  if (chatAppend) {
    const hot = loadHotPath('chat-append');
    const code = await hot.exports.runFast(argv);
    if (code !== undefined) {
      hot.save();
      return code;
    }
  }
  // From here on modules load through Node's own loader, whose compile cache spares them their
  // compile on later starts (chat append, above, has a warmer cache of its own).
  require('node:module').enableCompileCache?.();
  if (!chatAppend && argv.includes('chat') && argv.includes('import')) {
    const code = await require('../dist/fast/chat-import.cjs').runFast(argv);
    if (code !== undefined) return code;
  } else if (!chatAppend && argv.includes('rollback')) {
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
