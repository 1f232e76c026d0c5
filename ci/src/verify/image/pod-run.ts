/**
 * A rendered pod spec's container as a `docker run`: command and args, env (values, ConfigMap and
 * Secret references), user, read-only root filesystem, capabilities, no-new-privileges, emptyDir
 * volumes as tmpfs, memory and CPU limits. Pure: the caller supplies the ConfigMaps and Secrets and
 * gets the argv, the env (to pass through a file, so secret values never sit in a process list) and
 * the parts of the spec docker cannot express.
 *
 * Resolution follows the kubelet: envFrom first, then env (which wins); a missing ConfigMap, Secret
 * or key that is not `optional` is an error naming it (the kubelet's CreateContainerConfigError).
 */
import type { KubeObject } from '../../platform/kube/validate.js';

interface KeyRef {
  readonly name: string;
  readonly key: string;
  readonly optional?: boolean;
}
interface EnvVar {
  readonly name: string;
  readonly value?: string;
  readonly valueFrom?: { readonly configMapKeyRef?: KeyRef; readonly secretKeyRef?: KeyRef };
}
interface EnvFrom {
  readonly prefix?: string;
  readonly configMapRef?: { readonly name: string; readonly optional?: boolean };
  readonly secretRef?: { readonly name: string; readonly optional?: boolean };
}
interface Probe {
  readonly httpGet?: { readonly path?: string; readonly port: number | string };
  readonly periodSeconds?: number;
  readonly timeoutSeconds?: number;
  readonly failureThreshold?: number;
}
export interface ContainerSpec {
  readonly name: string;
  readonly image?: string;
  readonly command?: readonly string[];
  readonly args?: readonly string[];
  readonly env?: readonly EnvVar[];
  readonly envFrom?: readonly EnvFrom[];
  readonly ports?: readonly { readonly containerPort: number; readonly name?: string; readonly protocol?: string }[];
  readonly readinessProbe?: Probe;
  readonly livenessProbe?: Probe;
  readonly startupProbe?: Probe;
  readonly resources?: { readonly limits?: { readonly cpu?: string | number; readonly memory?: string | number } };
  readonly securityContext?: SecurityContext;
  readonly volumeMounts?: readonly { readonly name: string; readonly mountPath: string; readonly readOnly?: boolean }[];
}
interface SecurityContext {
  readonly runAsUser?: number;
  readonly runAsGroup?: number;
  readonly runAsNonRoot?: boolean;
  readonly readOnlyRootFilesystem?: boolean;
  readonly allowPrivilegeEscalation?: boolean;
  readonly privileged?: boolean;
  readonly capabilities?: { readonly drop?: readonly string[]; readonly add?: readonly string[] };
}
export interface PodSpec {
  readonly containers: readonly ContainerSpec[];
  readonly securityContext?: SecurityContext & {
    readonly fsGroup?: number;
    readonly supplementalGroups?: readonly number[];
  };
  readonly volumes?: readonly {
    readonly name: string;
    readonly emptyDir?: { readonly sizeLimit?: string; readonly medium?: string };
  }[];
  readonly terminationGracePeriodSeconds?: number;
}

export type Data = Readonly<Record<string, string>>;

export interface PodRunRequest {
  readonly pod: PodSpec;
  /** Container name; default the first. */
  readonly container?: string;
  /** The image to run instead of the manifest's (the one just built). */
  readonly image: string;
  readonly configMaps: Readonly<Record<string, Data>>;
  readonly secrets: Readonly<Record<string, Data>>;
  /** Applied last, each one reported in `notes` (for example PORT on a shared host network). */
  readonly overrides?: Data;
  /** Extra docker run flags placed before the image (name, labels, network). */
  readonly dockerFlags?: readonly string[];
}

export interface PodRunPlan {
  /** `docker run` arguments after `run`; the env comes from `--env-file ENV_FILE` (placeholder kept in argv). */
  readonly argv: readonly string[];
  readonly env: Data;
  readonly user?: string;
  /** What the spec asks for that docker cannot express, or that was changed to run here. */
  readonly notes: readonly string[];
}

export const ENV_FILE_PLACEHOLDER = '<env-file>';

/** The pod template of a Deployment, Job, StatefulSet ... (as podSpecOf), typed for this module. */
export function workloadPod(objects: readonly KubeObject[], kind: string, name?: string): PodSpec {
  const o = objects.find((x) => x.kind === kind && (name === undefined || x.metadata?.name === name));
  const pod = (o?.spec as { template?: { spec?: PodSpec } } | undefined)?.template?.spec;
  if (!pod) throw new Error(`no ${kind}${name ? ` ${name}` : ''} with a pod template in the manifests`);
  return pod;
}

/** ConfigMaps (data) of rendered manifests by name. */
export function configMapsOf(objects: readonly KubeObject[]): Record<string, Data> {
  return Object.fromEntries(
    objects
      .filter((o) => o.kind === 'ConfigMap' && o.metadata?.name)
      .map((o) => [
        o.metadata!.name!,
        Object.fromEntries(Object.entries((o.data as Record<string, unknown>) ?? {}).map(([k, v]) => [k, String(v)])),
      ]),
  );
}

function lookup(
  kind: 'ConfigMap' | 'Secret',
  store: Readonly<Record<string, Data>>,
  ref: KeyRef,
  envName: string,
): string | undefined {
  const source = store[ref.name];
  const value = source?.[ref.key];
  if (value === undefined && !ref.optional) {
    throw new Error(
      `env ${envName}: ${kind} ${ref.name} ${source ? `has no key ${ref.key}` : 'does not exist'} (and the reference is not optional)`,
    );
  }
  return value;
}

/** Kubernetes quantities to docker's: `512Mi` → `512m` bytes flag value, `500m` CPU → `0.5`. */
export function memoryFlag(q: string | number): string {
  const m = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|k|M|G|T)?$/.exec(String(q));
  if (!m) throw new Error(`memory limit ${q} is not a quantity docker understands`);
  const factor =
    { Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, Ti: 1024 ** 4, k: 1e3, M: 1e6, G: 1e9, T: 1e12 }[m[2] ?? ''] ?? 1;
  return String(Math.round(Number(m[1]) * factor));
}
export function cpuFlag(q: string | number): string {
  const s = String(q);
  const v = s.endsWith('m') ? Number(s.slice(0, -1)) / 1000 : Number(s);
  if (!Number.isFinite(v) || v <= 0) throw new Error(`cpu limit ${q} is not a quantity docker understands`);
  return String(v);
}

/** envFrom sources into env, prefixed; a missing source that is not optional is an error naming it. */
function addEnvFrom(env: Record<string, string>, c: ContainerSpec, req: PodRunRequest): void {
  for (const from of c.envFrom ?? []) {
    const ref = from.configMapRef ?? from.secretRef;
    if (!ref) continue;
    const kind = from.configMapRef ? 'ConfigMap' : 'Secret';
    const data = (from.configMapRef ? req.configMaps : req.secrets)[ref.name];
    if (!data) {
      if (ref.optional) continue;
      throw new Error(`envFrom: ${kind} ${ref.name} does not exist (and the reference is not optional)`);
    }
    for (const [k, v] of Object.entries(data)) env[`${from.prefix ?? ''}${k}`] = v;
  }
}

/** env entries (values and ConfigMap/Secret keys) over what envFrom set; other valueFrom kinds are noted. */
function addEnvVars(env: Record<string, string>, c: ContainerSpec, req: PodRunRequest, notes: string[]): void {
  for (const e of c.env ?? []) {
    if (e.value !== undefined) env[e.name] = e.value;
    else if (e.valueFrom?.configMapKeyRef) {
      const v = lookup('ConfigMap', req.configMaps, e.valueFrom.configMapKeyRef, e.name);
      if (v !== undefined) env[e.name] = v;
    } else if (e.valueFrom?.secretKeyRef) {
      const v = lookup('Secret', req.secrets, e.valueFrom.secretKeyRef, e.name);
      if (v !== undefined) env[e.name] = v;
    } else if (e.valueFrom)
      notes.push(`env ${e.name}: valueFrom other than ConfigMap/Secret keys is not supported here`);
  }
}

/** The container's env as the kubelet resolves it (envFrom, then env), then this machine's overrides, each noted. */
function containerEnv(c: ContainerSpec, req: PodRunRequest, notes: string[]): Record<string, string> {
  const env: Record<string, string> = {};
  addEnvFrom(env, c, req);
  addEnvVars(env, c, req, notes);
  for (const [k, v] of Object.entries(req.overrides ?? {})) {
    if (env[k] !== v)
      notes.push(`env ${k} overridden for this machine (${env[k] === undefined ? 'unset' : 'manifest value differs'})`);
    env[k] = v;
  }
  return env;
}

/** User, groups, read-only root, privilege and capability flags from the merged securityContext. */
function securityFlags(
  pod: PodSpec,
  sc: SecurityContext,
  notes: string[],
): { readonly flags: string[]; readonly user?: string } {
  const flags: string[] = [];
  let user: string | undefined;
  if (sc.runAsUser !== undefined) {
    user = sc.runAsGroup !== undefined ? `${sc.runAsUser}:${sc.runAsGroup}` : String(sc.runAsUser);
    flags.push('--user', user);
  }
  if (sc.runAsNonRoot) notes.push('runAsNonRoot: docker has no such check; the caller verifies the uid is not 0');
  for (const g of [pod.securityContext?.fsGroup, ...(pod.securityContext?.supplementalGroups ?? [])])
    if (g !== undefined) flags.push('--group-add', String(g));
  if (sc.readOnlyRootFilesystem) flags.push('--read-only');
  if (sc.allowPrivilegeEscalation === false) flags.push('--security-opt', 'no-new-privileges');
  if (sc.privileged) flags.push('--privileged');
  for (const cap of sc.capabilities?.drop ?? []) flags.push('--cap-drop', cap);
  for (const cap of sc.capabilities?.add ?? []) flags.push('--cap-add', cap);
  // seccompProfile RuntimeDefault is docker's default profile already.
  return user ? { flags, user } : { flags };
}

/** emptyDir mounts as tmpfs owned by the container user; any other volume is noted, not mapped. */
function volumeFlags(pod: PodSpec, c: ContainerSpec, sc: SecurityContext, notes: string[]): string[] {
  const flags: string[] = [];
  for (const m of c.volumeMounts ?? []) {
    const vol = pod.volumes?.find((v) => v.name === m.name);
    if (!vol?.emptyDir) {
      notes.push(`volume ${m.name} at ${m.mountPath}: only emptyDir volumes are mapped (as tmpfs)`);
      continue;
    }
    const size = vol.emptyDir.sizeLimit ? `,size=${memoryFlag(vol.emptyDir.sizeLimit)}` : '';
    // uid/gid of the container user so it can write there, as an emptyDir with fsGroup allows.
    const owner =
      sc.runAsUser !== undefined
        ? `,uid=${sc.runAsUser},gid=${pod.securityContext?.fsGroup ?? sc.runAsGroup ?? sc.runAsUser}`
        : '';
    flags.push('--tmpfs', `${m.mountPath}:rw,nosuid,nodev,exec${size}${owner}${m.readOnly ? ',ro' : ''}`);
  }
  return flags;
}

/** Memory and CPU limits as docker's flags. */
function limitFlags(c: ContainerSpec): string[] {
  const flags: string[] = [];
  if (c.resources?.limits?.memory !== undefined) flags.push('--memory', memoryFlag(c.resources.limits.memory));
  if (c.resources?.limits?.cpu !== undefined) flags.push('--cpus', cpuFlag(c.resources.limits.cpu));
  return flags;
}

export function podToDockerRun(req: PodRunRequest): PodRunPlan {
  const pod = req.pod;
  const c = req.container ? pod.containers.find((x) => x.name === req.container) : pod.containers[0];
  if (!c) throw new Error(`no container ${req.container ?? ''} in the pod spec`);
  const notes: string[] = [];
  const env = containerEnv(c, req, notes);
  // The container's securityContext wins over the pod's, field by field (as in Kubernetes).
  const sc: SecurityContext = { ...pod.securityContext, ...c.securityContext };
  const security = securityFlags(pod, sc, notes);
  const flags: string[] = [
    ...(req.dockerFlags ?? []),
    '--env-file',
    ENV_FILE_PLACEHOLDER,
    ...security.flags,
    ...volumeFlags(pod, c, sc, notes),
    ...limitFlags(c),
  ];
  if (c.ports?.length)
    notes.push(
      `ports ${c.ports.map((p) => `${p.name ?? ''}:${p.containerPort}`).join(', ')}: no port publishing on the host network; the process listens on PORT`,
    );
  const argv = ['run', '--detach', ...flags];
  const command = c.command ?? [];
  if (command.length > 0) argv.push('--entrypoint', command[0]!);
  argv.push(req.image, ...command.slice(1), ...(c.args ?? []));
  return { argv, env, ...(security.user ? { user: security.user } : {}), notes };
}

/** The port a probe targets: a number, or the name of one of the container's ports. */
export function probePort(c: ContainerSpec, probe: Probe | undefined): number | undefined {
  const port = probe?.httpGet?.port;
  if (typeof port === 'number') return port;
  return c.ports?.find((p) => p.name === port)?.containerPort;
}

/** The env file docker reads (`KEY=value` a line); a value with a newline cannot be passed and is refused. */
export function envFileText(env: Data): string {
  return Object.entries(env)
    .map(([k, v]) => {
      if (/[\r\n]/.test(v)) throw new Error(`env ${k}: a value with a line break cannot go through docker's env file`);
      return `${k}=${v}`;
    })
    .join('\n');
}
