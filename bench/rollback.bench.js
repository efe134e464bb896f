// Issue 3: `vpm rollback --yes --no-test` vs plain `git reset --hard <checkpoint> && git clean -fd`
// on the same state (target ≤ 1.3×).
//
// The state the issue names: 20,000 files of 1–4 KiB in 400 directories (packed, as a clone would
// be), a vpm checkpoint, then 2,000 of those files modified (committed: vpm refuses uncommitted
// changes to tracked files, so the work being rolled back is in commits, an agent's or a later
// checkpoint's) and 2,000 untracked files (half in the existing directories, half in new ones),
// which both sides take out of the tree: git clean deletes them, vpm moves them aside into
// .git/vpm/untracked/. Before every timed run — vpm's and the baseline's alike — the repository is put
// back in exactly that state (HEAD at the work commit, the untracked files written, the index
// settled), and the two are measured alternately so machine noise hits both.
//
// Measured in two states of the disk, because they cost the two sides differently:
// - "just written": the modified and untracked files were written a second before the run and are
//   still only in the page cache (nothing was allocated on disk yet, so deleting them is nearly
//   free). The hardest case for vpm, whose fixed costs (Node's start, the dirty-tree check) weigh
//   most against a fast baseline.
// - "on disk": the same files flushed first (`sync`), as they are once the kernel has written them
//   back (after ~30 s by default) — the usual state when a rollback follows an agent's session or a
//   test run. Deleting them then frees blocks on disk; vpm's renames do not.
// Either way, earlier runs' writes are flushed before the state is made, so no write-back from one
// run lands inside another.
//
// Run alone: `node bench/rollback.bench.js [--runs N]` (after `npm run build`).
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { compare, tempDir, VPM } from './lib.js';

const FILES = 20_000;
const DIRS = 400;
const MODIFIED = 2_000;
const UNTRACKED = 2_000;

const GIT_ENV = { ...process.env, GIT_CONFIG_NOSYSTEM: '1', GIT_TERMINAL_PROMPT: '0' };

function git(cwd, args) {
  const r = spawnSync('git', args, { cwd, env: GIT_ENV, encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`git ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return r.stdout;
}

/** Deterministic source-like content of 1–4 KiB. */
function content(i, variant = '') {
  const lines = [`// file ${i}${variant}`];
  let x = (i * 2654435761) >>> 0;
  const size = 1024 + (x % 3072);
  let len = 0;
  while (len < size) {
    x = (x * 1103515245 + 12345) >>> 0;
    const line = `export const v${lines.length} = ${x % 100000}; // ${variant || 'base'} ${x.toString(36)}`;
    lines.push(line);
    len += line.length + 1;
  }
  return `${lines.join('\n')}\n`;
}

function buildRepo() {
  const dir = tempDir('vpm-bench-rollback-');
  git(dir, ['init', '-q', '-b', 'main']);
  for (const [k, v] of [
    ['user.name', 'vpm bench'],
    ['user.email', 'bench@example.invalid'],
    ['commit.gpgsign', 'false'],
    ['gc.auto', '0'],
  ]) {
    git(dir, ['config', k, v]);
  }
  writeFileSync(join(dir, '.gitignore'), '/logs/\nnode_modules/\n');
  for (let d = 0; d < DIRS; d++) mkdirSync(join(dir, 'src', `m${d}`), { recursive: true });
  for (let i = 0; i < FILES; i++) writeFileSync(join(dir, 'src', `m${i % DIRS}`, `f${i}.ts`), content(i));
  git(dir, ['add', '-A']);
  git(dir, ['commit', '-q', '-m', 'base']);

  const cp = spawnSync(process.execPath, [VPM, '--cwd', dir, 'checkpoint', 'bench_before_work'], { encoding: 'utf8' });
  if (cp.status !== 0) throw new Error(`vpm checkpoint failed: ${cp.stderr}`);
  const checkpoint = cp.stdout.trim().replace(/^checkpoint /, '');

  for (let k = 0; k < MODIFIED; k++) {
    const i = k * Math.floor(FILES / MODIFIED);
    writeFileSync(join(dir, 'src', `m${i % DIRS}`, `f${i}.ts`), content(i, ' modified'));
  }
  git(dir, ['add', '-A']);
  git(dir, ['commit', '-q', '-m', 'work after the checkpoint']);
  const work = git(dir, ['rev-parse', 'HEAD']).trim();
  git(dir, ['repack', '-a', '-d', '-q']);
  git(dir, ['prune']);
  return { dir, checkpoint, work };
}

function writeUntracked(dir) {
  for (let k = 0; k < UNTRACKED; k++) {
    const sub = k % 2 ? join('src', `m${k % DIRS}`) : join('src', 'added', `a${k % 100}`);
    mkdirSync(join(dir, sub), { recursive: true });
    writeFileSync(join(dir, sub, `new${k}.ts`), content(FILES + k, ' added'));
  }
}

/**
 * Back to "HEAD = work commit, clean tree, index settled", with no refs left by earlier runs; with
 * `onDisk`, the state's files are flushed to disk before the run.
 */
function resetState({ dir, work }, { onDisk }) {
  spawnSync('sync');
  git(dir, ['reset', '-q', '--hard', work]);
  git(dir, ['clean', '-fdq']);
  rmSync(join(dir, '.git', 'vpm', 'untracked'), { recursive: true, force: true });
  writeUntracked(dir);
  for (const ref of git(dir, ['for-each-ref', '--format=%(refname)', 'refs/vpm/pre-rollback']).split('\n').filter(Boolean)) {
    git(dir, ['update-ref', '-d', ref]);
  }
  if (onDisk) spawnSync('sync');
  // Files just written by reset are "racily clean" until the index is rewritten later; settle that
  // here so neither side pays for re-hashing them.
  spawnSync('sleep', ['1.1']);
  git(dir, ['update-index', '-q', '--really-refresh']);
  git(dir, ['status', '--porcelain']);
}

function timed(fn) {
  const t0 = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

const DISK_STATES = [
  { label: 'files just written', onDisk: false },
  { label: 'files on disk', onDisk: true },
];

export async function run({ runs = 15 } = {}) {
  const state = buildRepo();
  try {
    const figures = [];
    for (const { label, onDisk } of DISK_STATES) {
      const result = await compare({
        runs,
        warmup: 1,
        measure: () => {
          resetState(state, { onDisk });
          return timed(() => {
            const r = spawnSync(process.execPath, [VPM, '--cwd', state.dir, 'rollback', '--yes', '--no-test'], {
              stdio: ['ignore', 'pipe', 'pipe'],
              encoding: 'utf8',
            });
            if (r.status !== 0 || r.stdout.trim() !== `rollback ${state.checkpoint}`) {
              throw new Error(`vpm rollback exited ${r.status}: ${r.stderr}`);
            }
          });
        },
        baseline: () => {
          resetState(state, { onDisk });
          return timed(() => {
            git(state.dir, ['reset', '--hard', state.checkpoint]);
            git(state.dir, ['clean', '-fd']);
          });
        },
      });
      // Both sides really rolled back.
      if (git(state.dir, ['rev-parse', 'HEAD']).trim() !== state.checkpoint) throw new Error('baseline did not reach the checkpoint');
      figures.push({
        name: `rollback --no-test (${FILES} files, ${MODIFIED} modified since the checkpoint, ${UNTRACKED} untracked; ${label})`,
        baseline: 'git reset --hard && git clean -fd',
        target: '≤ 1.3×',
        ok: result.ratio <= 1.3,
        ...result,
      });
    }
    return figures;
  } finally {
    rmSync(state.dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const i = process.argv.indexOf('--runs');
  console.log(await run(i > 0 ? { runs: Number(process.argv[i + 1]) } : {}));
}
