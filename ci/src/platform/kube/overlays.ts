/**
 * The k8s overlays as a pure function of the environment definitions, so replicas, log level, debug and
 * autoscaling have one source of truth (ci/src/definitions/environments.ts). `kgraph-ci generate` writes these files;
 * `kgraph-ci generate --check` and a test fail when the committed ones differ.
 */
import { stringify } from 'yaml';
import { ENVIRONMENT_NAMES, ENVIRONMENTS, type EnvironmentDefinition } from '../../definitions/environments.js';
import { backupClaim, backupJob } from './backup-job.js';

const APP_NAME = 'kgraph-mcp';
export const DEPLOYMENT_NAME = APP_NAME;
export const CONTAINER_NAME = 'app';
export const MIGRATE_JOB_NAME = `${APP_NAME}-migrate`;
export const K8S_DIR = 'k8s';
/** Where `kgraph-ci generate` writes each environment's PrometheusRule kustomize Component. */
const alertsComponent = (env: string): string => `components/alerts/${env}`;

export const overlayDir = (env: string): string => `${K8S_DIR}/overlays/${env}`;

const HEADER = '# Generated from ci/src/definitions/environments.ts by `kgraph-ci generate`; do not edit.\n';

const yamlDoc = (value: unknown): string => HEADER + stringify(value, { lineWidth: 0 });

/** ConfigMap values the service reads; strings because ConfigMap data is string-only. */
function configLiterals(def: EnvironmentDefinition): Record<string, string> {
  return { ENVIRONMENT: def.name, LOG_LEVEL: def.logLevel, DEBUG: String(def.debug) };
}

function kustomization(def: EnvironmentDefinition): Record<string, unknown> {
  const resources = [
    '../../base',
    'namespace.yaml',
    ...(def.autoscale ? ['hpa.yaml'] : []),
    ...(def.database.backup ? ['backup-pvc.yaml', 'backup-job.yaml'] : []),
  ];
  const patches: unknown[] = [];
  if (def.requiredSecrets.includes('SENTRY_DSN')) {
    // The base marks SENTRY_DSN optional; where the environment requires it, a missing key must stop the pod.
    patches.push({
      target: { kind: 'Deployment', name: DEPLOYMENT_NAME },
      patch: stringify([
        { op: 'replace', path: '/spec/template/spec/containers/0/env/3/valueFrom/secretKeyRef/optional', value: false },
      ]),
    });
  }
  return {
    apiVersion: 'kustomize.config.k8s.io/v1beta1',
    kind: 'Kustomization',
    namespace: def.namespace,
    labels: [{ pairs: { 'app.kubernetes.io/environment': def.name } }],
    resources,
    // Every environment has its alert rules (generated beside the overlays), whatever exists on disk.
    components: [`../../${alertsComponent(def.name)}`],
    replicas: [{ name: DEPLOYMENT_NAME, count: def.replicas }],
    configMapGenerator: [
      {
        name: `${APP_NAME}-config`,
        behavior: 'merge',
        literals: Object.entries(configLiterals(def)).map(([k, v]) => `${k}=${v}`),
      },
    ],
    ...(patches.length ? { patches } : {}),
  };
}

function namespace(def: EnvironmentDefinition): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: {
      name: def.namespace,
      // The restricted Pod Security Standard rejects any pod that could run as root.
      labels: { 'pod-security.kubernetes.io/enforce': 'restricted', 'pod-security.kubernetes.io/warn': 'restricted' },
    },
  };
}

function hpa(
  def: EnvironmentDefinition,
  autoscale: NonNullable<EnvironmentDefinition['autoscale']>,
): Record<string, unknown> {
  return {
    apiVersion: 'autoscaling/v2',
    kind: 'HorizontalPodAutoscaler',
    metadata: { name: APP_NAME },
    spec: {
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: DEPLOYMENT_NAME },
      minReplicas: def.replicas,
      maxReplicas: autoscale.maxReplicas,
      metrics: [
        {
          type: 'Resource',
          resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: autoscale.targetCpuPercent } },
        },
      ],
    },
  };
}

/** Every generated file, path (relative to the repository root) → content. */
export function overlayFiles(
  envs: readonly EnvironmentDefinition[] = ENVIRONMENT_NAMES.map((n) => ENVIRONMENTS[n]),
): Map<string, string> {
  const files = new Map<string, string>();
  for (const def of envs) {
    if (def.autoscale && def.autoscale.maxReplicas < def.replicas) {
      throw new RangeError(
        `environment ${def.name}: autoscale.maxReplicas ${def.autoscale.maxReplicas} is below replicas ${def.replicas}`,
      );
    }
    const dir = overlayDir(def.name);
    files.set(`${dir}/kustomization.yaml`, yamlDoc(kustomization(def)));
    files.set(`${dir}/namespace.yaml`, yamlDoc(namespace(def)));
    if (def.autoscale) files.set(`${dir}/hpa.yaml`, yamlDoc(hpa(def, def.autoscale)));
    const backup = def.database.backup;
    if (backup) {
      files.set(`${dir}/backup-pvc.yaml`, yamlDoc(backupClaim(backup)));
      files.set(`${dir}/backup-job.yaml`, yamlDoc(backupJob(def, backup)));
    }
  }
  return files;
}
