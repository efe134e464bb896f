// Bundles the `chat append` hot path (dist/fast-path.js and the small libraries it loads) into one
// minified CommonJS file: loading one file instead of ~40 modules, without the ES module loader,
// is most of its start-up cost. Heavy, rarely needed modules stay external and load lazily.
import { build } from 'esbuild';

/** The bundle sits in dist/, so relative imports that stay external are re-rooted from dist/core/. */
const reRootCoreImports = {
  name: 're-root-core-imports',
  setup(b) {
    b.onResolve({ filter: /^\.\/config\.js$/ }, () => ({ path: './core/config.js', external: true }));
  },
};

await build({
  entryPoints: ['dist/fast-path.js'],
  outfile: 'dist/fast-path.bundle.cjs',
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
    worker_threads: './scripts/shims/worker-threads.cjs',
  },
  logLevel: 'warning',
});
