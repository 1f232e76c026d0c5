/**
 * The pipeline reference in docs/reference/: the step table, the environments and the release policy, rendered
 * from ci/src/definitions/steps.ts and ci/src/definitions/environments.ts. Generated, never hand-edited: the docs cannot drift from the
 * data the pipeline runs on, and tests check these tables through `generate --check` instead of asserting prose.
 */
import { ENVIRONMENTS, ENVIRONMENT_NAMES, type EnvironmentDefinition } from '../../definitions/environments.js';
import { STEPS, STEP_NAMES, type StepDefinition } from '../../definitions/steps.js';

export const REFERENCE_DIR = 'docs/reference';

const HEADER = (source: string): string =>
  `<!-- Generated from ${source} by \`npx kgraph-ci generate\`; \`generate --check\` fails when it differs. Do not edit. -->\n`;

const code = (s: string): string => `\`${s}\``;
const list = (items: readonly string[], empty = '-'): string => (items.length ? items.map(code).join(', ') : empty);
const cell = (s: string): string => s.replaceAll('|', '\\|').replaceAll('\n', ' ');

function table(head: readonly string[], rows: readonly (readonly string[])[]): string {
  const line = (r: readonly string[]): string => `| ${r.map(cell).join(' | ')} |`;
  return [line(head), line(head.map(() => '---')), ...rows.map(line)].join('\n');
}

function stepRow(s: StepDefinition): string[] {
  return [
    code(s.name),
    code(s.cliName),
    s.kind,
    s.inAll ? 'yes' : 'no',
    list(s.dependsOn),
    list(s.services),
    `${s.timeoutSeconds} s`,
    s.description,
  ];
}

function cacheRow(s: StepDefinition): string[] {
  if (s.cache.mode === 'never') return [code(s.name), 'never', s.cache.reason, '-', '-'];
  return [code(s.name), 'yes', list(s.cache.files), list(s.cache.env), list(s.cache.outputs)];
}

export function renderStepsReference(): string {
  const steps = STEP_NAMES.map((n) => STEPS[n]);
  return [
    HEADER('ci/src/definitions/steps.ts'),
    '# Steps',
    '',
    'Every step of the pipeline, defined once in `ci/src/definitions/steps.ts`. `kgraph-ci run <step>` runs it on the host,',
    'the Dagger module runs the same command in a container, and the workflows only call the module.',
    '',
    table(
      ['step', 'CLI / Dagger name', 'kind', 'in `run all`', 'depends on', 'services', 'timeout', 'what it does'],
      steps.map(stepRow),
    ),
    '',
    '## What the runner caches',
    '',
    'A cached step is replayed when the files its globs match, the env values it names, the Node version, the',
    'installed packages and its own definition hash the same; `never` says why its result depends on the world.',
    '',
    table(['step', 'cached?', 'inputs (globs, last match wins) / reason', 'env', 'outputs'], steps.map(cacheRow)),
    '',
  ].join('\n');
}

function environmentRow(e: EnvironmentDefinition): string[] {
  const trigger =
    e.trigger.kind === 'branch'
      ? `push to ${code(e.trigger.pattern)}`
      : `tag ${code(e.trigger.pattern)} reachable from ${code(e.trigger.reachableFrom)}`;
  const scale = e.autoscale
    ? `${e.replicas}-${e.autoscale.maxReplicas} (CPU ${e.autoscale.targetCpuPercent}%)`
    : `${e.replicas}`;
  return [code(e.name), trigger, code(e.namespace), scale, e.logLevel, e.debug ? 'on' : 'off', `${e.seedCount}`];
}

function gateRow(e: EnvironmentDefinition): string[] {
  const g = e.latencyGate;
  const pct = (x: number): string => `+${Math.round(x * 100)}%`;
  return [
    code(e.name),
    `${g.requestsPerSecond} req/s`,
    `${g.warmupSeconds} + ${g.durationSeconds} s`,
    `p50 < ${g.thresholds.apiP50Ms} ms`,
    `p95 < ${g.thresholds.graphP95Ms} ms`,
    `< ${g.thresholds.maxErrorRate * 100}%`,
    `p50 ${pct(g.regression.p50)}, p95 ${pct(g.regression.p95)} (${g.regression.confidence * 100}% CI, ${g.regression.rounds} rounds)`,
    `${g.maxConcurrency}`,
  ];
}

function rollbackRow(e: EnvironmentDefinition): string[] {
  const r = e.rollback;
  return [
    code(e.name),
    `${r.consecutiveHealthFailures} in a row`,
    `> ${r.errorRate.above * 100}% for ${r.errorRate.sustainedSeconds} s`,
    `> ${r.p95.aboveMs} ms for ${r.p95.sustainedSeconds} s`,
    `${r.minRequestsPerWindow} per ${r.rateWindowSeconds} s`,
    `${r.pollSeconds} s`,
  ];
}

export function renderEnvironmentsReference(): string {
  const envs = ENVIRONMENT_NAMES.map((n) => ENVIRONMENTS[n]);
  return [
    HEADER('ci/src/definitions/environments.ts'),
    '# Environments',
    '',
    'Defined once in `ci/src/definitions/environments.ts`; the Kubernetes overlays, the alert rules, the gate, the watcher and',
    'the Dagger module read them from there.',
    '',
    table(
      ['environment', 'deployed on', 'namespace', 'replicas', 'log level', 'debug', 'seeded tools'],
      envs.map(environmentRow),
    ),
    '',
    '## Latency gate',
    '',
    "Open model: a fixed request rate per route, latency counted from each request's intended send time.",
    '',
    table(
      [
        'environment',
        'rate',
        'warm-up + measured',
        'API routes',
        'graph routes',
        'errors',
        'regression allowed',
        'max in flight',
      ],
      envs.map(gateRow),
    ),
    '',
    '## Rollback triggers (the watcher and the Prometheus alert rules)',
    '',
    table(['environment', 'health checks failed', 'error rate', 'p95', 'no data below', 'poll'], envs.map(rollbackRow)),
    '',
  ].join('\n');
}

function policyRow(e: EnvironmentDefinition): string[] {
  const p = e.release;
  const promo = p.promotion ? `from ${p.promotion.from}, same tree, soaked ${p.promotion.soakMinutes} min` : '—';
  return [
    e.name,
    p.imageRepository,
    p.reference.join(', '),
    `${p.approvals}`,
    p.baselineComparisonRequired ? 'required' : 'not required',
    p.skippedAuditAcceptable ? 'accepted' : 'refused',
    promo,
    p.ledgerRequired ? 'required' : 'best effort',
  ];
}

export function renderPolicyReference(): string {
  return [
    HEADER('ci/src/definitions/environments.ts (release)'),
    '# Release policy',
    '',
    'Which images may run in each environment and what must have happened first. One pure function,',
    '`decideEligibility()` in `ci/src/definitions/release-policy.ts`, decides from this data; every deploy path asks it',
    'before any kubectl call.',
    '',
    table(
      [
        'environment',
        'image repository',
        'reference must be',
        'approvals',
        'baseline comparison',
        'skipped audit',
        'promotion',
        'ledger',
      ],
      ENVIRONMENT_NAMES.map((n) => policyRow(ENVIRONMENTS[n])),
    ),
    '',
    '- `pinned-tag`: any tag but `latest`, or a digest. `digest`: `@sha256:<64 hex>`. `release-tag`: a final `vX.Y.Z`',
    '  (no prerelease) whose tag is on main.',
    '',
  ].join('\n');
}

/** path -> content of every reference page. */
export function referenceDocs(): [string, string][] {
  return [
    [`${REFERENCE_DIR}/steps.md`, renderStepsReference()],
    [`${REFERENCE_DIR}/environments.md`, renderEnvironmentsReference()],
    [`${REFERENCE_DIR}/policy.md`, renderPolicyReference()],
  ];
}
