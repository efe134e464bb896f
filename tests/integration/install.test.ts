/**
 * vpm installed into somebody else's project, the two ways the README tells: the tarball `npm pack`
 * makes from a clean clone (after `npm ci`), installed globally with `--prefix`, and
 * `npm install git+file://<clone>` into a new project (npm runs the `prepare` script there, which
 * builds dist/). In a fresh repository the installed `vpm` then runs the first commands a new user
 * runs — init, chat append, checkpoint, rollback — and `git status` stays clean after each.
 *
 * The clone is of this repository's HEAD: uncommitted changes are not in it (CI tests a clean clone,
 * so there they are the same). Slow (three npm installs), so one clone and one pack serve both.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa, type Result } from 'execa';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { REPO_ROOT } from '../helpers/cli.ts';
import { makeGitRepo, type TempRepo } from '../helpers/gitrepo.ts';

const TIMEOUT = 600_000;
const PACKAGE_NAME: string = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')).name;
const NPM_FLAGS = ['--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'];
/** The files `vpm init` may leave for the user to commit; vpm's runtime state must never show up. */
const INIT_FILES = /^(\.gitignore|STATE\/.*|vpm\.config\.ya?ml|codex\/.*)$/;

/**
 * The environment for npm and the installed vpm: this test's Node first on PATH (npm's `#!/usr/bin/env
 * node` and the `prepare` build must not pick an older system Node), and nothing inherited from the
 * `npm test` running this file (npm_* variables would point the inner npm at this repository).
 */
function childEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v === undefined || /^npm_/i.test(k) || k === 'NODE_ENV' || k === 'VPM_SESSION' || k === 'GITHUB_TOKEN') continue;
    env[k] = v;
  }
  env.PATH = [dirname(process.execPath), process.env.PATH ?? ''].join(delimiter);
  return env;
}

async function sh(cmd: string, args: string[], cwd: string): Promise<Result> {
  const res = await execa(cmd, args, { cwd, env: childEnv(), extendEnv: false, reject: false, stdin: 'ignore', timeout: TIMEOUT });
  if (res.exitCode !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} (in ${cwd}) exited ${res.exitCode}:\n${res.stdout}\n${res.stderr}`);
  }
  return res;
}

const temps: string[] = [];
function temp(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  temps.push(d);
  return d;
}

afterAll(() => {
  for (const d of temps.splice(0)) rmSync(d, { recursive: true, force: true });
});

const repos: TempRepo[] = [];
afterAll(() => {
  for (const r of repos.splice(0)) r.cleanup();
});

/** `git status --porcelain` as a list of paths (untracked directories expanded to their files). */
function status(r: TempRepo): string[] {
  return r
    .git('status', '--porcelain', '--untracked-files=all')
    .split('\n')
    .filter(Boolean)
    .map((l) => l.slice(3));
}

/**
 * A new user's first session in repository `r`, through `run` (the installed vpm): every command
 * exits 0 and leaves `git status` clean — only `vpm init`'s own files may wait to be committed.
 */
async function firstSession(r: TempRepo, run: (args: string[]) => Promise<Result>): Promise<void> {
  const step = async (args: string[]): Promise<Result> => {
    const res = await run(args);
    expect(res.exitCode, `vpm ${args.join(' ')}\n${res.stdout}\n${res.stderr}`).toBe(0);
    return res;
  };

  await step(['init']);
  const created = status(r);
  expect(
    created.filter((p) => !INIT_FILES.test(p)),
    `vpm init left more than its own files: ${created}`,
  ).toEqual([]);
  expect(r.exists('STATE/current_state.md')).toBe(true);
  if (created.length > 0) r.commitAll('vpm init');
  expect(status(r)).toEqual([]);

  await step(['chat', 'append', '--text', 'hi']);
  expect(status(r)).toEqual([]);

  const cp = await step(['checkpoint', 'first']);
  const checkpoint = r.head();
  expect(String(cp.stdout)).toContain(checkpoint);
  expect(status(r)).toEqual([]);
  // vpm's runtime state is ignored, so the checkpoint did not commit it.
  expect(
    r
      .git('ls-tree', '-r', '--name-only', 'HEAD')
      .split('\n')
      .filter((p) => /^(logs|\.ops|reports)\/|^memory\.json$/.test(p)),
  ).toEqual([]);

  r.write('feature.txt', 'work after the checkpoint\n');
  r.commitAll('work after the checkpoint');
  await step(['rollback', '--yes', '--no-test']);
  expect(r.head()).toBe(checkpoint);
  expect(r.exists('feature.txt')).toBe(false);
  expect(status(r)).toEqual([]);
}

describe('installing vpm into another project', () => {
  let clone: string;
  let tarball: string;

  beforeAll(async () => {
    clone = join(temp('vpm-install-clone-'), 'vpm');
    await sh('git', ['clone', '-q', REPO_ROOT, clone], tmpdir());
    await sh('npm', ['ci', ...NPM_FLAGS], clone);
    const packDir = temp('vpm-install-pack-');
    await sh('npm', ['pack', '--pack-destination', packDir, ...NPM_FLAGS], clone);
    const tgz = readdirSync(packDir).filter((f) => f.endsWith('.tgz'));
    expect(tgz).toHaveLength(1);
    tarball = join(packDir, tgz[0]);
  }, TIMEOUT);

  it('npm pack of a clean clone, installed with npm install -g --prefix, runs init/chat/checkpoint/rollback with a clean tree', {
    timeout: TIMEOUT,
  }, async () => {
    const prefix = temp('vpm-install-global-');
    await sh('npm', ['install', '-g', '--prefix', prefix, ...NPM_FLAGS, tarball], tmpdir());
    const bin = join(prefix, 'bin', 'vpm');
    expect(existsSync(bin), `${bin} missing after the global install`).toBe(true);

    const r = makeGitRepo();
    repos.push(r);
    await firstSession(r, (args) =>
      execa(bin, args, { cwd: r.dir, env: childEnv(), extendEnv: false, reject: false, stdin: 'ignore', timeout: 60_000 }),
    );
  });

  it('npm install git+file://<clone> into a new project builds dist/ (prepare) and `npx vpm` runs there with a clean tree', {
    timeout: TIMEOUT,
  }, async () => {
    const r = makeGitRepo({
      files: {
        'package.json': `${JSON.stringify({ name: 'my-service', version: '1.0.0', private: true }, null, 2)}\n`,
        'README.md': '# my service\n',
      },
      gitignore: ['node_modules/'],
    });
    repos.push(r);
    await sh('npm', ['install', '--save-dev', ...NPM_FLAGS, `git+file://${clone}`], r.dir);
    expect(
      existsSync(join(r.dir, 'node_modules', PACKAGE_NAME, 'dist', 'cli', 'main.js')),
      'the git install has no dist/: prepare did not build it',
    ).toBe(true);
    r.commitAll('add vpm');
    expect(status(r)).toEqual([]);

    // `npx --no`: the project's own vpm, never an offer to fetch a package from the registry; `--` keeps
    // npx from taking flags such as --version as its own.
    await firstSession(r, (args) =>
      execa('npx', ['--no', '--', 'vpm', ...args], {
        cwd: r.dir,
        env: childEnv(),
        extendEnv: false,
        reject: false,
        stdin: 'ignore',
        timeout: 60_000,
      }),
    );
  });
});

describe('an unsupported Node', () => {
  it('npm ci refuses a Node older than 22 before installing anything (.npmrc engine-strict)', async () => {
    // The committed package.json, lockfile and .npmrc; npm is told it runs on Node 20 by a preload
    // that overrides process.version (what npm's engine check reads), as on a machine with Node 20.
    const dir = temp('vpm-install-engine-');
    for (const f of ['package.json', 'package-lock.json', '.npmrc']) {
      writeFileSync(join(dir, f), (await sh('git', ['show', `HEAD:${f}`], REPO_ROOT)).stdout);
    }
    const stub = join(dir, 'node20.cjs');
    writeFileSync(stub, "Object.defineProperty(process, 'version', { value: 'v20.19.0' });\n");
    const res = await execa('npm', ['ci', '--no-audit', '--no-fund'], {
      cwd: dir,
      env: { ...childEnv(), NODE_OPTIONS: `--require ${stub}` },
      extendEnv: false,
      reject: false,
      stdin: 'ignore',
      timeout: 120_000,
    });
    expect(res.exitCode, String(res.stderr)).not.toBe(0);
    expect(String(res.stderr)).toMatch(/npm error code EBADENGINE/);
    expect(String(res.stderr)).toContain('Required: {"node":">=22"}');
    expect(existsSync(join(dir, 'node_modules')), 'npm ci installed packages before refusing').toBe(false);
  });
});
