// Bundles the hot paths — `chat append` (dist/fast-path.js) and `rollback` (dist/rollback-fast-path.js)
// — each with the libraries it loads, into one minified CommonJS file: loading one file instead of
// dozens of modules, without the ES module loader, is most of their start-up cost. Heavy, rarely
// needed modules stay external and load lazily. Separate bundles, so chat append does not parse
// rollback's; rollback's prestart (dist/rollback-prestart.js) is a third, tiny one that bin/vpm.js
// loads first to start the rollback's git reads while the big one loads.
import { build } from 'esbuild';

/** The bundles sit in dist/fast/, so relative imports that stay external are re-rooted from dist/core/. */
const reRootCoreImports = {
  name: 're-root-core-imports',
  setup(b) {
    b.onResolve({ filter: /^\.\/config\.js$/ }, () => ({ path: '../core/config.js', external: true }));
    // The context's factory builds clients no hot path uses; dist/core/ and dist/fast/ are both one
    // level down, so the same relative path loads them (as ES modules) if one ever does.
    b.onResolve({ filter: /^\.\.\/(adapters\/(kube|github|haproxy|exec)|deploy\/providers\/prometheus)\.js$/ }, (args) => ({
      path: args.path,
      external: true,
    }));
  },
};

/** The context's git factory (simple-git and vpm's git layer): the chat commands never call it. */
const gitSession = /^\.\.\/git\/session\.js$/;

const hotPaths = [
  { entry: 'dist/cli/fast/chat-append.js', outfile: 'dist/fast/chat-append.cjs', leaveOut: gitSession },
  { entry: 'dist/cli/fast/chat-import.js', outfile: 'dist/fast/chat-import.cjs', leaveOut: gitSession },
  { entry: 'dist/cli/fast/rollback.js', outfile: 'dist/fast/rollback.cjs' },
  // Loaded before the one above, to start rollback's git reads while that one loads.
  // It parses the command line with the rollback spec but never runs it: the command's code stays out.
  { entry: 'dist/cli/fast/rollback-prestart.js', outfile: 'dist/fast/rollback-prestart.cjs', leaveOut: /\.handlers\.js$/ },
];

for (const { entry, outfile, leaveOut } of hotPaths)
  await build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    minify: process.env.VPM_BUNDLE_NO_MINIFY !== '1',
    platform: 'node',
    format: 'cjs',
    target: 'node22',
    external: ['zod', 'yaml', 'write-file-atomic', 'yocto-spinner'],
    plugins: [
      reRootCoreImports,
      ...(leaveOut
        ? [{ name: 'leave-out', setup: (b) => b.onResolve({ filter: leaveOut }, (args) => ({ path: args.path, external: true })) }]
        : []),
    ],
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

// What `vpm version` reports as the commit vpm was built from (none when built outside git).
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
let gitSha = null;
try {
  gitSha = execFileSync('git', ['rev-parse', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
} catch {
  // not a git checkout (a tarball): no commit to report
}
writeFileSync('dist/build-info.json', `${JSON.stringify({ git_sha: gitSha })}\n`);
