import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ENVIRONMENT_NAMES, ENVIRONMENTS } from '../../src/definitions/environments.js';
import { IMAGE_REPOSITORY } from '../../src/deliver/deploy/image.js';
import { staleFiles } from '../../src/cli/generate/files.js';
import { REPO_ROOT } from '../../src/platform/repo-root.js';
import { overlayDir } from '../../src/platform/kube/overlays.js';
import { schemaErrors } from '../../src/platform/kube/schema.js';
import { imageProblem, parseManifests, policyViolations, type KubeObject } from '../../src/platform/kube/validate.js';

const root = REPO_ROOT;
const render = (dir: string): KubeObject[] =>
  parseManifests(execFileSync('kubectl', ['kustomize', join(root, dir)], { encoding: 'utf8' }));
const rendered = Object.fromEntries(ENVIRONMENT_NAMES.map((e) => [e, render(overlayDir(e))])) as Record<
  string,
  KubeObject[]
>;
const find = (objs: KubeObject[], kind: string) => objs.filter((o) => o.kind === kind);

type Ctr = { env?: { name: string; valueFrom?: { secretKeyRef?: { optional?: boolean } }; value?: string }[] };
const deployment = (e: string) =>
  find(rendered[e]!, 'Deployment')[0] as KubeObject & {
    spec: {
      replicas: number;
      strategy: { rollingUpdate: { maxUnavailable: number } };
      template: { spec: { containers: Ctr[] } };
    };
  };

describe('k8s overlays', () => {
  it('are what the generator makes from ci/src/definitions/environments.ts', async () => {
    expect(await staleFiles(root)).toEqual([]);
  });

  it.each(ENVIRONMENT_NAMES)('%s validates against the Kubernetes and prometheus-operator schemas', (e) => {
    expect(rendered[e]!.length).toBeGreaterThan(8);
    expect(schemaErrors(rendered[e]!)).toEqual([]);
  });

  it.each(ENVIRONMENT_NAMES)('%s passes policy: pinned images, probes, resources, non-root', (e) => {
    expect(policyViolations(rendered[e]!)).toEqual([]);
  });

  it.each(ENVIRONMENT_NAMES)('%s has the replicas, log level, debug and namespace of its environment', (e) => {
    const def = ENVIRONMENTS[e];
    const objs = rendered[e]!;
    expect(deployment(e).spec.replicas).toBe(def.replicas);
    const cm = find(objs, 'ConfigMap')[0] as unknown as { data: Record<string, string> };
    expect(cm.data).toMatchObject({
      ENVIRONMENT: e,
      LOG_LEVEL: def.logLevel,
      DEBUG: String(def.debug),
      APP_NAME: 'kgraph-mcp',
      PORT: '8000',
    });
    for (const o of objs.filter((x) => x.kind !== 'Namespace'))
      expect(o.metadata?.namespace, `${o.kind}`).toBe(def.namespace);
    expect(find(objs, 'HorizontalPodAutoscaler').length).toBe(def.autoscale ? 1 : 0);
  });

  it('has the delivery objects: zero-downtime rollout, Service on 8000, migration Job, PDB, NetworkPolicy, ServiceMonitor', () => {
    const objs = rendered.staging!;
    const kinds = new Set(objs.map((o) => o.kind));
    for (const k of [
      'Deployment',
      'Service',
      'ConfigMap',
      'Job',
      'PodDisruptionBudget',
      'NetworkPolicy',
      'ServiceMonitor',
      'ServiceAccount',
      'Namespace',
    ])
      expect(kinds).toContain(k);
    expect(deployment('staging').spec.strategy.rollingUpdate.maxUnavailable).toBe(0);
    const svc = find(objs, 'Service')[0] as unknown as { spec: { ports: { port: number }[] } };
    expect(svc.spec.ports[0]!.port).toBe(8000);
    const job = find(objs, 'Job')[0] as unknown as {
      spec: { template: { spec: { containers: { command: string[] }[] } } };
    };
    expect(job.spec.template.spec.containers[0]!.command).toEqual(['node', 'dist/migrate.js']);
    const c = deployment('staging').spec.template.spec.containers[0] as Record<string, unknown>;
    expect(c).toMatchObject({
      startupProbe: { httpGet: { path: '/readyz' } },
      readinessProbe: { httpGet: { path: '/readyz' } },
      livenessProbe: { httpGet: { path: '/healthz' } },
      lifecycle: { preStop: { sleep: { seconds: 10 } } },
      volumeMounts: [{ name: 'tmp', mountPath: '/tmp' }],
    });
  });

  it('the backup Job and its volume exist exactly where the database policy takes backups, as environments.ts says', () => {
    for (const e of ENVIRONMENT_NAMES) {
      const backup = ENVIRONMENTS[e].database.backup;
      const jobs = find(rendered[e]!, 'Job').map((o) => o.metadata?.name);
      const claims = find(rendered[e]!, 'PersistentVolumeClaim') as unknown as {
        metadata: { name: string };
        spec: { resources: { requests: { storage: string } } };
      }[];
      expect(jobs.includes('kgraph-mcp-backup'), e).toBe(backup !== undefined);
      if (!backup) {
        expect(claims, e).toEqual([]);
        continue;
      }
      expect(claims.map((c) => [c.metadata.name, c.spec.resources.requests.storage])).toEqual([
        [backup.storage.claimName, backup.storage.size],
      ]);
      type Pod = {
        containers: { image: string; volumeMounts: { name: string; mountPath: string }[] }[];
        volumes: { name: string; persistentVolumeClaim?: { claimName: string } }[];
      };
      const job = find(rendered[e]!, 'Job').find((o) => o.metadata?.name === 'kgraph-mcp-backup') as unknown as {
        spec: { backoffLimit: number; template: { spec: Pod } };
      };
      const pod = job.spec.template.spec;
      expect(job.spec.backoffLimit).toBe(0);
      expect(pod.containers[0]!.image).toBe(backup.jobImage);
      expect(pod.containers[0]!.volumeMounts).toContainEqual({ name: 'backups', mountPath: backup.storage.mountPath });
      expect(pod.volumes).toContainEqual({
        name: 'backups',
        persistentVolumeClaim: { claimName: backup.storage.claimName },
      });
    }
  });

  it('references secrets only, never carries their values; SENTRY_DSN is required where the environment requires it', () => {
    for (const e of ENVIRONMENT_NAMES) {
      expect(find(rendered[e]!, 'Secret')).toEqual([]);
      const env = deployment(e).spec.template.spec.containers[0]!.env ?? [];
      for (const name of ['DATABASE_URL', 'REDIS_URL', 'API_KEYS', 'SENTRY_DSN']) {
        const v = env.find((x) => x.name === name);
        expect(v?.valueFrom?.secretKeyRef, `${e} ${name}`).toBeDefined();
        expect(v?.value).toBeUndefined();
      }
      const sentry = env.find((x) => x.name === 'SENTRY_DSN')!.valueFrom!.secretKeyRef!;
      expect(sentry.optional).toBe(!ENVIRONMENTS[e].requiredSecrets.includes('SENTRY_DSN'));
    }
  });

  it.each(ENVIRONMENT_NAMES)('%s runs APP_VERSION = the tag of the image it renders (deploy replaces both)', (e) => {
    const c = deployment(e).spec.template.spec.containers[0]! as Ctr & { image: string };
    const version = (c.env ?? []).filter((x) => x.name === 'APP_VERSION');
    expect(version).toHaveLength(1);
    expect(version[0]!.value).toBe(c.image.slice(c.image.lastIndexOf(':') + 1));
  });

  it("includes each environment's generated alert rules", () => {
    for (const e of ENVIRONMENT_NAMES) expect(find(rendered[e]!, 'PrometheusRule').length).toBe(1);
  });

  it('pins the base image to the release repository', () => {
    const base = parse(readFileSync(join(root, 'k8s/base/kustomization.yaml'), 'utf8')) as {
      images: { newName: string; newTag: string }[];
    };
    expect(base.images[0]!.newName).toBe(IMAGE_REPOSITORY);
    expect(imageProblem(`${base.images[0]!.newName}:${base.images[0]!.newTag}`)).toBeUndefined();
  });
});

describe('manifest checks catch what they claim to', () => {
  const good = rendered.prod!;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const mutate = (fn: (d: Record<string, any>) => void): KubeObject[] =>
    good.map((o) => {
      if (o.kind !== 'Deployment') return o;
      const copy = structuredClone(o) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
      fn(copy);
      return copy as KubeObject;
    });
  const ctr = (d: Record<string, any>) => d.spec.template.spec.containers[0]; // eslint-disable-line @typescript-eslint/no-explicit-any

  it('flags latest, untagged and empty-tag images but accepts tags and digests', () => {
    expect(imageProblem('ghcr.io/a/b:latest')).toMatch(/latest/);
    expect(imageProblem('ghcr.io/a/b')).toMatch(/no tag/);
    expect(imageProblem('localhost:5000/b')).toMatch(/no tag/);
    expect(imageProblem('b:')).toMatch(/empty/);
    expect(imageProblem('localhost:5000/b:v1.2.3')).toBeUndefined();
    expect(imageProblem(`b@sha256:${'a'.repeat(64)}`)).toBeUndefined();
  });

  it('flags missing probes, resources and root', () => {
    expect(policyViolations(mutate((d) => delete ctr(d).livenessProbe))).toEqual([
      'Deployment/kgraph-mcp container app: needs a livenessProbe',
    ]);
    expect(policyViolations(mutate((d) => delete ctr(d).resources))).toEqual([
      'Deployment/kgraph-mcp container app: needs cpu and memory requests',
      'Deployment/kgraph-mcp container app: needs a memory limit',
    ]);
    expect(policyViolations(mutate((d) => (d.spec.template.spec.securityContext = { runAsUser: 0 })))).toEqual([
      'Deployment/kgraph-mcp container app: must set runAsNonRoot: true',
      'Deployment/kgraph-mcp container app: runs as uid 0',
    ]);
    expect(policyViolations(mutate((d) => (ctr(d).image = 'kgraph-mcp:latest')))).toEqual([
      'Deployment/kgraph-mcp container app: image kgraph-mcp:latest uses the latest tag',
    ]);
  });

  it('reports schema errors and unknown kinds', () => {
    expect(schemaErrors(mutate((d) => (ctr(d).ports[0].containerPort = 'eight thousand')))).toEqual([
      'Deployment/kgraph-mcp: data/spec/template/spec/containers/0/ports/0/containerPort must be integer',
    ]);
    expect(schemaErrors([{ apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w' } }])).toEqual([
      'Widget/w: no schema for example.com/v1 Widget',
    ]);
  });
});
