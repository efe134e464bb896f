/**
 * Issue 18, found by an outside attack: what makes two templates "the same" for the rejected-revision
 * check, who drives a release (the heartbeat lease), and a `-n` that disagrees with the manifest.
 */
import { spawn } from 'node:child_process';
import { hostname } from 'node:os';
import { describe, expect, it } from 'vitest';
import type { KObj } from '../../src/adapters/kube.ts';
import { assertNamespaceFlagMatches } from '../../src/deploy/apply.ts';
import { acquireLease, HEARTBEAT_ANNOTATION, HEARTBEAT_STALE_MS, liveDriver } from '../../src/deploy/release.ts';
import { KubeApiError, type KubeClient } from '../../src/adapters/kube.ts';
import { templateHash } from '../../src/deploy/traffic-ownership.ts';

const template = (o: { labels?: Record<string, string>; annotations?: Record<string, string>; env?: string; name?: string }) => ({
  metadata: { name: o.name, labels: o.labels ?? { app: 'hello' }, annotations: o.annotations ?? {} },
  spec: { containers: [{ image: 'app:v1', env: [{ name: 'MESSAGE', value: o.env ?? 'v1' }] }] },
});

describe('templateHash: what runs, not how it is labelled', () => {
  it('a new label, a new revision name or an annotation Knative does not act on keep the hash', () => {
    const base = templateHash(template({}));
    expect(templateHash(template({ labels: { app: 'hello', extra: 'cosmetic' } }))).toBe(base);
    expect(templateHash(template({ name: 'hello-v9' }))).toBe(base);
    expect(templateHash(template({ annotations: { 'example.com/note': 'x' } }))).toBe(base);
  });

  it('the spec and annotations Knative acts on (scaling, features) change it', () => {
    const base = templateHash(template({}));
    expect(templateHash(template({ env: 'v2' }))).not.toBe(base);
    expect(templateHash(template({ annotations: { 'autoscaling.knative.dev/target': '50' } }))).not.toBe(base);
    expect(templateHash(template({ annotations: { 'features.knative.dev/http-full-duplex': 'Enabled' } }))).not.toBe(base);
  });
});

describe('liveDriver: the release heartbeat', () => {
  const withBeat = (beat: unknown): KObj =>
    ({
      apiVersion: 'serving.knative.dev/v1',
      kind: 'Service',
      metadata: { name: 'hello', annotations: { [HEARTBEAT_ANNOTATION]: JSON.stringify(beat) } },
    }) as KObj;

  it('a live process on this machine drives it; a dead one, this process itself or no heartbeat do not', async () => {
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)']);
    try {
      const at = new Date().toISOString();
      expect(liveDriver(withBeat({ run_id: 'r1', host: hostname(), pid: child.pid, at }))).toMatchObject({ pid: child.pid });
      expect(liveDriver(withBeat({ run_id: 'r1', host: hostname(), pid: process.pid, at }))).toBeNull();
    } finally {
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
    }
    // the same pid once its process is gone (SIGKILL): a re-run may resume at once
    expect(liveDriver(withBeat({ run_id: 'r1', host: hostname(), pid: child.pid, at: new Date().toISOString() }))).toBeNull();
    expect(liveDriver({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'hello' } } as KObj)).toBeNull();
    expect(liveDriver(withBeat('garbage'))).toBeNull();
  });

  it('another machine’s driver counts until its heartbeat is HEARTBEAT_STALE_MS old', () => {
    const now = Date.parse('2026-12-05T12:00:00Z');
    const beat = (ageMs: number) => withBeat({ run_id: 'r1', host: 'elsewhere.example', pid: 1, at: new Date(now - ageMs).toISOString() });
    expect(liveDriver(beat(1_000), now)).toMatchObject({ host: 'elsewhere.example' });
    expect(liveDriver(beat(HEARTBEAT_STALE_MS + 1), now)).toBeNull();
  });
});

describe('-n and the manifest’s namespace', () => {
  const obj = (namespace?: string) =>
    ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c', ...(namespace ? { namespace } : {}) } }) as KObj;

  it('agreeing, absent on either side: fine; disagreeing: a usage error naming both', () => {
    expect(() => assertNamespaceFlagMatches([obj('a1')], 'a1')).not.toThrow();
    expect(() => assertNamespaceFlagMatches([obj()], 'b1')).not.toThrow();
    expect(() => assertNamespaceFlagMatches([obj('a1')], undefined)).not.toThrow();
    expect(() => assertNamespaceFlagMatches([obj('b1'), obj('a1')], 'b1')).toThrow(
      'ConfigMap/c in the manifest is in namespace a1, not b1 (-n)',
    );
  });
});

describe('acquireLease: of two runs that read the same object, one drives', () => {
  /** The API server's one rule that matters here: a write names the resourceVersion it read, or 409. */
  function apiServer(initial: KObj) {
    let obj = structuredClone(initial);
    let version = 1;
    obj.metadata.resourceVersion = String(version);
    const kube = {
      namespace: 'default',
      async mergePatch(_ref: unknown, patch: { metadata: { annotations: Record<string, string> } }, o: { resourceVersion?: string }) {
        if (o.resourceVersion !== obj.metadata.resourceVersion) throw new KubeApiError(409, 'conflict');
        obj = {
          ...obj,
          metadata: {
            ...obj.metadata,
            annotations: { ...obj.metadata.annotations, ...patch.metadata.annotations },
            resourceVersion: String(++version),
          },
        };
        return obj;
      },
      async mustGet() {
        return structuredClone(obj);
      },
    };
    return { kube: kube as unknown as KubeClient, read: () => structuredClone(obj) };
  }

  it('both read version 1; the first takes the lease, the second finds it held by a live process', async () => {
    const server = apiServer({
      apiVersion: 'serving.knative.dev/v1',
      kind: 'Service',
      metadata: { name: 'hello', annotations: {} },
    } as KObj);
    const seenByBoth = server.read();
    expect(await acquireLease(server.kube, 'hello', 'release_a', seenByBoth)).toBeNull();
    // the second run's heartbeat would name another live process: pretend the first was another pid
    const held = server.read();
    const beat = JSON.parse(held.metadata.annotations![HEARTBEAT_ANNOTATION]);
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)']);
    try {
      await server.kube.mergePatch(
        {} as never,
        { metadata: { annotations: { [HEARTBEAT_ANNOTATION]: JSON.stringify({ ...beat, pid: child.pid }) } } },
        { resourceVersion: held.metadata.resourceVersion },
      );
      expect(await acquireLease(server.kube, 'hello', 'release_b', seenByBoth)).toMatchObject({ run_id: 'release_a', pid: child.pid });
    } finally {
      child.kill('SIGKILL');
    }
  });
});
