/**
 * The checklist's "env vars present" and "secrets present" where a deploy's service gets them: the variables
 * from the manifests the deploy applies (the Deployment's env and the ConfigMaps it reads), the secrets from
 * the cluster's Secrets, by key name only. The deploying process's own environment says nothing about what
 * the pods will see. Pure functions over the rendered objects; the one cluster read is `secretKeysIn`.
 */
import { failed, inconclusive, passed } from '../../definitions/verdict.js';
import type { CommandRunner } from '../../platform/kube/runner.js';
import { objectId, podSpecOf, type Container, type KubeObject } from '../../platform/kube/validate.js';
import type { ChecklistItem } from './items.js';

/** A variable filled from a Secret's key: which Secret, which key, and whether the pod starts without it. */
export interface SecretRef {
  readonly variable: string;
  readonly secret: string;
  readonly key: string;
  readonly optional: boolean;
  /** The workload and container that reads it, for the item's detail. */
  readonly reader: string;
}

/** What a service container is given: plain variables by name, and the Secret refs (wholesale secretRefs apart). */
export interface ServiceWiring {
  readonly plain: ReadonlySet<string>;
  readonly secretRefs: readonly SecretRef[];
  /** envFrom secretRef: every key of that Secret becomes a variable. */
  readonly wholeSecrets: readonly string[];
  /** Wiring that cannot be resolved from the manifests (a ConfigMap they do not contain). */
  readonly problems: readonly string[];
}

const containersOf = (o: KubeObject): readonly Container[] => {
  const spec = podSpecOf(o);
  return [...(spec?.initContainers ?? []), ...(spec?.containers ?? [])];
};

function configMapKeys(objects: readonly KubeObject[], name: string): string[] | undefined {
  const cm = objects.find((o) => o.kind === 'ConfigMap' && o.metadata?.name === name) as
    { data?: Record<string, unknown> } | undefined;
  return cm ? Object.keys(cm.data ?? {}) : undefined;
}

/** The wiring of one container of one workload in the rendered objects; undefined when there is no such container. */
export function serviceWiring(
  objects: readonly KubeObject[],
  workload: { readonly kind: string; readonly name: string; readonly container: string },
): ServiceWiring | undefined {
  const owner = objects.find((o) => o.kind === workload.kind && o.metadata?.name === workload.name);
  const c = owner ? containersOf(owner).find((x) => x.name === workload.container) : undefined;
  if (!owner || !c) return undefined;
  const plain = new Set<string>();
  const problems: string[] = [];
  const wholeSecrets: string[] = [];
  for (const from of c.envFrom ?? []) {
    if (from.secretRef?.name) wholeSecrets.push(from.secretRef.name);
    const cmName = from.configMapRef?.name;
    if (!cmName) continue;
    const keys = configMapKeys(objects, cmName);
    if (keys) keys.forEach((k) => plain.add(k));
    else problems.push(`ConfigMap ${cmName} is not in the rendered manifests`);
  }
  for (const v of c.env ?? []) {
    if (v.value !== undefined || v.valueFrom?.fieldRef) plain.add(v.name);
    const cmRef = v.valueFrom?.configMapKeyRef;
    if (cmRef?.name && cmRef.key) {
      if (configMapKeys(objects, cmRef.name)?.includes(cmRef.key)) plain.add(v.name);
      else if (!cmRef.optional) problems.push(`${v.name}: key ${cmRef.key} is not in ConfigMap ${cmRef.name}`);
    }
  }
  return { plain, secretRefs: secretRefsIn([owner]), wholeSecrets, problems };
}

/** Every Secret key a workload in `objects` reads (Deployments and Jobs alike: a Job that cannot start fails too). */
export function secretRefsIn(objects: readonly KubeObject[]): SecretRef[] {
  return objects.flatMap((o) =>
    containersOf(o).flatMap((c) =>
      (c.env ?? []).flatMap((v) => {
        const ref = v.valueFrom?.secretKeyRef;
        if (!ref?.name || !ref.key) return [];
        const reader = `${objectId(o)} ${c.name ?? '<unnamed>'}`;
        return [{ variable: v.name, secret: ref.name, key: ref.key, optional: ref.optional === true, reader }];
      }),
    ),
  );
}

/** "env vars present": each required variable is given to the container, by value or from a ConfigMap it reads. */
export function wiredEnvItem(
  required: readonly string[],
  wiring: ServiceWiring | undefined,
  where: string,
): ChecklistItem {
  const base = { name: 'env vars present', required: true };
  if (!wiring) return { ...base, ...failed(`${where} is not in the rendered manifests`) };
  const missing = required.filter((n) => !wiring.plain.has(n));
  const problems = wiring.problems.length ? `; ${wiring.problems.join('; ')}` : '';
  return missing.length === 0 && !problems
    ? { ...base, ...passed(`${required.length} set in ${where}'s manifests: ${required.join(', ')}`) }
    : {
        ...base,
        ...failed(`${missing.length ? `not set in ${where}'s manifests: ${missing.join(', ')}` : 'wiring'}${problems}`),
      };
}

/** Key names per Secret as the cluster holds them; a Secret that is absent has none. */
export type SecretKeys =
  | { readonly known: true; readonly keys: ReadonlyMap<string, ReadonlySet<string>> }
  | { readonly known: false; readonly reason: string };

/**
 * "secrets present": each required secret reaches the service from a Secret, and every Secret key any rendered
 * workload reads without `optional` exists in the cluster (a missing one keeps that pod from starting).
 */
export function clusterSecretsItem(
  required: readonly string[],
  wiring: ServiceWiring | undefined,
  refs: readonly SecretRef[],
  facts: SecretKeys,
  where: string,
): ChecklistItem {
  const base = { name: 'secrets present', required: true };
  if (!wiring) return { ...base, ...failed(`${where} is not in the rendered manifests`) };
  const fromSecret = new Set(wiring.secretRefs.map((r) => r.variable));
  // Not named by a secretKeyRef: it can only come from a Secret the container takes whole (envFrom).
  const viaWhole = required.filter((n) => !fromSecret.has(n));
  if (viaWhole.length && wiring.wholeSecrets.length === 0)
    return { ...base, ...failed(`not read from a Secret by ${where}: ${viaWhole.join(', ')}`) };
  if (!facts.known) return { ...base, ...inconclusive(`${facts.reason} (fails closed)`) };
  const has = (secret: string, key: string) => facts.keys.get(secret)?.has(key) === true;
  const wanted = refs.filter((r) => !r.optional || required.includes(r.variable));
  const absent = wanted.filter((r) => !has(r.secret, r.key));
  const wholeMissing = viaWhole.filter((n) => !wiring.wholeSecrets.some((s) => has(s, n)));
  if (absent.length || wholeMissing.length) {
    const parts = [
      ...absent.map((r) => `${r.secret}/${r.key} (${r.variable}, read by ${r.reader})`),
      ...wholeMissing.map((n) => `${n} (in none of ${wiring.wholeSecrets.join(', ')}, which ${where} reads whole)`),
    ];
    return { ...base, ...failed(`missing in the cluster: ${[...new Set(parts)].join('; ')}`) };
  }
  const secrets = [...new Set(wanted.map((r) => r.secret))];
  return {
    ...base,
    ...passed(
      `${required.length} required, ${wanted.length} key(s) present in ${secrets.join(', ')}: ${required.join(', ')}`,
    ),
  };
}

/**
 * The key names of each Secret in the namespace, read by a go-template that prints names only: values never
 * leave the API server. A Secret that does not exist has no keys; a cluster that cannot be asked is unknown.
 */
export async function secretKeysIn(
  runner: CommandRunner,
  namespace: string,
  secrets: readonly string[],
): Promise<SecretKeys> {
  const keys = new Map<string, ReadonlySet<string>>();
  for (const name of [...new Set(secrets)].sort()) {
    const r = await runner({
      argv: ['kubectl', '--namespace', namespace, 'get', 'secret', name, '--ignore-not-found', '-o', KEYS_TEMPLATE],
      timeoutMs: 30_000,
    });
    if (r.exitCode !== 0)
      return {
        known: false,
        reason: `cannot read Secret ${name}'s keys: ${kubectlErrorLine(r.stderr) || `exit ${r.exitCode}`}`,
      };
    const found = r.stdout.split('\n').filter((l) => l.trim() !== '');
    if (r.stdout.trim() !== '') keys.set(name, new Set(found.filter((l) => l !== KEYS_MARK)));
  }
  return { known: true, keys };
}

// A marker line first, so an existing Secret with no keys is told apart from one --ignore-not-found left out.
const KEYS_MARK = '#secret';
const KEYS_TEMPLATE = `go-template=${KEYS_MARK}{{"\\n"}}{{range $k, $v := .data}}{{$k}}{{"\\n"}}{{end}}`;

/** kubectl's own error line ("Error from server (Forbidden): ..."), not the client-side log lines before it. */
function kubectlErrorLine(stderr: string): string {
  const lines = stderr
    .trim()
    .split('\n')
    .filter((l) => l.trim() !== '');
  const line = lines.find((l) => /^(Error from server|error:)/.test(l)) ?? lines.at(-1) ?? '';
  return line.slice(0, 300);
}
