/**
 * vitest global setup: runs one test-environment supervisor in vitest's main process for the whole
 * run. It is lazy — no process starts until a suite calls `useTestenv()` — so unit-only runs pay
 * nothing. Workers reach the supervisor through `VPM_TESTENV_CONTROL` (also `inject('vpmTestenvControl')`).
 *
 * Each run gets its own directory `.testenv/run-<pid>/` (kubeconfig, logs, state.json) so that
 * concurrent vitest runs in one checkout do not collide; `VPM_TESTENV_DIR` overrides it.
 * `VPM_TESTENV_REUSE=1` reuses a live `npm run testenv:up` environment in `.testenv/` instead
 * (and leaves it running). After a run, `.testenv/run-<pid>/logs/` keeps the process logs (etcd,
 * kube-apiserver-*, prometheus, haproxy, supervisor.log) until the next run removes dead run dirs.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { Testenv, testenvDir, pidAlive, REPO_ROOT } from './testenv.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    vpmTestenvControl: string;
  }
}

function cleanStaleRunDirs(root: string): void {
  let entries: string[] = [];
  try {
    entries = fs.readdirSync(root);
  } catch {
    return;
  }
  for (const e of entries) {
    const m = /^run-(\d+)$/.exec(e);
    if (m && !pidAlive(Number(m[1]))) fs.rmSync(path.join(root, e), { recursive: true, force: true });
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  if (process.env.VPM_TESTENV_REUSE === '1') {
    try {
      const st = JSON.parse(fs.readFileSync(path.join(testenvDir(), 'state.json'), 'utf8'));
      if (st.info?.controlUrl && pidAlive(st.supervisorPid)) {
        process.env.VPM_TESTENV_CONTROL = st.info.controlUrl;
        project.provide('vpmTestenvControl', st.info.controlUrl);
        return async () => undefined;
      }
    } catch {
      /* fall through: start our own */
    }
  }
  const root = path.join(REPO_ROOT, '.testenv');
  cleanStaleRunDirs(root);
  const dir = process.env.VPM_TESTENV_DIR ?? path.join(root, `run-${process.pid}`);
  const logs: string[] = [];
  const env = new Testenv({
    dir,
    log: (m) => {
      logs.push(m);
      if (process.env.VPM_TESTENV_VERBOSE === '1') process.stderr.write(`[testenv] ${m}\n`);
    },
  });
  const url = await env.serveControl();
  env.writeState();
  process.env.VPM_TESTENV_CONTROL = url;
  project.provide('vpmTestenvControl', url);
  return async () => {
    await env.stop();
    fs.mkdirSync(path.join(dir, 'logs'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'logs', 'supervisor.log'), logs.join('\n') + '\n');
    fs.rmSync(path.join(dir, 'etcd'), { recursive: true, force: true });
    fs.rmSync(path.join(dir, 'prometheus', 'data'), { recursive: true, force: true });
  };
}
