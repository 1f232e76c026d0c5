/**
 * The three environments as one typed definition. Kubernetes overlays, workflows, the latency gate,
 * the rollback watcher and the Prometheus alert rules all read from here.
 */
import { UsageError } from './errors.js';
import type { ReleasePolicy } from './release-policy.js';

export type { ReleasePolicy, ReferenceKind } from './release-policy.js';

export const ENVIRONMENT_NAMES = ['dev', 'staging', 'prod'] as const;
export type EnvironmentName = (typeof ENVIRONMENT_NAMES)[number];

export type Trigger =
  | { readonly kind: 'branch'; readonly pattern: string }
  | { readonly kind: 'tag'; readonly pattern: string; readonly reachableFrom: string };

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal';

/** A route the latency gate drives on its own; `class` picks which thresholds hold for it. */
export interface LatencyScenario {
  readonly name: 'search' | 'getTool' | 'plan';
  readonly class: 'api' | 'graph';
  readonly method: 'GET' | 'POST';
  /** Path on the service; `{toolId}` is filled with a tool id discovered before the run. */
  readonly path: string;
  readonly body?: unknown;
}

export interface LatencyThresholds {
  /** Every route: p50 strictly below this. */
  readonly apiP50Ms: number;
  /** Graph routes (planning, neighbourhood): p95 strictly below this. */
  readonly graphP95Ms: number;
  /** Every route: errors / requests strictly below this ratio. */
  readonly maxErrorRate: number;
}

/** How much slower than the baseline (the release it replaces) a candidate may be, per percentile. */
export interface LatencyRegressionAllowance {
  /** Allowed p50 ratio above 1 (0.1 = candidate p50 up to 1.1x the baseline's). */
  readonly p50: number;
  readonly p95: number;
  /** Two-sided confidence of the bootstrap interval; fail only when its lower end is above the allowance. */
  readonly confidence: number;
  /** Baseline and candidate alternate in this many rounds each (ABBA order), at the same rate. */
  readonly rounds: number;
  /** Bootstrap block length: nearby requests share stalls, so whole blocks are resampled. */
  readonly blockSeconds: number;
}

export interface LatencyGateConfig {
  readonly thresholds: LatencyThresholds;
  /** Fixed request rate per scenario (open model: sends follow the clock, not the responses). */
  readonly requestsPerSecond: number;
  readonly warmupSeconds: number;
  /** Measured seconds per route and side (split into `regression.rounds` rounds with a baseline). */
  readonly durationSeconds: number;
  /** Most requests in flight at once; a request due beyond it waits in the client and saturates it. */
  readonly maxConcurrency: number;
  /** A send later than this after its intended time counts as late. */
  readonly lateSendToleranceMs: number;
  /** More late sends than this share (or any request held back by the cap) = client saturated = inconclusive. */
  readonly maxLateSendRatio: number;
  /** Per request; an unanswered request counts as a timeout (an error, its latency kept). */
  readonly requestTimeoutMs: number;
  /** Fewer responses than this share of the requested rate = inconclusive. */
  readonly minAchievedRateRatio: number;
  /** A percentile is judged only with at least this many samples above it (p95: 20 / 0.05 = 400 samples). */
  readonly minTailSamples: number;
  readonly regression: LatencyRegressionAllowance;
  readonly scenarios: readonly LatencyScenario[];
}

export interface RollbackTriggers {
  /** Consecutive failed health checks that fire a rollback. */
  readonly consecutiveHealthFailures: number;
  readonly errorRate: { readonly above: number; readonly sustainedSeconds: number };
  readonly p95: { readonly aboveMs: number; readonly sustainedSeconds: number };
  /** Below this many requests in a window the window is "no data", never "healthy". */
  readonly minRequestsPerWindow: number;
  readonly pollSeconds: number;
  /** Error rate and p95 are measured over this trailing window (the `[1m]` of the alert rules); must hold for `sustainedSeconds`. */
  readonly rateWindowSeconds: number;
}

/** Where pre-migration backups go: a PersistentVolumeClaim the backup Job mounts (k8s/overlays/<env>). */
export interface BackupStorage {
  readonly kind: 'volume';
  readonly claimName: string;
  readonly mountPath: string;
  /** Requested size of the claim. */
  readonly size: string;
}

/** What a migration may do to this environment's database, and the backup taken before it (docs/migrations.md). */
export interface DatabasePolicy {
  /**
   * A statement that blocks reads or writes for work proportional to a table's size (a plain CREATE INDEX,
   * a validating constraint, a rewrite, a one-statement backfill) on a table above either limit.
   */
  readonly lockTakingLimit: { readonly rows: number; readonly bytes: number };
  /** Over the limit (or with the size unknown): refuse the migration; otherwise warn. */
  readonly refuseOverLimit: boolean;
  /** A pg_dump before every migration that has something to apply; absent = none. */
  readonly backup?: {
    readonly storage: BackupStorage;
    /**
     * The image of the backup Job (k8s/overlays/<env>/backup-job.yaml): PostgreSQL's own, whose pg_dump and
     * pg_restore match the server's major version (15); pinned, as every image the overlays name.
     */
    readonly jobImage: string;
    /** A backup older than this does not count as taken before the migration. */
    readonly maxAgeMinutes: number;
    /** How many backups the storage keeps (oldest removed first). */
    readonly keep: number;
  };
}

export interface EnvironmentDefinition {
  readonly name: EnvironmentName;
  readonly description: string;
  readonly trigger: Trigger;
  readonly url: string;
  readonly namespace: string;
  readonly replicas: number;
  readonly logLevel: LogLevel;
  readonly debug: boolean;
  /** Seed the database with generated test data after migrating (count of tools; 0 = never). */
  readonly seedCount: number;
  /** Which images may run here and what must have happened first (decided by release-policy.ts). */
  readonly release: ReleasePolicy;
  /** Plain configuration the service needs (names only). */
  readonly requiredEnv: readonly string[];
  /** Secret names the deploy needs present; values are never read into logs or reports. */
  readonly requiredSecrets: readonly string[];
  readonly latencyGate: LatencyGateConfig;
  readonly rollback: RollbackTriggers;
  readonly database: DatabasePolicy;
  /**
   * The Statuspage component this environment is shown as, by the name of the variable holding its id: a
   * deploy here opens a maintenance on it, an automatic rollback an incident. Absent = not on the status page
   * (a deploy to dev or staging never mutes or alarms anyone).
   */
  readonly statusPage?: { readonly componentIdVariable: string };
  /** A HorizontalPodAutoscaler from `replicas` up to `maxReplicas` (k8s overlays); absent = fixed replicas. */
  readonly autoscale?: { readonly maxReplicas: number; readonly targetCpuPercent: number };
}

const SCENARIOS: readonly LatencyScenario[] = [
  { name: 'search', class: 'api', method: 'GET', path: '/api/v1/tools?q=github%20issue&limit=20' },
  { name: 'getTool', class: 'api', method: 'GET', path: '/api/v1/tools/{toolId}' },
  {
    name: 'plan',
    class: 'graph',
    method: 'POST',
    path: '/api/v1/plan',
    body: { goal: 'open a github issue from a failing test report' },
  },
];

const THRESHOLDS: LatencyThresholds = { apiP50Ms: 100, graphP95Ms: 500, maxErrorRate: 0.001 };

const ROLLBACK: RollbackTriggers = {
  consecutiveHealthFailures: 3,
  errorRate: { above: 0.05, sustainedSeconds: 5 * 60 },
  p95: { aboveMs: 2000, sustainedSeconds: 10 * 60 },
  minRequestsPerWindow: 100,
  pollSeconds: 15,
  rateWindowSeconds: 60,
};

/** 1M rows or 1 GiB: a plain index build or full scan there takes long enough to be felt as an outage. */
const LOCK_TAKING_LIMIT = { rows: 1_000_000, bytes: 1 << 30 };

const gate = (
  requestsPerSecond: number,
  durationSeconds: number,
  allowed: { p50: number; p95: number },
): LatencyGateConfig => ({
  thresholds: THRESHOLDS,
  requestsPerSecond,
  warmupSeconds: 3,
  durationSeconds,
  maxConcurrency: 256,
  lateSendToleranceMs: 20,
  maxLateSendRatio: 0.01,
  requestTimeoutMs: 10_000,
  minAchievedRateRatio: 0.9,
  minTailSamples: 20,
  regression: { ...allowed, confidence: 0.95, rounds: 4, blockSeconds: 1 },
  scenarios: SCENARIOS,
});

/** One lane of the release train: a weekday, every N weeks counted from an anchor date (itself such a day). */
export interface TrainLane {
  readonly weekday: 'sunday' | 'monday' | 'tuesday' | 'wednesday' | 'thursday' | 'friday' | 'saturday';
  readonly everyWeeks: number;
  /** YYYY-MM-DD, a `weekday`: the first train of the series (fortnights are counted from here). */
  readonly anchor: string;
  /** What the lane does on its day. */
  readonly action: string;
  /**
   * What a train on this lane would ship: `develop`, the commits on develop that main lacks (a cut);
   * `release-branch`, the newest release/* branch's commits since the last v* tag (a release).
   */
  readonly ships: 'develop' | 'release-branch';
}

/**
 * The release schedule as data (decided by ci/src/deliver/release/train.ts): staging's cut every Wednesday, prod's
 * release every other Friday. A slot on a holiday or weekend moves to the next working day; a slot in a
 * freeze is skipped; a train with nothing new to ship cuts no branch.
 */
export interface ReleaseTrain {
  /** IANA zone the dates are read in. */
  readonly timeZone: string;
  readonly lanes: Readonly<Record<string, TrainLane>>;
  readonly freezes: readonly { readonly from: string; readonly to: string; readonly reason: string }[];
  readonly holidays: readonly { readonly date: string; readonly name: string }[];
}

export const RELEASE_TRAIN: ReleaseTrain = {
  timeZone: 'Europe/Berlin',
  lanes: {
    staging: {
      weekday: 'wednesday',
      everyWeeks: 1,
      anchor: '2026-01-07',
      action: 'cut release/<next minor> from develop (deploys to staging)',
      ships: 'develop',
    },
    prod: {
      weekday: 'friday',
      everyWeeks: 2,
      anchor: '2026-01-09',
      action: 'merge the release branch that passed staging to main and tag v<version> (deploys to prod)',
      ships: 'release-branch',
    },
  },
  freezes: [
    { from: '2026-12-18', to: '2027-01-06', reason: 'year-end freeze' },
    { from: '2027-12-17', to: '2028-01-05', reason: 'year-end freeze' },
  ],
  holidays: [
    { date: '2026-12-25', name: 'Christmas Day' },
    { date: '2027-01-01', name: "New Year's Day" },
    { date: '2027-03-26', name: 'Good Friday' },
    { date: '2027-03-29', name: 'Easter Monday' },
    { date: '2027-05-01', name: 'Labour Day' },
    { date: '2027-05-06', name: 'Ascension Day' },
    { date: '2027-05-17', name: 'Whit Monday' },
    { date: '2027-10-03', name: 'German Unity Day' },
    { date: '2027-12-25', name: 'Christmas Day' },
  ],
};

/** Also the `images:` newName in k8s/base/kustomization.yaml (a test keeps them equal). */
export const IMAGE_REPOSITORY = 'ghcr.io/kgraph-mcp/kgraph-mcp';

const SERVICE_ENV = ['APP_NAME', 'ENVIRONMENT', 'LOG_LEVEL', 'DEBUG'] as const;
const SERVICE_SECRETS = ['DATABASE_URL', 'REDIS_URL', 'API_KEYS'] as const;

const definitions: readonly EnvironmentDefinition[] = [
  {
    name: 'dev',
    description: 'Every push to develop; seeded with test data',
    trigger: { kind: 'branch', pattern: 'develop' },
    url: 'https://dev.kgraph-mcp.example.com',
    namespace: 'kgraph-dev',
    replicas: 1,
    logLevel: 'debug',
    debug: true,
    seedCount: 200,
    release: {
      imageRepository: IMAGE_REPOSITORY,
      reference: ['pinned-tag'],
      approvals: 0,
      baselineComparisonRequired: false,
      skippedAuditAcceptable: true,
      ledgerRequired: false,
      production: false,
    },
    requiredEnv: SERVICE_ENV,
    requiredSecrets: SERVICE_SECRETS,
    latencyGate: gate(50, 10, { p50: 0.2, p95: 0.5 }),
    rollback: ROLLBACK,
    database: { lockTakingLimit: LOCK_TAKING_LIMIT, refuseOverLimit: false },
  },
  {
    name: 'staging',
    description: 'Every push to release/*; production-like, gated on latency',
    trigger: { kind: 'branch', pattern: 'release/*' },
    url: 'https://staging.kgraph-mcp.example.com',
    namespace: 'kgraph-staging',
    replicas: 2,
    logLevel: 'info',
    debug: false,
    seedCount: 0,
    release: {
      imageRepository: IMAGE_REPOSITORY,
      // The image built once for the commit, by digest: what passes here is what prod gets.
      reference: ['digest'],
      approvals: 0,
      baselineComparisonRequired: false,
      skippedAuditAcceptable: true,
      ledgerRequired: false,
      production: false,
    },
    requiredEnv: SERVICE_ENV,
    requiredSecrets: SERVICE_SECRETS,
    latencyGate: gate(100, 20, { p50: 0.1, p95: 0.25 }),
    rollback: ROLLBACK,
    database: { lockTakingLimit: LOCK_TAKING_LIMIT, refuseOverLimit: false },
  },
  {
    name: 'prod',
    description: 'v* tags cut from main; required reviewers, watched and rolled back automatically',
    trigger: { kind: 'tag', pattern: 'v*', reachableFrom: 'main' },
    url: 'https://kgraph-mcp.example.com',
    namespace: 'kgraph-prod',
    replicas: 3,
    logLevel: 'warn',
    debug: false,
    seedCount: 0,
    release: {
      imageRepository: IMAGE_REPOSITORY,
      reference: ['digest', 'release-tag'],
      approvals: 1,
      baselineComparisonRequired: true,
      skippedAuditAcceptable: false,
      // The digest that passed staging for the same source tree, after a soak there.
      promotion: { from: 'staging', soakMinutes: 10 },
      // No record, no prod deploy: the ledger is how rollbacks and the delivery report find it.
      ledgerRequired: true,
      // Going back to the previous revision is the emergency exit: it is never blocked on the ledger.
      unrecordedAllowed: ['rollback-to-previous'],
      // What runs here must have served the candidate's schema beside it (kgraph-ci migrations compat).
      previousReleaseChecked: true,
      production: true,
    },
    requiredEnv: SERVICE_ENV,
    requiredSecrets: [...SERVICE_SECRETS, 'SENTRY_DSN'],
    latencyGate: gate(100, 30, { p50: 0.1, p95: 0.25 }),
    rollback: ROLLBACK,
    database: {
      lockTakingLimit: LOCK_TAKING_LIMIT,
      refuseOverLimit: true,
      backup: {
        storage: { kind: 'volume', claimName: 'kgraph-mcp-backups', mountPath: '/backups', size: '50Gi' },
        jobImage: 'docker.io/library/postgres:15.10-bookworm',
        maxAgeMinutes: 30,
        keep: 14,
      },
    },
    statusPage: { componentIdVariable: 'STATUSPAGE_PROD_COMPONENT_ID' },
    autoscale: { maxReplicas: 10, targetCpuPercent: 70 },
  },
];

export const ENVIRONMENTS: Readonly<Record<EnvironmentName, EnvironmentDefinition>> = Object.freeze(
  Object.fromEntries(definitions.map((d) => [d.name, d])) as Record<EnvironmentName, EnvironmentDefinition>,
);

export function isEnvironmentName(value: string): value is EnvironmentName {
  return (ENVIRONMENT_NAMES as readonly string[]).includes(value);
}

/** The environment, or a usage error (exit 2) that lists the valid names. */
export function getEnvironment(name: string): EnvironmentDefinition {
  if (!isEnvironmentName(name)) {
    throw new UsageError(`unknown environment "${name}": expected one of ${ENVIRONMENT_NAMES.join(', ')}`);
  }
  return ENVIRONMENTS[name];
}

/**
 * The environment whose running release (read from its delivery ledger, never by calling it) a gate in `name`
 * must be compared against: the one that promotes from `name` and requires the baseline comparison (staging's
 * gate compares against the release prod runs). The deploy starts that release as a temporary baseline
 * Deployment in `name`'s own namespace (ci/src/deliver/deploy/baseline.ts); nothing is ever sent to prod. Undefined
 * when no environment asks for it.
 */
export function baselineEnvironmentFor(name: EnvironmentName): EnvironmentDefinition | undefined {
  return ENVIRONMENT_NAMES.map((n) => ENVIRONMENTS[n]).find(
    (e) => e.release.promotion?.from === name && e.release.baselineComparisonRequired,
  );
}

/** A workflow that may stand behind a ledger record: its file, and the refs it may run on (`release/*`: a prefix). */
export interface LedgerRunRule {
  readonly workflow: string;
  readonly refs: readonly string[];
  /** Believed only by a reader inside that very run (deploy-prod stages and then promotes in one run). */
  readonly ownRunOnly?: boolean;
}

/**
 * Who may write the delivery ledger on GitHub, and which workflow runs vouch for the records that are
 * evidence for a promotion (prod promotes what passed staging). See ci/src/platform/ledger/trust.ts.
 */
export const LEDGER_TRUST: {
  /** Deployment and status creators whose records and statuses count (the GitHub Actions app's GITHUB_TOKEN). */
  readonly writers: readonly string[];
  readonly runs: Readonly<Partial<Record<EnvironmentName, readonly LedgerRunRule[]>>>;
} = {
  writers: ['github-actions[bot]'],
  runs: {
    staging: [
      { workflow: '.github/workflows/deploy-staging.yml', refs: ['release/*'] },
      { workflow: '.github/workflows/hotfix.yml', refs: ['hotfix/*'] },
      { workflow: '.github/workflows/deploy-prod.yml', refs: ['v*'], ownRunOnly: true },
    ],
  },
};
