/**
 * The Kubernetes API a delivery rehearsal points kubectl at: it records each request and answers every one
 * with 503 and a Status, so the delivery container goes exactly up to its first kubectl call and no
 * further. A kubeconfig for it is what the rehearsal passes as the `kubeconfig` secret.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeKube {
  readonly url: string;
  /** `METHOD path user-agent` of every request, in order. */
  readonly requests: string[];
  readonly kubeconfig: string;
  close(): Promise<void>;
}

export async function startFakeKube(): Promise<FakeKube> {
  const requests: string[] = [];
  const server = createServer((req, res) => {
    requests.push(`${req.method} ${req.url} ${req.headers['user-agent'] ?? ''}`.trim());
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
  return { url, requests, kubeconfig, close: () => new Promise((resolve) => server.close(() => resolve())) };
}
