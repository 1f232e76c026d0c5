import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getEnvironment, type EnvironmentName } from '../../../src/definitions/environments.js';
import { spawnRunner, type CommandRunner } from '../../../src/platform/kube/runner.js';
import { parseManifests, type KubeObject } from '../../../src/platform/kube/validate.js';
import { REPO_ROOT } from '../../../src/platform/repo-root.js';
import {
  clusterSecretsItem,
  secretKeysIn,
  secretRefsIn,
  serviceWiring,
  wiredEnvItem,
  type SecretKeys,
} from '../../../src/verify/checklist/cluster.js';
import { runChecklist } from '../../../src/verify/checklist/index.js';
import { migrationsItem } from '../../../src/verify/checklist/items.js';

const APP = { kind: 'Deployment', name: 'kgraph-mcp', container: 'app' } as const;
const WHERE = 'Deployment/kgraph-mcp container app';

function rendered(env: string): KubeObject[] {
  const r = spawnSync('kubectl', ['kustomize', `k8s/overlays/${env}`], { cwd: REPO_ROOT, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`kubectl kustomize k8s/overlays/${env}: ${r.stderr}`);
  return parseManifests(r.stdout);
}

const keysOf = (entries: Record<string, string[]>): SecretKeys => ({
  known: true,
  keys: new Map(Object.entries(entries).map(([s, ks]) => [s, new Set(ks)])),
});

/** "secrets present" for an environment's required secrets, read by the service in `objects`, against `keys`. */
const secretsItem = (env: EnvironmentName, objects: readonly KubeObject[], keys: SecretKeys) =>
  clusterSecretsItem(
    getEnvironment(env).requiredSecrets,
    serviceWiring(objects, APP),
    secretRefsIn(objects),
    keys,
    WHERE,
  );

/** The rendered objects with the ConfigMap's data changed by `edit` (a deep copy). */
function withConfig(objects: KubeObject[], edit: (data: Record<string, string>) => void): KubeObject[] {
  const copy = structuredClone(objects);
  const cm = copy.find((o) => o.kind === 'ConfigMap') as unknown as { data: Record<string, string> };
  edit(cm.data);
  return copy;
}

describe('env vars present, from the manifests a deploy applies', () => {
  const dev = rendered('dev');
  const required = getEnvironment('dev').requiredEnv;

  it('passes for the rendered overlay: every required variable comes from the ConfigMap the Deployment reads', () => {
    const item = wiredEnvItem(required, serviceWiring(dev, APP), WHERE);
    expect(item.outcome).toBe('passed');
    expect(item.reasons.join('; ')).toContain('LOG_LEVEL');
  });

  it('fails naming a required variable the manifests do not set, whatever the deploying process has', () => {
    const objects = withConfig(dev, (d) => delete d.LOG_LEVEL);
    const item = wiredEnvItem(required, serviceWiring(objects, APP), WHERE);
    expect(item).toMatchObject({ outcome: 'failed' });
    expect(item.reasons.join('; ')).toBe(`not set in ${WHERE}'s manifests: LOG_LEVEL`);
  });

  it('fails when the Deployment reads a ConfigMap the manifests do not contain', () => {
    const objects = dev.filter((o) => o.kind !== 'ConfigMap');
    const item = wiredEnvItem(required, serviceWiring(objects, APP), WHERE);
    expect(item.outcome).toBe('failed');
    expect(item.reasons.join('; ')).toMatch(/ConfigMap kgraph-mcp-config-\w+ is not in the rendered manifests/);
  });

  it('fails when there is no service container to look at', () => {
    const item = wiredEnvItem(required, serviceWiring([], APP), WHERE);
    expect(item).toMatchObject({ outcome: 'failed', reasons: [`${WHERE} is not in the rendered manifests`] });
  });
});

describe('secrets present, from the Secrets in the cluster', () => {
  const prod = rendered('prod');
  const dev = rendered('dev');
  const all = ['DATABASE_URL', 'REDIS_URL', 'API_KEYS', 'SENTRY_DSN'];

  it('passes when every key the workloads read is in the Secret', () => {
    const item = secretsItem('prod', prod, keysOf({ 'kgraph-mcp-secrets': all }));
    expect(item.outcome).toBe('passed');
  });

  it("fails for prod without SENTRY_DSN (optional in the base, required by prod's policy), but not for dev", () => {
    const keys = keysOf({ 'kgraph-mcp-secrets': ['DATABASE_URL', 'REDIS_URL', 'API_KEYS'] });
    const prodItem = secretsItem('prod', prod, keys);
    expect(prodItem.outcome).toBe('failed');
    expect(prodItem.reasons.join('; ')).toContain(
      'kgraph-mcp-secrets/SENTRY_DSN (SENTRY_DSN, read by Deployment/kgraph-mcp app)',
    );
    const devItem = secretsItem('dev', dev, keys);
    expect(devItem.outcome).toBe('passed');
  });

  it('names every workload that reads a missing key: the migration Job would not start either', () => {
    const item = secretsItem('dev', dev, keysOf({ 'kgraph-mcp-secrets': ['REDIS_URL', 'API_KEYS'] }));
    expect(item.outcome).toBe('failed');
    expect(item.reasons.join('; ')).toContain('DATABASE_URL, read by Deployment/kgraph-mcp app');
    expect(item.reasons.join('; ')).toContain('DATABASE_URL, read by Job/kgraph-mcp-migrate');
  });

  it('fails when the Secret is absent, and cannot tell (fails closed) when the cluster does not answer', () => {
    expect(secretsItem('dev', dev, keysOf({})).outcome).toBe('failed');
    const unknown = secretsItem('dev', dev, { known: false, reason: 'cannot read Secret x: refused' });
    expect(unknown).toMatchObject({
      outcome: 'inconclusive',
      reasons: ['cannot read Secret x: refused (fails closed)'],
    });
  });

  it('takes a Secret the container reads whole (envFrom) only when that Secret has the key', () => {
    const objects = structuredClone(dev);
    const deployment = objects.find((o) => o.kind === 'Deployment') as unknown as {
      spec: { template: { spec: { containers: { env: { name: string }[]; envFrom: unknown[] }[] } } };
    };
    const app = deployment.spec.template.spec.containers[0]!;
    app.env = app.env.filter((e) => e.name !== 'API_KEYS');
    app.envFrom.push({ secretRef: { name: 'extra' } });
    const base = ['DATABASE_URL', 'REDIS_URL'];
    expect(secretsItem('dev', objects, keysOf({ 'kgraph-mcp-secrets': base, extra: ['API_KEYS'] })).outcome).toBe(
      'passed',
    );
    const item = secretsItem('dev', objects, keysOf({ 'kgraph-mcp-secrets': base, extra: ['OTHER'] }));
    expect(item.outcome).toBe('failed');
    expect(item.reasons.join('; ')).toContain('API_KEYS (in none of extra');
  });

  it('fails when a required secret reaches the service as a plain value instead of from a Secret', () => {
    const objects = structuredClone(dev);
    const deployment = objects.find((o) => o.kind === 'Deployment') as unknown as {
      spec: { template: { spec: { containers: { env: { name: string; value?: string; valueFrom?: unknown }[] }[] } } };
    };
    const env = deployment.spec.template.spec.containers[0]!.env;
    env[0] = { name: 'DATABASE_URL', value: 'postgres://inline' };
    const item = secretsItem('dev', objects, keysOf({ 'kgraph-mcp-secrets': all }));
    expect(item).toMatchObject({ outcome: 'failed', reasons: [`not read from a Secret by ${WHERE}: DATABASE_URL`] });
  });
});

describe("the Secrets' key names, read with the real kubectl from an API server", () => {
  const VALUE = 'cG9zdGdyZXM6Ly91c2VyOnMzY3JldEBkYi9rZ3JhcGg=';
  let server: Server;
  let dir: string;
  let runner: CommandRunner;
  const seen: string[] = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      const url = req.url ?? '';
      seen.push(`${req.method} ${url.split('?')[0]}`);
      const json = (code: number, body: unknown) =>
        res.writeHead(code, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      if (url.startsWith('/version')) return json(200, { major: '1', minor: '32', gitVersion: 'v1.32.0' });
      // Discovery, as kubectl asks it before a get.
      if (url.split('?')[0] === '/api') return json(200, { kind: 'APIVersions', versions: ['v1'] });
      if (url.split('?')[0] === '/apis') return json(200, { kind: 'APIGroupList', apiVersion: 'v1', groups: [] });
      if (url.split('?')[0] === '/api/v1')
        return json(200, {
          kind: 'APIResourceList',
          groupVersion: 'v1',
          resources: [{ name: 'secrets', singularName: 'secret', namespaced: true, kind: 'Secret', verbs: ['get'] }],
        });
      if (url.startsWith('/api/v1/namespaces/kgraph-dev/secrets/kgraph-mcp-secrets'))
        return json(200, {
          apiVersion: 'v1',
          kind: 'Secret',
          metadata: { name: 'kgraph-mcp-secrets', namespace: 'kgraph-dev' },
          data: { DATABASE_URL: VALUE, REDIS_URL: VALUE, API_KEYS: VALUE },
        });
      if (url.startsWith('/api/v1/namespaces/kgraph-dev/secrets/empty'))
        return json(200, { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'empty' } });
      if (url.startsWith('/api/v1/namespaces/kgraph-prod/'))
        return json(403, {
          kind: 'Status',
          apiVersion: 'v1',
          status: 'Failure',
          reason: 'Forbidden',
          code: 403,
          message: 'secrets "kgraph-mcp-secrets" is forbidden: User "deployer" cannot get resource "secrets"',
        });
      return json(404, {
        kind: 'Status',
        apiVersion: 'v1',
        status: 'Failure',
        reason: 'NotFound',
        code: 404,
        message: 'not found',
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    dir = mkdtempSync(join(tmpdir(), 'kgraph-secret-keys-'));
    const kubeconfig = join(dir, 'config');
    writeFileSync(
      kubeconfig,
      [
        'apiVersion: v1',
        'kind: Config',
        `clusters: [{name: t, cluster: {server: "${url}"}}]`,
        'users: [{name: t, user: {token: test-token}}]',
        'contexts: [{name: t, context: {cluster: t, user: t}}]',
        'current-context: t',
        '',
      ].join('\n'),
    );
    const run = spawnRunner({ PATH: process.env.PATH, HOME: dir, KUBECONFIG: kubeconfig }, REPO_ROOT);
    runner = async (cmd) => {
      const r = await run(cmd);
      // The values must never reach this process: not in stdout, not in stderr.
      expect(r.stdout + r.stderr).not.toContain(VALUE);
      return r;
    };
  });
  afterAll(async () => {
    await new Promise((r) => server.close(r));
    rmSync(dir, { recursive: true, force: true });
  });

  it('gets the key names only; an absent Secret has none, an empty one is there with none', async () => {
    const facts = await secretKeysIn(runner, 'kgraph-dev', ['kgraph-mcp-secrets', 'missing', 'empty']);
    expect(facts.known).toBe(true);
    if (!facts.known) return;
    expect([...facts.keys.get('kgraph-mcp-secrets')!].sort()).toEqual(['API_KEYS', 'DATABASE_URL', 'REDIS_URL']);
    expect(facts.keys.has('missing')).toBe(false);
    expect([...facts.keys.get('empty')!]).toEqual([]);
    expect(seen).toContain('GET /api/v1/namespaces/kgraph-dev/secrets/kgraph-mcp-secrets');
  });

  it('is unknown, naming the refusal, when the cluster will not say', async () => {
    const facts = await secretKeysIn(runner, 'kgraph-prod', ['kgraph-mcp-secrets']);
    expect(facts.known).toBe(false);
    if (facts.known) return;
    expect(facts.reason).toMatch(/^cannot read Secret kgraph-mcp-secrets's keys: .*forbidden/);
  });

  it("the deploy's checklist: variables from the manifests, secrets from the cluster, not the process's env", async () => {
    const result = await runChecklist({
      env: 'dev',
      processEnv: {},
      root: REPO_ROOT,
      octokit: null,
      commit: 'a'.repeat(40),
      deployment: {
        manifests: rendered('dev'),
        namespace: 'kgraph-dev',
        runner,
        schema: { known: true, head: undefined, source: 'the delivery ledger' },
      },
    });
    const byName = new Map(result.items.map((i) => [i.name, i]));
    expect(byName.get('env vars present')?.outcome).toBe('passed');
    expect(byName.get('secrets present')?.outcome).toBe('passed');
    expect(byName.get('migrations prepared')).toMatchObject({ outcome: 'passed' });
    expect(byName.get('migrations prepared')?.reasons.join('; ')).toMatch(
      /^no migration recorded \(the delivery ledger\); \d+ pending/,
    );
  });
});

describe('migrations prepared, from the schema head the ledger records', () => {
  const files = ['001_init.sql', '002_tags.sql', '003_gin.sql'];
  const src = 'the delivery ledger';

  it('lists what is pending after the head', () => {
    const item = migrationsItem(files, { known: true, head: '001_init', source: src });
    expect(item).toMatchObject({
      outcome: 'passed',
      reasons: [`at 001_init (${src}); 2 pending, will run on deploy: 002_tags, 003_gin`],
    });
    expect(migrationsItem(files, { known: true, head: '003_gin', source: src }).reasons.join('; ')).toBe(
      `up to date: at 003_gin (${src})`,
    );
  });

  it('fails when the database is at a migration this version does not know (a newer release migrated)', () => {
    const item = migrationsItem(files, { known: true, head: '004_newer', source: src });
    expect(item.outcome).toBe('failed');
    expect(item.reasons.join('; ')).toContain('at 004_newer');
  });
});
