// Bundles the `chat append` hot path (dist/fast-path.js and the small libraries it loads) into one
// minified file: loading one file instead of ~40 CommonJS modules is most of its start-up cost.
// Heavy, rarely needed modules stay external and load lazily only if used.
import { build } from 'esbuild';

await build({
  entryPoints: ['dist/fast-path.js'],
  outfile: 'dist/fast-path.bundle.js',
  bundle: true,
  minify: true,
  platform: 'node',
  format: 'esm',
  target: 'node22',
  external: ['zod', 'yaml', 'write-file-atomic', 'yocto-spinner', './config.js'],
  banner: { js: "import { createRequire as __vpmCreateRequire } from 'node:module'; const require = __vpmCreateRequire(import.meta.url);" },
  // Modules the hot path never needs at run time, swapped for tiny shims (see scripts/shims/).
  alias: { 'graceful-fs': './scripts/shims/graceful-fs.cjs', 'thread-stream': './scripts/shims/thread-stream.cjs' },
  logLevel: 'warning',
});
