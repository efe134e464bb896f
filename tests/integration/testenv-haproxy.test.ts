/**
 * Real HAProxy in front of two clusters: backend `edge` with servers a and b (b as backup), runtime
 * API on an admin socket; maint on a sends traffic to b. Health checks use fast settings here; the
 * default config keeps HAProxy's inter 2s fall 3 rise 2.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { requireTestenv, useTestenv, kubeFor, freshNamespace, applyFile, REPO_ROOT, type TestenvInfo } from '../support/testenv.ts';
import { startHaproxy, haproxyCommand, parseServersState, haproxyConfig, type HaproxyHandle } from '../support/haproxy.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.skipIf(!requireTestenv({ haproxy: true }))('HAProxy in front of cluster-a and cluster-b', () => {
  let env: TestenvInfo;
  let hp: HaproxyHandle;
  const urls: Record<string, string> = {};

  beforeAll(async () => {
    env = await useTestenv({ clusters: 2 });
    for (const c of ['cluster-a', 'cluster-b']) {
      const kube = await kubeFor(env, c);
      const ns = await freshNamespace(kube, 'edge');
      await applyFile(kube, path.join(REPO_ROOT, 'infra/k8s/overlays/dev/hello-ksvc.yaml'), { namespace: ns });
      const deadline = Date.now() + 20_000;
      while (Date.now() < deadline) {
        const s = await kube.get(`/apis/serving.knative.dev/v1/namespaces/${ns}/services/hello`);
        if (s.status?.conditions?.some((x: any) => x.type === 'Ready' && x.status === 'True')) {
          urls[c] = s.status.url;
          break;
        }
        await sleep(100);
      }
    }
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vpm-haproxy-'));
    hp = await startHaproxy({
      dir,
      servers: { a: new URL(urls['cluster-a']).host, b: new URL(urls['cluster-b']).host },
      backupB: true,
      check: { inter: '200ms', fall: 2, rise: 1 },
    });
  });
  afterAll(async () => hp?.stop());

  it('keeps HAProxy defaults (inter 2s fall 3 rise 2) unless told otherwise', () => {
    const cfg = haproxyConfig({
      dir: '/x',
      socket: '/x/admin.sock',
      port: 1,
      statsPort: 2,
      servers: { a: '127.0.0.1:1', b: '127.0.0.1:2' },
      backupB: true,
    });
    expect(cfg).toContain('default-server inter 2s fall 3 rise 2');
    expect(cfg).toMatch(/stats socket \/x\/admin\.sock mode 600 level admin/);
    expect(cfg).toMatch(/server b 127\.0\.0\.1:2 check backup/);
  });

  it('routes to a, and to the backup b once a is put in maintenance through the runtime API', async () => {
    const cluster = async () => (await fetch(hp.frontendUrl)).headers.get('x-vpm-cluster');
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline && (await fetch(hp.frontendUrl)).status !== 200) await sleep(100);
    expect(await cluster()).toBe('cluster-a');
    const state = parseServersState(await haproxyCommand(hp.socket, 'show servers state edge'));
    expect(state.map((s) => s.srv_name)).toEqual(['a', 'b']);
    await haproxyCommand(hp.socket, 'set server edge/a state maint');
    expect(await cluster()).toBe('cluster-b');
    const after = parseServersState(await haproxyCommand(hp.socket, 'show servers state edge'));
    expect(after.find((s) => s.srv_name === 'a')!.srv_admin_state).not.toBe('0');
    await haproxyCommand(hp.socket, 'set server edge/a state ready');
    expect(await cluster()).toBe('cluster-a');
  });
});
