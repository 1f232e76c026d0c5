/**
 * The Kubernetes API a delivery rehearsal points kubectl at: it records each request and answers every one
 * with 503 and a Status, so the delivery container goes exactly up to its first kubectl call and no
 * further. A kubeconfig for it is what the rehearsal passes as the `kubeconfig` secret.
 *
 * One request is not the command's: the kubectl stand-in is Debian's kubectl, a dispatcher that asks the
 * server's /version before every command (even `kubectl kustomize`, which needs no cluster) to pick a
 * matching client. The pinned kubectl image has no such probe, so it is answered with the pinned version
 * and kept apart; counting it made a deploy that failed before any kubectl call look as if it reached one.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeKube {
  readonly url: string;
  /** `METHOD path user-agent` of every request the command made, in order. */
  readonly requests: string[];
  /** The stand-in dispatcher's own /version probes (not the command's calls). */
  readonly probes: string[];
  readonly kubeconfig: string;
  close(): Promise<void>;
}

/** What the fake API says it is: the pinned kubectl's minor (k8s 1.32, as IMAGES.kubectl). */
const PINNED_VERSION = { major: '1', minor: '32', gitVersion: 'v1.32.0', platform: 'linux/amd64' };

export const isDispatcherProbe = (method?: string, url?: string, agent?: string): boolean =>
  method === 'GET' && /^\/version(\?|$)/.test(url ?? '') && (agent ?? '').startsWith('kubectl-dispatcher/');

export async function startFakeKube(): Promise<FakeKube> {
  const requests: string[] = [];
  const probes: string[] = [];
  const server = createServer((req, res) => {
    const seen = `${req.method} ${req.url} ${req.headers['user-agent'] ?? ''}`.trim();
    if (isDispatcherProbe(req.method, req.url, req.headers['user-agent'])) {
      probes.push(seen);
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(PINNED_VERSION));
      return;
    }
    requests.push(seen);
    const status = {
      kind: 'Status',
      apiVersion: 'v1',
      status: 'Failure',
      message: 'kgraph-ci rehearsal: the fake API answers no request (the rehearsal ends at the first kubectl call)',
      reason: 'ServiceUnavailable',
      code: 503,
    };
    res.writeHead(503, { 'content-type': 'application/json' }).end(JSON.stringify(status));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const kubeconfig = [
    'apiVersion: v1',
    'kind: Config',
    'clusters: [{name: rehearsal, cluster: {server: "' + url + '"}}]',
    'users: [{name: rehearsal, user: {token: rehearsal-test-token}}]',
    'contexts: [{name: rehearsal, context: {cluster: rehearsal, user: rehearsal, namespace: default}}]',
    'current-context: rehearsal',
    '',
  ].join('\n');
  return { url, requests, probes, kubeconfig, close: () => new Promise((resolve) => server.close(() => resolve())) };
}
