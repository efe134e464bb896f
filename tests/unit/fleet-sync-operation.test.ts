/**
 * Issue 19: the sync operation vpm writes is the one argocd-server's Sync API would build (the
 * controller reads only the operation), and sync windows are evaluated as Argo CD evaluates them.
 * The end-to-end proof against the real Argo CD is tests/integration/fleet.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { buildSyncOperation } from '../../src/fleet/sync.js';
import { canSync, windowActive, type SyncWindow } from '../../src/fleet/windows.js';
import { validateSchedule, nextRuns } from '../../src/deploy/freeze-schedule.js';

const app = (spec: Record<string, unknown>, name = 'root-app-cluster-a') =>
  ({ apiVersion: 'argoproj.io/v1alpha1', kind: 'Application', metadata: { name }, spec }) as any;
const req = { username: 'vpm/me', requestId: 'req-1', prune: false };

describe('buildSyncOperation', () => {
  it('copies syncOptions and retry from spec.syncPolicy, initiatedBy without automated', () => {
    const op = buildSyncOperation(
      app({
        source: { repoURL: 'file:///r', path: 'p', targetRevision: 'main' },
        syncPolicy: { syncOptions: ['CreateNamespace=true'], retry: { limit: 2, backoff: { duration: '5s' } } },
      }),
      req,
    );
    expect(op).toEqual({
      initiatedBy: { username: 'vpm/me' },
      info: [{ name: 'vpm-request', value: 'req-1' }],
      sync: { revision: 'main', syncOptions: ['CreateNamespace=true'] },
      retry: { limit: 2, backoff: { duration: '5s' } },
    });
  });

  it('no syncPolicy: no syncOptions, no retry; prune when asked; HEAD by default', () => {
    expect(buildSyncOperation(app({ source: { repoURL: 'r', path: 'p' } }), { ...req, prune: true })).toEqual({
      initiatedBy: { username: 'vpm/me' },
      info: [{ name: 'vpm-request', value: 'req-1' }],
      sync: { revision: 'HEAD', prune: true },
    });
  });

  it('multi-source apps get one revision per source; --revision must give as many', () => {
    const multi = app({ sources: [{ repoURL: 'a', targetRevision: 'v1' }, { repoURL: 'b' }] });
    expect(buildSyncOperation(multi, req).sync).toEqual({ revisions: ['v1', 'HEAD'] });
    expect(buildSyncOperation(multi, { ...req, revision: 'abc,def' }).sync).toEqual({ revisions: ['abc', 'def'] });
    expect(() => buildSyncOperation(multi, { ...req, revision: 'abc' })).toThrow(/2 comma-separated revisions/);
  });
});

describe('sync windows (Argo CD semantics)', () => {
  const deny: SyncWindow = { kind: 'deny', schedule: '0 18 * * 5', duration: '64h', timeZone: 'Asia/Tokyo', applications: ['*'] };
  // Friday 2026-12-04 18:00 Tokyo = 09:00 UTC.
  it('a deny window is active from its cron occurrence for its duration, in its time zone', () => {
    expect(windowActive(deny, new Date('2026-12-04T08:59:00Z'))).toBe(false);
    expect(windowActive(deny, new Date('2026-12-04T09:00:00Z'))).toBe(true);
    expect(windowActive(deny, new Date('2026-12-07T00:59:00Z'))).toBe(true); // Monday 09:59 Tokyo
    expect(windowActive(deny, new Date('2026-12-07T01:00:00Z'))).toBe(false); // Monday 10:00 Tokyo
  });

  it('an active deny window blocks manual syncs unless manualSync; it only applies to matching apps', () => {
    const now = new Date('2026-12-05T00:00:00Z');
    const a = app({ destination: { name: 'cluster-a', namespace: 'fleet' } });
    expect(canSync([deny], a, now, true)).toMatchObject({ canSync: false });
    expect(canSync([{ ...deny, manualSync: true }], a, now, true)).toMatchObject({ canSync: true });
    expect(canSync([{ ...deny, manualSync: true }], a, now, false)).toMatchObject({ canSync: false });
    expect(canSync([{ ...deny, applications: ['other-*'] }], a, now, true)).toMatchObject({ canSync: true });
    expect(canSync([{ ...deny, applications: undefined, namespaces: ['fle*'] }], a, now, true)).toMatchObject({ canSync: false });
  });

  it('allow windows: outside all of them syncs are blocked', () => {
    const allow: SyncWindow = { kind: 'allow', schedule: '0 9 * * 1-5', duration: '8h', applications: ['*'] };
    const a = app({});
    expect(canSync([allow], a, new Date('2026-12-07T10:00:00Z'), true)).toMatchObject({ canSync: true });
    expect(canSync([allow], a, new Date('2026-12-07T20:00:00Z'), true)).toMatchObject({ canSync: false });
  });
});

describe('freeze schedules', () => {
  it('accepts Argo CD dialect only: 5 fields, Go durations, IANA zones', () => {
    expect(() => validateSchedule('0 18 * * 5', '64h', 'Asia/Tokyo')).not.toThrow();
    expect(() => validateSchedule('0 18 * *', '64h', 'UTC')).toThrow(/5 fields/);
    expect(() => validateSchedule('0 18 * * 5', '2d', 'UTC')).toThrow(/duration/);
    expect(() => validateSchedule('0 18 * * 5', '1h', 'Mars/Olympus')).toThrow(/time zone/);
    expect(() => validateSchedule('0 25 * * 5', '1h', 'UTC')).toThrow(/not a cron/);
  });

  it('next starts are computed in the schedule time zone', () => {
    const s = { id: 'w', cron: '0 18 * * 5', duration: '64h', tz: 'Asia/Tokyo', reason: 'weekend' };
    expect(nextRuns(s, new Date('2026-12-01T00:00:00Z'), 2)).toEqual(['2026-12-04T09:00:00.000Z', '2026-12-11T09:00:00.000Z']);
  });
});
