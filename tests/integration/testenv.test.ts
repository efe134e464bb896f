import { describe, it, expect, beforeAll } from 'vitest';
import { requireTestenv, useTestenv, kubeFor, type TestenvInfo } from '../support/testenv.ts';
import type { Kube } from '../support/kube.ts';

describe.skipIf(!requireTestenv())('test environment: kube-apiserver', () => {
  let env: TestenvInfo;
  let kube: Kube;
  beforeAll(async () => {
    env = await useTestenv({ clusters: 2 });
    kube = await kubeFor(env, 'cluster-a');
  });

  it('serves /version', async () => {
    const v = await kube.get('/version');
    expect(v.gitVersion).toMatch(/^v1\.\d+\.\d+/);
  });
});
