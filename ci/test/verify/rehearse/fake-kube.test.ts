import { afterEach, describe, expect, it } from 'vitest';
import { startFakeKube, type FakeKube } from '../../../src/verify/rehearse/fake-kube.js';

let kube: FakeKube | undefined;
afterEach(async () => {
  await kube?.close();
  kube = undefined;
});

describe('the fake Kubernetes API of a delivery rehearsal', () => {
  it("answers the kubectl stand-in's /version probe with the pinned version, apart from the command's calls", async () => {
    kube = await startFakeKube();
    const probe = await fetch(`${kube.url}/version?timeout=5s`, {
      headers: { 'user-agent': 'kubectl-dispatcher/v1.0 (linux/amd64)' },
    });
    expect(probe.status).toBe(200);
    expect(((await probe.json()) as { minor: string }).minor).toBe('32');
    expect(kube.requests).toEqual([]);
    expect(kube.probes).toHaveLength(1);
  });

  it('refuses and records every other request, /version from kubectl itself included', async () => {
    kube = await startFakeKube();
    const get = await fetch(`${kube.url}/api/v1/namespaces/kgraph-dev/deployments`, {
      headers: { 'user-agent': 'kubectl/v1.32.4 (linux/amd64)' },
    });
    expect(get.status).toBe(503);
    await fetch(`${kube.url}/version`, { headers: { 'user-agent': 'kubectl/v1.32.4 (linux/amd64)' } });
    expect(kube.requests).toHaveLength(2);
    expect(kube.requests[0]).toMatch(/^GET \/api\/v1\/namespaces\/kgraph-dev\/deployments kubectl\//);
    expect(kube.probes).toEqual([]);
  });
});
