/**
 * Staging's baseline, pure: the release prod runs, started as a temporary Deployment in the candidate's own
 * namespace so the gate compares the two on the same nodes, database and network path, and never sends a
 * request to prod. Built from the same rendered kustomize output as the candidate (base + this environment's
 * overlay), with prod's digest, its own name and labels: the candidate's Deployment selector, Service,
 * PodDisruptionBudget and HPA never select its pods, so it takes no real traffic. A NetworkPolicy lets the
 * gate (a pod labelled app.kubernetes.io/component=gate in the namespace) reach both.
 */
import type { EnvironmentDefinition } from '../../definitions/environments.js';
import { DEPLOYMENT_NAME } from '../../platform/kube/overlays.js';
import type { KubeObject } from '../../platform/kube/validate.js';

export const BASELINE_NAME = `${DEPLOYMENT_NAME}-baseline`;
const PORT = 8000;
const NAME = 'app.kubernetes.io/name';
const COMPONENT = 'app.kubernetes.io/component';

/** A service's address from inside the cluster (what the in-cluster gate calls). */
export const inClusterUrl = (service: string, namespace: string): string =>
  `http://${service}.${namespace}.svc.cluster.local:${PORT}`;

type Mutable = Record<string, unknown> & {
  metadata: { name?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec: Record<string, unknown>;
};

function baselineDeployment(source: KubeObject, env: EnvironmentDefinition, image: string): KubeObject {
  const d = structuredClone(source) as unknown as Mutable;
  const labels = { [NAME]: BASELINE_NAME, [COMPONENT]: 'baseline' };
  d.metadata = {
    ...d.metadata,
    name: BASELINE_NAME,
    labels: { ...d.metadata.labels, ...labels },
    annotations: { 'kubernetes.io/change-cause': `baseline for the ${env.name} gate (${image})` },
  };
  const tpl = d.spec.template as {
    metadata?: { labels?: Record<string, string> };
    spec: { containers: { image?: string }[]; initContainers?: { image?: string }[] };
  };
  d.spec = { ...d.spec, replicas: env.replicas, selector: { matchLabels: { [NAME]: BASELINE_NAME } } };
  tpl.metadata = { ...tpl.metadata, labels: { ...tpl.metadata?.labels, ...labels } };
  for (const c of [...(tpl.spec.initContainers ?? []), ...tpl.spec.containers]) c.image = image;
  return d as unknown as KubeObject;
}

/**
 * The baseline's Deployment, Service and NetworkPolicy for `env`, from `manifests` (the rendered overlay of
 * `env` itself) with `image` (the digest the baseline environment runs).
 */
export function baselineObjects(
  manifests: readonly KubeObject[],
  env: EnvironmentDefinition,
  image: string,
): KubeObject[] {
  const deployment = manifests.find((o) => o.kind === 'Deployment' && o.metadata?.name === DEPLOYMENT_NAME);
  const service = manifests.find((o) => o.kind === 'Service' && o.metadata?.name === DEPLOYMENT_NAME);
  if (!deployment || !service)
    throw new Error(`rendered ${env.name} manifests lack the Deployment or Service to copy for the baseline`);
  const svc = structuredClone(service) as unknown as Mutable;
  svc.metadata = { ...svc.metadata, name: BASELINE_NAME, labels: { ...svc.metadata.labels, [NAME]: BASELINE_NAME } };
  svc.spec = { ...svc.spec, selector: { [NAME]: BASELINE_NAME, [COMPONENT]: 'baseline' } };
  const policy: KubeObject = {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name: BASELINE_NAME, namespace: env.namespace, labels: { [NAME]: BASELINE_NAME } },
    spec: {
      podSelector: { matchExpressions: [{ key: COMPONENT, operator: 'In', values: ['api', 'baseline'] }] },
      policyTypes: ['Ingress'],
      ingress: [
        { from: [{ podSelector: { matchLabels: { [COMPONENT]: 'gate' } } }], ports: [{ port: PORT, protocol: 'TCP' }] },
      ],
    },
  };
  return [baselineDeployment(deployment, env, image), svc as unknown as KubeObject, policy];
}
