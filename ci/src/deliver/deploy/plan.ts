/**
 * Deploy and rollback as plain data: a list of steps computed from the environment, the image and the
 * rendered manifests. `execute.ts` runs a plan; `--dry-run` prints it; tests assert it exactly.
 */
import { stringify } from 'yaml';
import type { EnvironmentDefinition } from '../../definitions/environments.js';
import { CONTAINER_NAME, DEPLOYMENT_NAME, MIGRATE_JOB_NAME, overlayDir } from '../../platform/kube/overlays.js';
import { objectId, podSpecOf, type KubeObject } from '../../platform/kube/validate.js';
import { BACKUP_JOB_NAME, BACKUP_PRECEDES_VAR, BACKUP_TIMEOUT_SECONDS } from '../../platform/kube/backup-job.js';
import { BASELINE_NAME, baselineObjects, inClusterUrl } from './baseline.js';

export const ROLLOUT_TIMEOUT_SECONDS = 300;
export const MIGRATE_TIMEOUT_SECONDS = 600;
const CHANGE_CAUSE = 'kubernetes.io/change-cause';

export type Phase = 'precheck' | 'migrate' | 'rollout' | 'verify';

/** What the gate compares the candidate with: a baseline it can call, or why there is none. */
export type GateBaseline = { readonly baseUrl: string; readonly served: string } | { readonly unavailable: string };

export type PlanStep =
  | { readonly kind: 'checklist'; readonly name: string; readonly phase: 'precheck' }
  /** `kgraph-ci migrations check --env` for this environment: a refusal stops the deploy before anything changes. */
  | { readonly kind: 'migrations-check'; readonly name: string; readonly phase: 'precheck' }
  /** The backup judge over the backup Job's manifest: no fresh, verified backup before `precedes` = no migration. */
  | {
      readonly kind: 'backup';
      readonly name: string;
      readonly phase: 'migrate';
      readonly job: string;
      /** The migration the backup must precede; undefined = unknown, and the judge refuses. */
      readonly precedes?: string;
    }
  | {
      readonly kind: 'kubectl';
      readonly name: string;
      readonly phase: Phase;
      readonly argv: readonly string[];
      /** Manifests piped to `kubectl apply -f -`; `objects` names them for the printed plan. */
      readonly stdin?: { readonly objects: readonly string[]; readonly yaml: string };
      readonly timeoutMs?: number;
      /** The step's failure is recorded but does not stop the plan (reading the current image). */
      readonly optional?: boolean;
      /** After this step runs, the cluster may serve the new image: a later failure needs a rollback. */
      readonly changesWorkload?: boolean;
    }
  | { readonly kind: 'smoke'; readonly name: string; readonly phase: 'verify'; readonly baseUrl: string }
  | {
      readonly kind: 'gate';
      readonly name: string;
      readonly phase: 'verify';
      readonly baseUrl: string;
      readonly baseline?: GateBaseline;
    };

export interface Plan {
  readonly operation: 'deploy' | 'rollback';
  readonly environment: string;
  readonly namespace: string;
  readonly image?: string;
  readonly version: string;
  readonly steps: readonly PlanStep[];
  /** Run, in order, when a step after a `changesWorkload` step fails. Empty = nothing to undo. */
  readonly onFailure: readonly PlanStep[];
  /** Run at the end whatever happened (the temporary baseline is removed); a failure here is a warning. */
  readonly cleanup?: readonly PlanStep[];
}

const kubectl = (ns: string, ...args: string[]): string[] => ['kubectl', '--namespace', ns, ...args];

export const renderArgv = (env: string): string[] => ['kubectl', 'kustomize', overlayDir(env)];

export const currentImageArgv = (ns: string): string[] =>
  kubectl(
    ns,
    'get',
    `deployment/${DEPLOYMENT_NAME}`,
    '--ignore-not-found',
    '-o',
    `jsonpath={.spec.template.spec.containers[?(@.name=="${CONTAINER_NAME}")].image}`,
  );

const rolloutStatus = (ns: string, name = 'rollout-status', deployment = DEPLOYMENT_NAME): PlanStep => ({
  kind: 'kubectl',
  name,
  phase: 'rollout',
  argv: kubectl(ns, 'rollout', 'status', `deployment/${deployment}`, `--timeout=${ROLLOUT_TIMEOUT_SECONDS}s`),
  timeoutMs: (ROLLOUT_TIMEOUT_SECONDS + 30) * 1000,
});

const undoSteps = (ns: string): PlanStep[] => [
  {
    kind: 'kubectl',
    name: 'rollout-undo',
    phase: 'rollout',
    argv: kubectl(ns, 'rollout', 'undo', `deployment/${DEPLOYMENT_NAME}`),
  },
  rolloutStatus(ns, 'rollout-status-after-undo'),
];

/**
 * Replaces the image of every container of our workloads (the Deployment and the migration Job); the backup
 * Job keeps its own (PostgreSQL's client tools, from environments.ts).
 */
export function withImage(objects: readonly KubeObject[], image: string, changeCause: string): KubeObject[] {
  return objects.map((o) => {
    const pod = podSpecOf(o);
    if (!pod || (o.kind === 'Job' && o.metadata?.name === BACKUP_JOB_NAME)) return o;
    const copy = structuredClone(o) as KubeObject & { metadata: { annotations?: Record<string, string> } };
    const copyPod = podSpecOf(copy)!;
    for (const c of [...(copyPod.initContainers ?? []), ...(copyPod.containers ?? [])]) c.image = image;
    if (o.kind === 'Deployment') {
      const tpl = (copy.spec as { template: { metadata?: { annotations?: Record<string, string> } } }).template;
      // On the pod template too, so `kubectl rollout history` shows which version each revision ran.
      copy.metadata = { ...copy.metadata, annotations: { ...copy.metadata.annotations, [CHANGE_CAUSE]: changeCause } };
      tpl.metadata = { ...tpl.metadata, annotations: { ...tpl.metadata?.annotations, [CHANGE_CAUSE]: changeCause } };
    }
    return copy;
  });
}

/** The variable the service reads its release from (Sentry's release, /version). */
export const VERSION_ENV = 'APP_VERSION';

/** Sets APP_VERSION on the Deployment's app container to the version shipped (replacing the base's value). */
export function withVersion(objects: readonly KubeObject[], version: string): KubeObject[] {
  return objects.map((o) => {
    if (o.kind !== 'Deployment' || o.metadata?.name !== DEPLOYMENT_NAME) return o;
    const copy = structuredClone(o) as KubeObject;
    for (const c of podSpecOf(copy)?.containers ?? []) {
      if (c.name !== CONTAINER_NAME) continue;
      // In place when present: overlays patch env entries by index.
      const env = c.env ?? [];
      const at = env.findIndex((e) => e.name === VERSION_ENV);
      if (at >= 0) env[at] = { name: VERSION_ENV, value: version };
      else env.push({ name: VERSION_ENV, value: version });
      c.env = env;
    }
    return copy;
  });
}

/**
 * `rollback --to`: image and APP_VERSION in one change of the pod template (a strategic merge by container
 * and variable name), so one rollout runs and the pods it starts report the version they run.
 */
const setImageAndVersion = (image: string, version: string): string =>
  JSON.stringify({
    spec: {
      template: {
        spec: { containers: [{ name: CONTAINER_NAME, image, env: [{ name: VERSION_ENV, value: version }] }] },
      },
    },
  });

const toYaml = (objects: readonly KubeObject[]): string =>
  objects.map((o) => stringify(o, { lineWidth: 0 })).join('---\n');

const applyStep = (
  name: string,
  phase: Phase,
  objects: readonly KubeObject[],
  extra: Partial<Extract<PlanStep, { kind: 'kubectl' }>> = {},
): PlanStep => ({
  kind: 'kubectl',
  name,
  phase,
  argv: ['kubectl', 'apply', '-f', '-'],
  stdin: { objects: objects.map(objectId), yaml: toYaml(objects) },
  ...extra,
});

export interface DeployInput {
  readonly environment: EnvironmentDefinition;
  readonly image: string;
  readonly version: string;
  /** `kubectl kustomize k8s/overlays/<env>` output, parsed. */
  readonly manifests: readonly KubeObject[];
  /** The service's public URL for smoke test and gate (defaults to the environment's url). */
  readonly baseUrl?: string;
  readonly skipGate?: boolean;
  /** The newest migration of the deployed tree: what the backup precedes (unknown = the backup judge refuses). */
  readonly precedes?: string;
  /** Where the environment takes backups but this deploy applies no migration: why it takes none (backup/need.ts). */
  readonly skipBackup?: string;
  /** Where the gate compares against a baseline: the image to start as one, or why there is none. */
  readonly baseline?:
    { readonly image: string; readonly version: string; readonly served: string } | { readonly unavailable: string };
}

const WORKLOAD_KINDS = new Set(['Deployment', 'HorizontalPodAutoscaler']);

/**
 * checklist → current image → config (everything but workloads) → migration Job → workloads →
 * rollout status → smoke → latency gate. Migrations run before the new pods, against the old ones,
 * so they must stay backward compatible (expand, then contract in a later release).
 */
export function planDeploy(input: DeployInput): Plan {
  const { environment: env, image, version } = input;
  const ns = env.namespace;
  const objects = withVersion(withImage(input.manifests, image, `kgraph-ci deploy ${version} (${image})`), version);
  const deployment = objects.filter((o) => o.kind === 'Deployment' && o.metadata?.name === DEPLOYMENT_NAME);
  const job = objects.filter((o) => o.kind === 'Job' && o.metadata?.name === MIGRATE_JOB_NAME);
  if (deployment.length !== 1) throw new Error(`rendered ${overlayDir(env.name)} has no Deployment/${DEPLOYMENT_NAME}`);
  if (job.length !== 1) throw new Error(`rendered ${overlayDir(env.name)} has no Job/${MIGRATE_JOB_NAME}`);
  const foreignNs = objects.filter((o) => o.kind !== 'Namespace' && o.metadata?.namespace !== ns);
  if (foreignNs.length)
    throw new Error(
      `rendered ${overlayDir(env.name)} puts ${foreignNs.map(objectId).join(', ')} outside namespace ${ns}`,
    );
  const config = objects.filter((o) => !WORKLOAD_KINDS.has(o.kind) && o.kind !== 'Job');
  const workloads = objects.filter((o) => WORKLOAD_KINDS.has(o.kind));
  const baseUrl = input.baseUrl ?? env.url;
  const gate = input.skipGate ? { steps: [], cleanup: [] } : gateSteps(input, baseUrl);
  const steps: PlanStep[] = [
    { kind: 'checklist', name: 'checklist', phase: 'precheck' },
    { kind: 'migrations-check', name: 'migrations-check', phase: 'precheck' },
    { kind: 'kubectl', name: 'current-image', phase: 'precheck', argv: currentImageArgv(ns), optional: true },
    applyStep('apply-config', 'migrate', config),
    ...backupSteps(input, objects),
    {
      kind: 'kubectl',
      name: 'delete-old-migration',
      phase: 'migrate',
      argv: kubectl(ns, 'delete', `job/${MIGRATE_JOB_NAME}`, '--ignore-not-found', '--wait=true'),
    },
    applyStep('apply-migration', 'migrate', job),
    {
      kind: 'kubectl',
      name: 'wait-migration',
      phase: 'migrate',
      argv: kubectl(
        ns,
        'wait',
        '--for=condition=complete',
        `job/${MIGRATE_JOB_NAME}`,
        `--timeout=${MIGRATE_TIMEOUT_SECONDS}s`,
      ),
      timeoutMs: (MIGRATE_TIMEOUT_SECONDS + 30) * 1000,
    },
    applyStep('apply-workload', 'rollout', workloads, { changesWorkload: true }),
    rolloutStatus(ns),
    { kind: 'smoke', name: 'smoke', phase: 'verify', baseUrl },
    ...gate.steps,
  ];
  return {
    operation: 'deploy',
    environment: env.name,
    namespace: ns,
    image,
    version,
    steps,
    onFailure: undoSteps(ns),
    ...(gate.cleanup.length ? { cleanup: gate.cleanup } : {}),
  };
}

/**
 * Where the environment's database policy takes backups (prod): the backup Job (with the migration it
 * precedes), its completion, then the judge over the manifest it printed. Before the migration Job, so a
 * backup that cannot be written stops the deploy before anything is migrated.
 */
function backupSteps(input: DeployInput, objects: readonly KubeObject[]): PlanStep[] {
  const env = input.environment;
  if (!env.database.backup || input.skipBackup) return [];
  const ns = env.namespace;
  const job = objects.find((o) => o.kind === 'Job' && o.metadata?.name === BACKUP_JOB_NAME);
  if (!job)
    throw new Error(`rendered ${overlayDir(env.name)} has no Job/${BACKUP_JOB_NAME}, and ${env.name} takes backups`);
  const withPrecedes = structuredClone(job) as KubeObject;
  for (const c of podSpecOf(withPrecedes)?.containers ?? []) {
    const vars = ((c as { env?: { name: string; value?: string }[] }).env ??= []);
    const v = vars.find((e) => e.name === BACKUP_PRECEDES_VAR);
    if (v) v.value = input.precedes ?? '';
  }
  return [
    {
      kind: 'kubectl',
      name: 'delete-old-backup',
      phase: 'migrate',
      argv: kubectl(ns, 'delete', `job/${BACKUP_JOB_NAME}`, '--ignore-not-found', '--wait=true'),
    },
    applyStep('apply-backup', 'migrate', [withPrecedes]),
    {
      kind: 'kubectl',
      name: 'wait-backup',
      phase: 'migrate',
      argv: kubectl(
        ns,
        'wait',
        '--for=condition=complete',
        `job/${BACKUP_JOB_NAME}`,
        `--timeout=${BACKUP_TIMEOUT_SECONDS}s`,
      ),
      timeoutMs: (BACKUP_TIMEOUT_SECONDS + 30) * 1000,
    },
    {
      kind: 'backup',
      name: 'backup-verdict',
      phase: 'migrate',
      job: BACKUP_JOB_NAME,
      ...(input.precedes ? { precedes: input.precedes } : {}),
    },
  ];
}

/**
 * The latency gate; where the environment compares against a baseline, the baseline Deployment first (in
 * this namespace, the baseline environment's digest), the gate against both in-cluster Services, and the
 * baseline's removal as cleanup (also when the gate or anything before it fails).
 */
function gateSteps(input: DeployInput, baseUrl: string): { steps: PlanStep[]; cleanup: PlanStep[] } {
  const env = input.environment;
  const ns = env.namespace;
  const b = input.baseline;
  if (!b) return { steps: [{ kind: 'gate', name: 'latency-gate', phase: 'verify', baseUrl }], cleanup: [] };
  if ('unavailable' in b)
    return {
      steps: [
        { kind: 'gate', name: 'latency-gate', phase: 'verify', baseUrl, baseline: { unavailable: b.unavailable } },
      ],
      cleanup: [],
    };
  // APP_VERSION too: the baseline's pods say they run the baseline environment's release.
  const objects = baselineObjects(withVersion(input.manifests, b.version), env, b.image);
  return {
    steps: [
      applyStep('apply-baseline', 'verify', objects),
      rolloutStatus(ns, 'baseline-status', BASELINE_NAME),
      {
        kind: 'gate',
        name: 'latency-gate',
        phase: 'verify',
        baseUrl: inClusterUrl(DEPLOYMENT_NAME, ns),
        baseline: { baseUrl: inClusterUrl(BASELINE_NAME, ns), served: b.served },
      },
    ],
    cleanup: [
      {
        kind: 'kubectl',
        name: 'delete-baseline',
        phase: 'verify',
        argv: kubectl(
          ns,
          'delete',
          `deployment/${BASELINE_NAME}`,
          `service/${BASELINE_NAME}`,
          `networkpolicy/${BASELINE_NAME}`,
          '--ignore-not-found',
        ),
      },
    ],
  };
}

export interface RollbackInput {
  readonly environment: EnvironmentDefinition;
  /** Roll forward to this image (a released version); absent = the previous revision. */
  readonly image?: string;
  readonly version?: string;
  readonly baseUrl?: string;
}

/** `rollout undo` (previous revision) or `set image` to a released version, then wait and smoke-test. */
export function planRollback(input: RollbackInput): Plan {
  const { environment: env } = input;
  const ns = env.namespace;
  const change: PlanStep[] = input.image
    ? [
        {
          kind: 'kubectl',
          name: 'set-image',
          phase: 'rollout',
          argv: kubectl(
            ns,
            'patch',
            `deployment/${DEPLOYMENT_NAME}`,
            '--type=strategic',
            '-p',
            setImageAndVersion(input.image, input.version ?? input.image),
          ),
          changesWorkload: true,
        },
        {
          kind: 'kubectl',
          name: 'annotate',
          phase: 'rollout',
          argv: kubectl(
            ns,
            'annotate',
            '--overwrite',
            `deployment/${DEPLOYMENT_NAME}`,
            `${CHANGE_CAUSE}=kgraph-ci rollback to ${input.version ?? input.image}`,
          ),
        },
      ]
    : [
        {
          kind: 'kubectl',
          name: 'rollout-undo',
          phase: 'rollout',
          argv: kubectl(ns, 'rollout', 'undo', `deployment/${DEPLOYMENT_NAME}`),
          changesWorkload: true,
        },
      ];
  return {
    operation: 'rollback',
    environment: env.name,
    namespace: ns,
    ...(input.image ? { image: input.image } : {}),
    version: input.version ?? 'previous',
    steps: [
      { kind: 'kubectl', name: 'current-image', phase: 'precheck', argv: currentImageArgv(ns), optional: true },
      ...change,
      rolloutStatus(ns),
      { kind: 'smoke', name: 'smoke', phase: 'verify', baseUrl: input.baseUrl ?? env.url },
    ],
    // A failed rollback is not undone again: a person decides (the runbook in the README).
    onFailure: [],
  };
}

/** The plan as people read it (--dry-run, logs): one numbered line per step. */
export function formatPlan(plan: Plan, format: (argv: readonly string[]) => string): string {
  const line = (s: PlanStep): string => {
    switch (s.kind) {
      case 'checklist':
        return `run the pre-deployment checklist for ${plan.environment}`;
      case 'migrations-check':
        return `kgraph-ci migrations check --env ${plan.environment} (refused = stop here)`;
      case 'backup':
        return `judge the ${s.job} manifest: fresh, verified, taken before ${s.precedes ?? '(unknown migration: refuses)'}; record it in the ledger`;
      case 'smoke':
        return `smoke-test ${s.baseUrl} (/healthz, /readyz, /metrics, /api/v1/tools)`;
      case 'gate':
        return `latency gate against ${s.baseUrl}${s.baseline ? ('unavailable' in s.baseline ? ` (no baseline: ${s.baseline.unavailable})` : `, baseline ${s.baseline.served} at ${s.baseline.baseUrl} in alternating rounds`) : ''}`;
      case 'kubectl':
        return `${format(s.argv)}${s.stdin ? `  < ${s.stdin.objects.join(', ')}` : ''}`;
    }
  };
  const head = `${plan.operation} ${plan.version}${plan.image ? ` (${plan.image})` : ''} to ${plan.environment} (namespace ${plan.namespace})`;
  const steps = plan.steps.map((s, i) => `${String(i + 1).padStart(2)}. [${s.name}] ${line(s)}`);
  const undo = plan.onFailure.length
    ? ['on failure after the workload changed:', ...plan.onFailure.map((s) => `    [${s.name}] ${line(s)}`)]
    : [];
  const cleanup = plan.cleanup?.length
    ? ['always, at the end:', ...plan.cleanup.map((s) => `    [${s.name}] ${line(s)}`)]
    : [];
  return [head, ...steps, ...undo, ...cleanup].join('\n');
}
