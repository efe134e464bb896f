/**
 * Issue 18, notifications: config `notify` targets get one HTTP POST per rollout event (JSON or
 * Slack-compatible) from `vpm release`; credentials in target URLs and secrets never reach a body,
 * the evidence or the output; a dead URL is retried, recorded and does not fail the release.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { requireTestenv, useTestenv, kubeFor, freshNamespace, type TestenvInfo } from '../support/testenv.ts';
import type { Kube } from '../support/kube.ts';
import { tempDir, vpmJson } from '../helpers/cli.ts';
import { firstRelease, helloManifest, notificationSink, writeNotifyConfig } from '../helpers/release.ts';
import { freePort } from '../support/net.ts';

const SECRET = 'ghp_0123456789abcdefABCDEF0123456789abcd';
const HOOK_TOKEN = 'hooktoken-5f1d2a9c7e';
const BASIC_PASSWORD = 'basicpw-93ab1c';

describe.skipIf(!requireTestenv())('release notifications', () => {
  let env: TestenvInfo;
  let kube: Kube;
  let sink: Awaited<ReturnType<typeof notificationSink>>;
  let port: number;
  let dead: number;
  const received = () => sink.received;
  const run = (args: string[], cwd: string) =>
    vpmJson(args, { cwd, env: { KUBECONFIG: env.kubeconfig, GITHUB_TOKEN: SECRET }, timeoutMs: 180_000 });

  beforeAll(async () => {
    env = await useTestenv({ clusters: 1 });
    kube = await kubeFor(env, 'cluster-a');
    sink = await notificationSink();
    port = sink.port;
    dead = await freePort(); // nothing listens there: connection refused
  });
  afterAll(() => sink?.close());

  it('JSON and Slack targets get the right events without secrets; a dead URL is retried, recorded and does not fail the release', async () => {
    const ns = await freshNamespace(kube, 'notify');
    const cwd = tempDir();
    const r1 = await firstRelease(run, cwd, ns);
    writeNotifyConfig(cwd, { port, dead, token: HOOK_TOKEN, password: BASIC_PASSWORD });
    const ok = await run(
      ['release', 'hello', '-f', helloManifest(cwd, 'v2.yaml', ns, 'v2'), '--interval', '1s', '--guard-window', '2s'],
      cwd,
    );
    expect(ok.result.exitCode, String(ok.result.stderr)).toBe(0);
    const r2 = ok.json.candidate;
    const hook = received().filter((r) => r.path.startsWith('/hook'));
    expect(hook.map((r) => r.body.event)).toEqual(['promoted', 'released']);
    expect(hook[1].body).toMatchObject({
      schema: 'vpm.notification/v1',
      ksvc: 'hello',
      namespace: ns,
      revision: r2,
      previous: r1,
      evidence: ok.json.evidence,
    });
    const slack = received().filter((r) => r.path === '/slack');
    expect(slack[0].raw).toMatch(/^Basic /); // URL credentials sent as authorization, not in the body
    expect(slack.map((r) => r.body.text)).toEqual([
      expect.stringMatching(new RegExp(`^vpm: promoted — hello \\(${ns}\\) ${r2} \\(stable ${r1}\\)`)),
      expect.stringMatching(/^vpm: released — hello/),
    ]);
    expect(String(ok.result.stderr)).toMatch(/warning: notification released to http:\/\/127\.0\.0\.1:\d+\/gone failed after 3 attempts/);
    const record = readFileSync(join(cwd, ok.json.evidence), 'utf8');
    const sent = JSON.parse(record).notifications;
    expect(sent.filter((n: any) => !n.ok)).toEqual([expect.objectContaining({ event: 'released', attempts: 3, ok: false })]);
    expect(sent.filter((n: any) => n.ok)).toHaveLength(4);

    // A failing candidate: the aborted event.
    const bad = await run(
      ['release', 'hello', '-f', helloManifest(cwd, 'bad.yaml', ns, 'bad', { 'vpm-sim/error-rate': '0.5' }), '--interval', '1s'],
      cwd,
    );
    expect(bad.result.exitCode).toBe(4);
    expect(
      received()
        .filter((r) => r.path.startsWith('/hook'))
        .map((r) => r.body.event),
    ).toEqual(['promoted', 'released', 'aborted']);
    for (const text of [
      ...received().map((r) => r.raw),
      record,
      String(ok.result.stdout),
      String(ok.result.stderr),
      String(bad.result.stderr),
    ]) {
      expect(text).not.toContain(SECRET);
      expect(text).not.toContain(HOOK_TOKEN);
      expect(text).not.toContain(BASIC_PASSWORD);
    }
  });
});
