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
  logLevel: 'warning',
});
