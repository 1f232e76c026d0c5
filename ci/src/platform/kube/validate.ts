/**
 * Parses rendered manifests and checks them against our own policy (pinned images, probes, resources,
 * non-root). Schema validation is in schema.ts, apart, because kubernetes-models takes over a second to load.
 */
import { parseAllDocuments } from 'yaml';
export interface KubeObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata?: { readonly name?: string; readonly namespace?: string; readonly labels?: Record<string, string> };
  readonly spec?: unknown;
  readonly [key: string]: unknown;
}

export const objectId = (o: Pick<KubeObject, 'kind' | 'metadata'>): string =>
  `${o.kind}/${o.metadata?.name ?? '<unnamed>'}`;

/** Parses a multi-document YAML stream (as `kubectl kustomize` prints it). */
export function parseManifests(text: string): KubeObject[] {
  const out: KubeObject[] = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length) throw new Error(`invalid YAML in rendered manifests: ${doc.errors[0]!.message}`);
    const value: unknown = doc.toJS();
    if (value === null || value === undefined) continue;
    if (
      typeof value !== 'object' ||
      Array.isArray(value) ||
      typeof (value as KubeObject).kind !== 'string' ||
      typeof (value as KubeObject).apiVersion !== 'string'
    ) {
      throw new Error('rendered manifests contain a document without apiVersion and kind');
    }
    out.push(value as KubeObject);
  }
  return out;
}

/** A Secret's or ConfigMap's key a variable is filled from. */
export interface KeyRef {
  name?: string;
  key?: string;
  optional?: boolean;
}
/** One `env` entry: a value, or where it is filled from. */
export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef?: KeyRef; configMapKeyRef?: KeyRef; fieldRef?: unknown };
}
/** One `envFrom` entry: every key of a ConfigMap or Secret becomes a variable. */
export interface EnvFrom {
  configMapRef?: { name?: string };
  secretRef?: { name?: string };
}

/** A container of a pod template, as far as our checks read it. */
export interface Container {
  name: string;
  env?: EnvVar[];
  envFrom?: EnvFrom[];
  image?: string;
  resources?: { requests?: Record<string, unknown>; limits?: Record<string, unknown> };
  readinessProbe?: unknown;
  livenessProbe?: unknown;
  startupProbe?: unknown;
  securityContext?: {
    runAsNonRoot?: boolean;
    runAsUser?: number;
    allowPrivilegeEscalation?: boolean;
    readOnlyRootFilesystem?: boolean;
    privileged?: boolean;
  };
}
interface PodSpec {
  containers?: Container[];
  initContainers?: Container[];
  securityContext?: { runAsNonRoot?: boolean; runAsUser?: number };
}

/** The pod template of a workload, if the object has one. */
export function podSpecOf(o: KubeObject): PodSpec | undefined {
  const spec = o.spec as
    { template?: { spec?: PodSpec }; jobTemplate?: { spec?: { template?: { spec?: PodSpec } } } } | undefined;
  if (o.kind === 'Pod') return o.spec as PodSpec;
  return spec?.template?.spec ?? spec?.jobTemplate?.spec?.template?.spec;
}

/** An image is pinned when it has a tag other than latest, or a digest. */
export function imageProblem(image: string | undefined): string | undefined {
  if (!image) return 'has no image';
  if (/@sha256:[0-9a-f]{64}$/.test(image)) return undefined;
  const lastSegment = image.slice(image.lastIndexOf('/') + 1);
  const colon = lastSegment.indexOf(':');
  if (colon < 0) return `image ${image} has no tag`;
  const tag = lastSegment.slice(colon + 1);
  if (tag === '' || tag === 'latest') return `image ${image} uses ${tag === '' ? 'an empty' : 'the latest'} tag`;
  return undefined;
}

/**
 * Policy violations. Long-running containers (Deployments) need all three probes; Jobs run to completion
 * and need none. Every container needs requests and limits and must not be able to run as root.
 */
export function policyViolations(objects: readonly KubeObject[]): string[] {
  const problems: string[] = [];
  for (const o of objects) {
    const pod = podSpecOf(o);
    if (!pod) continue;
    const id = objectId(o);
    const longRunning = o.kind === 'Deployment' || o.kind === 'StatefulSet' || o.kind === 'DaemonSet';
    const containers = [...(pod.initContainers ?? []), ...(pod.containers ?? [])];
    if (containers.length === 0) problems.push(`${id}: has no containers`);
    for (const c of containers) {
      const where = `${id} container ${c.name}`;
      const img = imageProblem(c.image);
      if (img) problems.push(`${where}: ${img}`);
      if (!c.resources?.requests?.cpu || !c.resources?.requests?.memory)
        problems.push(`${where}: needs cpu and memory requests`);
      if (!c.resources?.limits?.memory) problems.push(`${where}: needs a memory limit`);
      if (longRunning && (pod.containers ?? []).includes(c)) {
        for (const probe of ['startupProbe', 'readinessProbe', 'livenessProbe'] as const) {
          if (!c[probe]) problems.push(`${where}: needs a ${probe}`);
        }
      }
      const nonRoot = c.securityContext?.runAsNonRoot ?? pod.securityContext?.runAsNonRoot;
      const uid = c.securityContext?.runAsUser ?? pod.securityContext?.runAsUser;
      if (nonRoot !== true) problems.push(`${where}: must set runAsNonRoot: true`);
      if (uid === 0) problems.push(`${where}: runs as uid 0`);
      if (c.securityContext?.privileged) problems.push(`${where}: is privileged`);
      if (c.securityContext?.allowPrivilegeEscalation !== false)
        problems.push(`${where}: must set allowPrivilegeEscalation: false`);
      if (c.securityContext?.readOnlyRootFilesystem !== true)
        problems.push(`${where}: must set readOnlyRootFilesystem: true`);
    }
  }
  return problems;
}
