// Bundles the hot paths — `chat append` (dist/fast-path.js) and `rollback` (dist/rollback-fast-path.js)
// — each with the libraries it loads, into one minified CommonJS file: loading one file instead of
// dozens of modules, without the ES module loader, is most of their start-up cost. Heavy, rarely
// needed modules stay external and load lazily. Separate bundles, so chat append does not parse
// rollback's; rollback's prestart (dist/rollback-prestart.js) is a third, tiny one that bin/vpm.js
// loads first to start the rollback's git reads while the big one loads.
import { build } from 'esbuild';

/** The bundle sits in dist/, so relative imports that stay external are re-rooted from dist/core/. */
const reRootCoreImports = {
  name: 're-root-core-imports',
  setup(b) {
    b.onResolve({ filter: /^\.\/config\.js$/ }, () => ({ path: './core/config.js', external: true }));
  },
};

const hotPaths = [
  { entry: 'dist/fast-path.js', outfile: 'dist/fast-path.bundle.cjs' },
  { entry: 'dist/rollback-fast-path.js', outfile: 'dist/rollback-fast-path.bundle.cjs' },
  // Loaded before the one above, to start rollback's git reads while that one loads.
  { entry: 'dist/rollback-prestart.js', outfile: 'dist/rollback-prestart.bundle.cjs' },
];

for (const { entry, outfile } of hotPaths) await build({
  entryPoints: [entry],
  outfile,
  bundle: true,
  minify: process.env.VPM_BUNDLE_NO_MINIFY !== "1",
  platform: 'node',
  format: 'cjs',
  target: 'node22',
  external: ['zod', 'yaml', 'write-file-atomic', 'yocto-spinner'],
  plugins: [reRootCoreImports],
  // Modules the hot path never needs at run time, swapped for tiny shims (see scripts/shims/).
  alias: {
    'graceful-fs': './scripts/shims/graceful-fs.cjs',
    'thread-stream': './scripts/shims/thread-stream.cjs',
    assert: './scripts/shims/assert.cjs',
    'supports-color': './scripts/shims/supports-color.cjs',
    debug: './scripts/shims/debug.cjs',
    worker_threads: './scripts/shims/worker-threads.cjs',
  },
  logLevel: 'warning',
});
