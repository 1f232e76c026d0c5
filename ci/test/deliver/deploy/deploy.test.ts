import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ENVIRONMENTS } from '../../../src/definitions/environments.js';
import { FailedError, UsageError } from '../../../src/definitions/errors.js';
import { REPO_ROOT } from '../../../src/platform/repo-root.js';
import { parseManifests } from '../../../src/platform/kube/validate.js';
import type { CommandResult, CommandSpec } from '../../../src/platform/kube/runner.js';
import { planDeploy, planRollback } from '../../../src/deliver/deploy/plan.js';
import type { ChecklistOutcome } from '../../../src/deliver/deploy/execute.js';
import { failed, passed } from '../../../src/definitions/verdict.js';
import { runDeploy, runRollback, type DeliveryDeps } from '../../../src/deliver/deploy/run.js';
import { githubSources } from '../../../src/deliver/deploy/sources.js';
import { createOctokit } from '../../../src/platform/github/client.js';
import { PAYLOAD_SCHEMA, type LedgerRecord } from '../../../src/platform/ledger/entry.js';
import { githubLedger } from '../../../src/platform/ledger/github.js';
import { fakeLedger, type FakeLedger } from '../../platform/github/fake-ledger.js';
import { startRecordingServer, type RecordingServer } from '../../../../testkit/recording-server.js';
import { createNotifier } from '../../../src/platform/notify/notifier.js';
import { backupId, MANIFEST_MARKER, type BackupManifest } from '../../../src/deliver/backup/manifest.js';

const root = REPO_ROOT;
const rendered = Object.fromEntries(
  (['dev', 'staging', 'prod'] as const).map((e) => [
    e,
    execFileSync('kubectl', ['kustomize', join(root, 'k8s/overlays', e)], { encoding: 'utf8' }),
  ]),
) as Record<string, string>;
const IMAGE = 'ghcr.io/kgraph-mcp/kgraph-mcp:v1.2.3';

export const D1 = `sha256:${'d1'.repeat(32)}`;
export const D0 = `sha256:${'d0'.repeat(32)}`;
const TREE = 'e'.repeat(40);
const SHA = 'c'.repeat(40);
const TOKEN = 'ghp_fake_token_never_printed_0123456789';
const IMAGE_D = `ghcr.io/kgraph-mcp/kgraph-mcp@${D1}`;
const T0 = Date.parse('2026-01-01T00:00:00Z');
/** The schema v1.2.2 (D0) left prod at, and the newest migration of the tree being deployed (D1's). */
const HEAD0 = '1764590000000_cache_generation';
const HEAD1 = '1800000000000_tools_homepage';

/** The log line the prod backup Job prints when it wrote a good backup at `at`, before `precedes`. */
function backupLogLine(at: number, over: Partial<BackupManifest> = {}): string {
  const m: BackupManifest = {
    id: backupId('prod', over.precedes ?? HEAD1, new Date(at)),
    environment: 'prod',
    source: 'db.internal:5432/kgraph',
    precedes: HEAD1,
    createdAt: new Date(at).toISOString(),
    format: 'custom',
    bytes: 2_621_440,
    sha256: 'ab'.repeat(32),
    verified: true,
    ...over,
  };
  return `pg_dump: done\n${MANIFEST_MARKER} ${JSON.stringify(m)}\n`;
}

let fake: FakeLedger | undefined;
afterEach(async () => {
  await fake?.close();
  fake = undefined;
});

/** The ledger as a staging deploy of D1 (tree TREE, gate with baseline) and a prod run of v1.2.2 (D0) left it. */
function seedLedger(f: FakeLedger, compatPassed = true) {
  const payload = (over: Record<string, unknown>) => ({
    schema: PAYLOAD_SCHEMA,
    environment: 'staging',
    digest: D1,
    tree: TREE,
    commit: SHA,
    version: 'staging-ccc',
    startedAt: '2025-12-31T21:55:00.000Z',
    auditSkipped: false,
    ...over,
  });
  const staged = f.seed({
    environment: 'staging',
    payload: payload({ operation: 'deploy' }),
    createdAt: '2025-12-31T21:55:00Z',
    statuses: [
      { state: 'in_progress', at: '2025-12-31T21:55:01Z' },
      { state: 'success', at: '2025-12-31T22:00:00Z' },
    ],
  });
  f.seed({
    environment: 'staging',
    task: 'kgraph-ci:gate',
    payload: payload({ operation: 'gate', of: String(staged.id), gate: { passed: true, baselineCompared: true } }),
    createdAt: '2025-12-31T22:00:00Z',
    statuses: [{ state: 'success', at: '2025-12-31T22:00:01Z' }],
  });
  f.seed({
    environment: 'prod',
    payload: payload({
      operation: 'promotion',
      environment: 'prod',
      digest: D0,
      version: 'v1.2.2',
      startedAt: '2025-12-20T10:00:00.000Z',
      schemaHead: HEAD0,
    }),
    createdAt: '2025-12-20T10:00:00Z',
    statuses: [{ state: 'success', at: '2025-12-20T10:04:00Z' }],
  });
  // v1.2.2 (D0, running in prod) served D1's schema beside it: prod's compatibility rule needs this record.
  f.seed({
    environment: 'prod',
    task: 'kgraph-ci:compat',
    payload: payload({
      operation: 'compat',
      environment: 'prod',
      compat: {
        previous: { digest: D0 },
        candidate: { digest: D1 },
        schemaHead: HEAD1,
        migrations: [HEAD1],
        passed: compatPassed,
      },
    }),
    createdAt: '2025-12-31T22:10:00Z',
    statuses: [{ state: 'success', at: '2025-12-31T22:20:00Z' }],
  });
}

/** A fake cluster (kubectl calls answered from a script) and a fake GitHub holding the ledger. */
async function harness(
  opts: {
    failOn?: string;
    currentImage?: string;
    checklistOk?: boolean;
    gateOk?: boolean;
    smokeOk?: boolean;
    onKubectl?: (line: string) => void;
    noLedger?: boolean;
    /** What `kubectl logs job/kgraph-mcp-backup` prints (default: a good backup taken now). */
    backupLog?: (now: number) => string;
    migrationsOk?: boolean;
    /** The deployed tree's migrations (default: up to HEAD1); null = cannot be listed. */
    migrations?: string[] | null;
    compatPassed?: boolean;
  } = {},
) {
  const calls: CommandSpec[] = [];
  const checklistSaw: unknown[] = [];
  const out: string[] = [];
  const err: string[] = [];
  const summaries: string[] = [];
  let clock = T0;
  fake = await fakeLedger({
    now: () => clock,
    commits: {
      'tags/v1.2.3': { sha: SHA, tree: TREE, date: '2025-12-31T12:00:00Z', onMain: true },
      'tags/v1.3.0': { sha: 'f'.repeat(40), tree: 'a'.repeat(40), date: '2025-12-31T12:00:00Z', onMain: true },
      'tags/v9.9.9': { sha: '9'.repeat(40), tree: TREE, date: '2025-12-31T12:00:00Z', onMain: false },
      'tags/v1.2.2': { sha: '2'.repeat(40), tree: 'b'.repeat(40), date: '2025-12-20T09:00:00Z', onMain: true },
    },
  });
  seedLedger(fake, opts.compatPassed);
  const octokit = createOctokit({ token: TOKEN, baseUrl: fake.url });
  const repo = { owner: 'acme', repo: 'kgraph' };
  const dir = mkdtempSync(join(tmpdir(), 'kgraph-deploy-'));
  const checklistAnswer: ChecklistOutcome = {
    ...(opts.checklistOk === false ? failed('secrets: DATABASE_URL missing') : passed('1 items')),
    items: [
      {
        name: 'secrets',
        required: true,
        ...(opts.checklistOk === false ? failed : passed)('DATABASE_URL missing'),
      },
    ],
  };
  const deps: DeliveryDeps = {
    runner: async (cmd): Promise<CommandResult> => {
      calls.push(cmd);
      clock += 1000;
      const line = cmd.argv.join(' ');
      if (cmd.argv[1] === 'kustomize')
        return { exitCode: 0, stdout: rendered[cmd.argv[2]!.split('/').pop()!]!, stderr: '' };
      opts.onKubectl?.(line);
      if (opts.failOn && line.includes(opts.failOn))
        return { exitCode: 1, stdout: '', stderr: `error: ${opts.failOn} went wrong` };
      if (line.includes('logs job/kgraph-mcp-backup'))
        return { exitCode: 0, stdout: (opts.backupLog ?? backupLogLine)(clock), stderr: '' };
      if (line.includes('jsonpath'))
        return { exitCode: 0, stdout: opts.currentImage ?? `ghcr.io/kgraph-mcp/kgraph-mcp@${D0}`, stderr: '' };
      return { exitCode: 0, stdout: 'ok\n', stderr: '' };
    },
    checklist: async (_env, deployment) => {
      checklistSaw.push(deployment);
      return checklistAnswer;
    },
    gate: async () => ({
      ...(opts.gateOk === false ? failed('search p50 140ms >= 100ms') : passed()),
      baselineCompared: true,
    }),
    smoke: async () => {
      const check = { name: 'readiness', ...(opts.smokeOk === false ? failed : passed)('GET /readyz: HTTP 503') };
      return { ...check, reasons: [`readiness: ${check.reasons[0]}`], results: [check] };
    },
    migrationsCheck: async (env) =>
      opts.migrationsOk === false
        ? failed(`REFUSE [lock-size] CREATE INDEX on tools (4M rows) in ${env.name}`)
        : passed('pass: 1 new migration(s)'),
    ...(opts.migrations === null ? {} : { migrations: async () => opts.migrations ?? [HEAD0, HEAD1] }),
    ...(opts.noLedger
      ? { ledgerMissing: 'no GitHub ledger: GITHUB_TOKEN is not set' }
      : { ledger: githubLedger(octokit, repo) }),
    sources: githubSources(octokit, repo),
    auditSkipped: async () => false,
    out: (l) => out.push(l),
    err: (l) => err.push(l),
    summary: async (md) => summaries.push(md),
    now: () => clock,
    cwd: dir,
    recordsDir: 'records',
    env: {},
  };
  const records = (): LedgerRecord[] =>
    readdirSync(join(dir, 'records'))
      .sort()
      .map((f) => JSON.parse(readFileSync(join(dir, 'records', f), 'utf8')) as LedgerRecord);
  const kubectlCalls = () => calls.filter((c) => c.argv[1] !== 'kustomize').map((c) => c.argv.join(' '));
  /** What this run added to the GitHub ledger. */
  const recorded = () => fake!.deployments.filter((d) => Date.parse(d.created_at) >= T0);
  return { deps, calls, checklistSaw, out, err, summaries, records, kubectlCalls, recorded, fake: fake! };
}

const NS = '--namespace kgraph-prod';
const BACKUP_CALLS = [
  `kubectl ${NS} delete job/kgraph-mcp-backup --ignore-not-found --wait=true`,
  'kubectl apply -f -',
  `kubectl ${NS} wait --for=condition=complete job/kgraph-mcp-backup --timeout=1800s`,
];
/** What the backup judge reads (a call of its own, not a plan step). */
const BACKUP_LOGS = `kubectl ${NS} logs job/kgraph-mcp-backup --tail=200`;
const EXPECTED_PROD_PLAN = [
  `kubectl ${NS} get deployment/kgraph-mcp --ignore-not-found -o jsonpath={.spec.template.spec.containers[?(@.name=="app")].image}`,
  'kubectl apply -f -',
  ...BACKUP_CALLS,
  `kubectl ${NS} delete job/kgraph-mcp-migrate --ignore-not-found --wait=true`,
  'kubectl apply -f -',
  `kubectl ${NS} wait --for=condition=complete job/kgraph-mcp-migrate --timeout=600s`,
  'kubectl apply -f -',
  `kubectl ${NS} rollout status deployment/kgraph-mcp --timeout=300s`,
];
const EXPECTED_PROD = [...EXPECTED_PROD_PLAN.slice(0, 5), BACKUP_LOGS, ...EXPECTED_PROD_PLAN.slice(5)];
const UNDO = [
  `kubectl ${NS} rollout undo deployment/kgraph-mcp`,
  `kubectl ${NS} rollout status deployment/kgraph-mcp --timeout=300s`,
];

describe('deploy plan', () => {
  const plan = planDeploy({
    environment: ENVIRONMENTS.prod,
    image: IMAGE,
    version: 'v1.2.3',
    manifests: parseManifests(rendered.prod!),
    precedes: HEAD1,
  });

  it('is checklist, migrations before the workload, rollout status, smoke, gate; undo on failure', () => {
    expect(plan.steps.map((s) => s.name)).toEqual([
      'checklist',
      'migrations-check',
      'current-image',
      'apply-config',
      'delete-old-backup',
      'apply-backup',
      'wait-backup',
      'backup-verdict',
      'delete-old-migration',
      'apply-migration',
      'wait-migration',
      'apply-workload',
      'rollout-status',
      'smoke',
      'latency-gate',
    ]);
    expect(plan.steps.flatMap((s) => (s.kind === 'kubectl' ? [s.argv.join(' ')] : []))).toEqual(EXPECTED_PROD_PLAN);
    expect(plan.onFailure.map((s) => (s.kind === 'kubectl' ? s.argv.join(' ') : s.name))).toEqual(UNDO);
  });

  it('sets the image on the Deployment and the migration Job and splits objects between the applies', () => {
    const stdin = (name: string) => {
      const s = plan.steps.find((x) => x.name === name);
      return s?.kind === 'kubectl' ? s.stdin! : undefined;
    };
    expect(stdin('apply-migration')!.objects).toEqual(['Job/kgraph-mcp-migrate']);
    expect(stdin('apply-workload')!.objects).toEqual(['Deployment/kgraph-mcp', 'HorizontalPodAutoscaler/kgraph-mcp']);
    expect(stdin('apply-config')!.objects).not.toContain('Deployment/kgraph-mcp');
    for (const step of ['apply-migration', 'apply-workload']) {
      const images = [...stdin(step)!.yaml.matchAll(/image: (\S+)/g)].map((m) => m[1]);
      expect(images.length).toBeGreaterThan(0);
      expect(new Set(images)).toEqual(new Set([IMAGE]));
    }
    expect(stdin('apply-workload')!.yaml).toContain('kubernetes.io/change-cause: kgraph-ci deploy v1.2.3');
  });

  it('sets APP_VERSION on the app container to the version shipped, replacing the rendered one (Sentry release, /version)', () => {
    const s = plan.steps.find((x) => x.name === 'apply-workload');
    const objs = parseManifests(s?.kind === 'kubectl' ? s.stdin!.yaml : '');
    const deployment = objs.find((o) => o.kind === 'Deployment') as unknown as {
      spec: { template: { spec: { containers: { name: string; env: { name: string; value?: string }[] }[] } } };
    };
    const env = deployment.spec.template.spec.containers.find((c) => c.name === 'app')!.env;
    expect(env.filter((e) => e.name === 'APP_VERSION')).toEqual([{ name: 'APP_VERSION', value: 'v1.2.3' }]);
    // The secrets stay references; only the version changed.
    expect(env.find((e) => e.name === 'DATABASE_URL')).toMatchObject({ valueFrom: { secretKeyRef: {} } });
    // What was rendered carried the base's value: replaced, not added beside it.
    expect(rendered.prod!).toMatch(/name: APP_VERSION\n\s+value: 0\.1\.0/);
  });

  it('rollback plans: undo by default, image and APP_VERSION in one patch for --to', () => {
    expect(
      planRollback({ environment: ENVIRONMENTS.staging }).steps.map((s) =>
        s.kind === 'kubectl' ? s.argv.slice(3).join(' ') : s.name,
      ),
    ).toEqual([
      'get deployment/kgraph-mcp --ignore-not-found -o jsonpath={.spec.template.spec.containers[?(@.name=="app")].image}',
      'rollout undo deployment/kgraph-mcp',
      'rollout status deployment/kgraph-mcp --timeout=300s',
      'smoke',
    ]);
    const to = planRollback({ environment: ENVIRONMENTS.prod, image: 'r/i:v1.2.2', version: 'v1.2.2' });
    const patch = to.steps.find((s) => s.name === 'set-image');
    const argv = patch?.kind === 'kubectl' ? patch.argv : [];
    expect(argv.slice(0, 6)).toEqual([
      'kubectl',
      '--namespace',
      'kgraph-prod',
      'patch',
      'deployment/kgraph-mcp',
      '--type=strategic',
    ]);
    expect(JSON.parse(argv.at(-1)!)).toEqual({
      spec: {
        template: {
          spec: {
            containers: [{ name: 'app', image: 'r/i:v1.2.2', env: [{ name: 'APP_VERSION', value: 'v1.2.2' }] }],
          },
        },
      },
    });
  });
});

describe('runDeploy: the release policy decides before any kubectl call', () => {
  it('prod --version alone promotes the digest that passed staging for the tag tree (dry-run: only kustomize, nothing recorded)', async () => {
    const h = await harness();
    await runDeploy({ env: 'prod', version: 'v1.2.3', dryRun: true }, h.deps);
    expect(h.calls.map((c) => c.argv.join(' '))).toEqual(['kubectl kustomize k8s/overlays/prod']);
    const printed = h.out.join('\n');
    expect(printed).toContain(`release policy for prod: ELIGIBLE: ${IMAGE_D}`);
    expect(printed).toMatch(/ok {3}promotion +passed staging at 2025-12-31T22:00:00Z from tree eeeeeeeeeeee/);
    expect(printed).toContain(`deploy v1.2.3 (${IMAGE_D}) to prod`);
    for (const line of EXPECTED_PROD_PLAN.slice(2)) expect(printed).toContain(line);
    expect(h.fake.seen.filter((r) => r.method !== 'GET')).toEqual([]);
  });

  it.each([
    ['an image from any registry', { image: 'ghcr.io/evil/other:1.0.0' }, 'repository'],
    ['a staging tag', { image: 'ghcr.io/kgraph-mcp/kgraph-mcp:staging-abc123' }, 'digest'],
    [
      'a digest that never passed staging',
      { image: `ghcr.io/kgraph-mcp/kgraph-mcp@sha256:${'7'.repeat(64)}`, version: 'v1.2.3' },
      'promotion',
    ],
    [
      'the staged digest under a tag of another tree (hotfix on main)',
      { image: IMAGE_D, version: 'v1.3.0' },
      'promotion',
    ],
    ['a tag that is not on main', { image: IMAGE_D, version: 'v9.9.9' }, 'on-main'],
    // Where the tag says what it is, a --tree/--commit flag cannot claim otherwise.
    [
      'a hotfix tag whose tree is spoofed by --tree to match the staged one',
      { image: IMAGE_D, version: 'v1.3.0', tree: TREE, commit: SHA },
      'promotion',
    ],
    ['a digest without a release version', { image: IMAGE_D }, 'release-tag'],
  ])('prod refuses %s: exit 1 naming the rule, nothing runs, nothing is recorded', async (_n, opts, rule) => {
    const h = await harness();
    const err = await runDeploy({ env: 'prod', ...opts }, h.deps).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FailedError);
    expect((err as Error).message).toContain(`rule "${rule}"`);
    expect(h.calls).toEqual([]);
    expect(h.recorded()).toEqual([]);
    expect(h.err.join('\n')).toContain('REFUSED');
  });

  it('prod refuses when GitHub (the ledger) is down, and without a ledger at all', async () => {
    const h = await harness();
    h.fake.down = true;
    // GitHub down: neither "on main" nor the ledger can be read; each refuses on its own.
    await expect(runDeploy({ env: 'prod', image: IMAGE_D, version: 'v1.2.3' }, h.deps)).rejects.toThrow(
      /rule "on-main": cannot tell whether v1.2.3 is on main/,
    );
    expect(h.err.join('\n')).toMatch(
      /FAIL ledger +the delivery ledger is unreachable \(GitHub acme\/kgraph: reading deployments .*503/,
    );
    // --version alone cannot even find the digest to promote: the missing digest follows from GitHub being down,
    // so a rule that reads GitHub leads, and the digest line says what it rests on.
    await expect(runDeploy({ env: 'prod', version: 'v1.2.3' }, h.deps)).rejects.toThrow(/rule "on-main"/);
    expect(h.err.join('\n')).toContain('no digest to promote for v1.2.3');
    expect(h.err.join('\n')).toMatch(
      /FAIL digest .*has none \(cannot tell: rests on rule "ledger", which did not pass\)/,
    );
    expect(h.calls).toEqual([]);
    const n = await harness({ noLedger: true });
    await expect(runDeploy({ env: 'prod', image: IMAGE_D, version: 'v1.2.3' }, n.deps)).rejects.toThrow(
      /rule "ledger".*GITHUB_TOKEN is not set/,
    );
    expect(n.calls).toEqual([]);
  });

  it('prod fails closed when GitHub takes reads but not the record: nothing changes in the cluster', async () => {
    const h = await harness();
    h.fake.failWrites = true;
    await expect(runDeploy({ env: 'prod', version: 'v1.2.3' }, h.deps)).rejects.toThrow(
      /never deployed unrecorded, nothing was changed/,
    );
    expect(h.kubectlCalls()).toEqual([]);
    expect(h.records()[0]).toMatchObject({ state: 'error', payload: { operation: 'promotion', environment: 'prod' } });
  });

  it('a good promotion runs the exact plan and records promotion, statuses and gate verdict with timings on GitHub', async () => {
    const h = await harness();
    await runDeploy({ env: 'prod', version: 'v1.2.3' }, h.deps);
    expect(h.kubectlCalls()).toEqual(EXPECTED_PROD);
    const [promo, backup, gate] = h.recorded();
    expect(promo).toMatchObject({
      environment: 'prod',
      task: 'kgraph-ci:promotion',
      ref: SHA,
      production_environment: true,
    });
    expect(promo!.payload).toMatchObject({
      schema: PAYLOAD_SCHEMA,
      operation: 'promotion',
      digest: D1,
      image: IMAGE_D,
      version: 'v1.2.3',
      commit: SHA,
      tree: TREE,
      mergedAt: '2025-12-31T12:00:00.000Z',
      auditSkipped: false,
      promotedFrom: { environment: 'staging' },
    });
    expect(promo!.statuses.map((s) => s.state)).toEqual(['in_progress', 'success']);
    expect(gate).toMatchObject({
      task: 'kgraph-ci:gate',
      payload: { operation: 'gate', of: String(promo!.id), gate: { passed: true, baselineCompared: true } },
    });
    expect((gate!.payload as { timings: { steps: unknown[] } }).timings.steps).toHaveLength(15);
    expect(promo!.payload).toMatchObject({ schemaHead: HEAD1 });
    // The backup before the migration: size, checksum, the migration it precedes, where it is.
    expect(backup).toMatchObject({ task: 'kgraph-ci:backup', environment: 'prod' });
    expect(backup!.payload).toMatchObject({
      operation: 'backup',
      backup: {
        bytes: 2_621_440,
        sha256: 'ab'.repeat(32),
        precedes: HEAD1,
        verified: true,
        location: expect.stringMatching(
          /^pvc\/kgraph-mcp-backups:\/backups\/prod-\d{8}T\d{6}Z-1800000000000_tools_homepage\.dump$/,
        ),
      },
    });
    expect(backup!.statuses.at(-1)!.state).toBe('success');
    expect(h.records().map((r) => [r.payload.operation, r.state])).toEqual([
      ['promotion', 'success'],
      ['backup', 'success'],
      ['gate', 'success'],
    ]);
    expect(h.out.join('\n')).toMatch(/succeeded/);
    expect(h.summaries[0]).toContain('| rollout-status | ✅');
    for (const line of [...h.out, ...h.err]) expect(line).not.toContain(TOKEN);
  });

  it.each([
    ['rollout status', { failOn: 'rollout status deployment/kgraph-mcp --timeout=300s' }, 'rollout-status'],
    ['smoke test', { smokeOk: false }, 'smoke'],
    ['latency gate', { gateOk: false }, 'latency-gate'],
  ])(
    'a failed %s rolls back, exits 1 and records the failure and the automatic rollback',
    async (_name, opts: Parameters<typeof harness>[0], step) => {
      const h = await harness(opts);
      const err = await runDeploy({ env: 'prod', image: IMAGE_D, version: 'v1.2.3' }, h.deps).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(FailedError);
      expect((err as Error).message).toContain(`failed at ${step}`);
      expect((err as Error).message).toContain('rolled back');
      expect(h.kubectlCalls().slice(-2)).toEqual(UNDO);
      const ops = h.recorded().map((d) => [(d.payload as { operation: string }).operation, d.statuses.at(-1)!.state]);
      // The rollout-status failure also fails the status wait after the undo: that rollback is recorded as failed.
      expect(ops).toEqual([
        ['promotion', 'failure'],
        ['backup', 'success'],
        ...(step === 'latency-gate' ? [['gate', 'failure']] : []),
        ['rollback', step === 'rollout-status' ? 'failure' : 'success'],
      ]);
      expect(h.recorded().at(-1)!.payload).toMatchObject({
        automatic: true,
        image: `ghcr.io/kgraph-mcp/kgraph-mcp@${D0}`,
        digest: D0,
        undone: D1,
      });
    },
  );

  it('when GitHub goes away after the rollout, the healthy deploy stays but exits 1 saying it is not recorded', async () => {
    const h = await harness({
      onKubectl: (line) => void (line.includes('rollout status') && (fake!.failWrites = true)),
    });
    await expect(runDeploy({ env: 'prod', version: 'v1.2.3' }, h.deps)).rejects.toThrow(
      /succeeded in .*, but it is NOT recorded: GitHub acme\/kgraph did not record the outcome \(success\)/,
    );
    expect(h.kubectlCalls()).toEqual(EXPECTED_PROD);
    expect(h.records()[0]).toMatchObject({ state: 'success' });
  });

  it('a newer staging pass (GitHub marks the older one inactive) does not erase the older pass: its tree still promotes', async () => {
    const h = await harness();
    const D2 = `sha256:${'d2'.repeat(32)}`;
    await runDeploy(
      { env: 'staging', image: `ghcr.io/kgraph-mcp/kgraph-mcp@${D2}`, commit: 'f'.repeat(40), tree: 'a'.repeat(40) },
      h.deps,
    );
    // auto_inactive: the seeded D1 staging pass now ends in `inactive`, as on GitHub.
    expect(
      h.fake.deployments
        .find(
          (d) =>
            (d.payload as { digest?: string; operation?: string }).digest === D1 &&
            d.environment === 'staging' &&
            (d.payload as { operation: string }).operation === 'deploy',
        )!
        .statuses.at(-1)!.state,
    ).toBe('inactive');
    await runDeploy({ env: 'prod', version: 'v1.2.3', dryRun: true }, h.deps);
    expect(h.out.join('\n')).toContain(`release policy for prod: ELIGIBLE: ${IMAGE_D}`);
  });

  it('staging takes digests only; a failed migration stops before the workload changes and does not roll back', async () => {
    const h = await harness({ failOn: 'wait --for=condition=complete' });
    await expect(
      runDeploy({ env: 'staging', image: 'ghcr.io/kgraph-mcp/kgraph-mcp:staging-abc' }, h.deps),
    ).rejects.toThrow(/rule "digest"/);
    await expect(runDeploy({ env: 'staging', image: IMAGE_D, commit: SHA, tree: TREE }, h.deps)).rejects.toThrow(
      /failed at wait-migration: exit 1: error: wait --for=condition=complete went wrong/,
    );
    expect(h.kubectlCalls().filter((c) => c.includes('apply')).length).toBe(2);
    expect(
      h
        .recorded()
        .map((d) => [
          (d.payload as { operation: string; tree: string }).operation,
          (d.payload as { tree: string }).tree,
          d.statuses.at(-1)!.state,
        ]),
    ).toEqual([['deploy', TREE, 'failure']]);
  });

  it("gives the checklist the manifests it applies (the pods' variables and Secret refs are read there)", async () => {
    const h = await harness({ checklistOk: false });
    await expect(runDeploy({ env: 'dev', image: 'ghcr.io/kgraph-mcp/kgraph-mcp:dev-abc' }, h.deps)).rejects.toThrow(
      /failed at checklist/,
    );
    const [seen] = h.checklistSaw as { manifests: { kind: string; metadata?: { name?: string } }[] }[];
    expect(seen?.manifests.map((o) => `${o.kind}/${o.metadata?.name}`)).toContain('Deployment/kgraph-mcp');
    expect(seen?.manifests.some((o) => o.kind === 'ConfigMap')).toBe(true);
  });

  it('gives the checklist the commit the image was built from (its check runs are what count)', async () => {
    const h = await harness({ checklistOk: false });
    await expect(runDeploy({ env: 'staging', image: IMAGE_D, commit: SHA, tree: TREE }, h.deps)).rejects.toThrow(
      /failed at checklist/,
    );
    expect((h.checklistSaw as { commit?: string }[])[0]?.commit).toBe(SHA);
  });

  it('a failed checklist touches nothing', async () => {
    const h = await harness({ checklistOk: false });
    await expect(runDeploy({ env: 'prod', image: IMAGE_D, version: 'v1.2.3' }, h.deps)).rejects.toThrow(
      /failed at checklist: failed: secrets \(failed: DATABASE_URL missing\)/,
    );
    expect(h.kubectlCalls()).toEqual([]);
  });

  it('a first deploy has no revision to undo', async () => {
    const h = await harness({ currentImage: '', smokeOk: false });
    await expect(runDeploy({ env: 'dev', image: 'ghcr.io/kgraph-mcp/kgraph-mcp:dev-abc' }, h.deps)).rejects.toThrow(
      FailedError,
    );
    expect(h.kubectlCalls().some((c) => c.includes('rollout undo'))).toBe(false);
    expect(h.err.join('\n')).toContain('no previous revision');
  });

  it('rejects bad input with usage errors (exit 2) before running anything', async () => {
    const h = await harness();
    await expect(runDeploy({ env: 'qa', image: IMAGE_D }, h.deps)).rejects.toThrow(
      new UsageError('unknown environment "qa": expected one of dev, staging, prod'),
    );
    await expect(runDeploy({ env: 'dev' }, h.deps)).rejects.toThrow(/needs --image REF or --version/);
    await expect(runDeploy({ env: 'dev', version: '1.2' }, h.deps)).rejects.toThrow(/"1.2" is not a release tag/);
    await expect(runDeploy({ env: 'prod', image: 'ghcr.io/kgraph-mcp/kgraph-mcp@sha256:abc' }, h.deps)).rejects.toThrow(
      new UsageError(
        '--image: image reference "ghcr.io/kgraph-mcp/kgraph-mcp@sha256:abc" has a malformed digest "sha256:abc": expected sha256: and 64 lowercase hex digits',
      ),
    );
    await expect(runDeploy({ env: 'prod', image: 'ghcr.io/kgraph-mcp/kgraph mcp:v1' }, h.deps)).rejects.toThrow(
      UsageError,
    );
    await expect(runDeploy({ env: 'staging', image: IMAGE_D, tree: 'abc' }, h.deps)).rejects.toThrow(
      /--tree "abc" is not a git object id \(40 lowercase hex digits, SHA-1\)/,
    );
    // SHA-1 ids only (docs/decisions/0007-git-object-ids.md): 64 hex digits look like a digest without sha256:.
    await expect(runDeploy({ env: 'staging', image: IMAGE_D, commit: 'c'.repeat(64) }, h.deps)).rejects.toThrow(
      new UsageError(`--commit "${'c'.repeat(64)}" is not a git object id (40 lowercase hex digits, SHA-1)`),
    );
    await expect(
      runDeploy(
        { env: 'dev', image: 'ghcr.io/kgraph-mcp/kgraph-mcp:v1' },
        { ...h.deps, env: { KUBECONFIG: '/nonexistent/kubeconfig' } },
      ),
    ).rejects.toThrow(UsageError);
    expect(h.calls).toEqual([]);
    // A pinned-but-floating reference is a policy refusal (exit 1), not a usage error.
    await expect(runDeploy({ env: 'dev', image: 'ghcr.io/kgraph-mcp/kgraph-mcp:latest' }, h.deps)).rejects.toThrow(
      /rule "pinned-tag"/,
    );
    expect(h.calls).toEqual([]);
  });
});

describe('runRollback', () => {
  it('--to goes back to the digest the version ran as here (ledger), records a rollback', async () => {
    const h = await harness();
    await runRollback({ env: 'prod', to: 'v1.2.2' }, h.deps);
    expect(h.kubectlCalls()[1]).toBe(
      `kubectl ${NS} patch deployment/kgraph-mcp --type=strategic -p ${JSON.stringify({
        spec: {
          template: {
            spec: {
              containers: [
                {
                  name: 'app',
                  image: `ghcr.io/kgraph-mcp/kgraph-mcp@${D0}`,
                  env: [{ name: 'APP_VERSION', value: 'v1.2.2' }],
                },
              ],
            },
          },
        },
      })}`,
    );
    expect(h.recorded().map((d) => [(d.payload as { operation: string }).operation, d.statuses.at(-1)!.state])).toEqual(
      [['rollback', 'success']],
    );
  });

  it('--to a version that never ran in prod is refused before any kubectl call', async () => {
    const h = await harness();
    await expect(runRollback({ env: 'prod', to: 'v1.1.0' }, h.deps)).rejects.toThrow(/rule "digest"/);
    expect(h.calls).toEqual([]);
  });

  it('a failed rollback exits 1 and is not undone again', async () => {
    const h = await harness({ failOn: 'rollout undo' });
    // dev's ledger is empty: a person goes ahead knowingly (the schema cannot be shown to fit).
    await expect(runRollback({ env: 'dev', acceptSchemaRisk: true }, h.deps)).rejects.toThrow(
      /rollback of previous to dev failed at rollout-undo/,
    );
    expect(h.kubectlCalls().filter((c) => c.includes('rollout'))).toEqual([
      'kubectl --namespace kgraph-dev rollout undo deployment/kgraph-mcp',
    ]);
  });
});

describe('announcements (Slack, Statuspage and Sentry fakes, through the real notifier)', () => {
  const SLACK = 'T1/B1/slack-webhook-secret-token';
  const PAGE_KEY = 'statuspage-key-secret-1234';
  const SENTRY_TOKEN = 'sntrys_token_secret_5678';
  let fakes: RecordingServer[] = [];
  afterEach(async () => {
    await Promise.all(fakes.map((f) => f.close()));
    fakes = [];
  });

  async function told(h: Awaited<ReturnType<typeof harness>>) {
    const [slack, page, sentry] = (fakes = await Promise.all([
      startRecordingServer(),
      startRecordingServer((r, i) => ({ status: 201, body: { id: `inc-${i}` } })),
      startRecordingServer(() => ({ status: 201, body: {} })),
    ]));
    const env = {
      SLACK_WEBHOOK_URL: `${slack!.url}/services/${SLACK}`,
      STATUSPAGE_API_KEY: PAGE_KEY,
      STATUSPAGE_PAGE_ID: 'p1',
      STATUSPAGE_API_URL: page!.url,
      STATUSPAGE_PROD_COMPONENT_ID: 'prod-api',
      SENTRY_AUTH_TOKEN: SENTRY_TOKEN,
      SENTRY_ORG: 'acme',
      SENTRY_PROJECT: 'kgraph-mcp',
      SENTRY_URL: sentry!.url,
      GITHUB_REPOSITORY: 'acme/kgraph',
      GITHUB_SERVER_URL: 'https://github.com',
      GITHUB_RUN_ID: '77',
    };
    const notifier = createNotifier({
      env,
      log: (l) => h.err.push(l),
      retry: { retries: 1, minTimeoutMs: 10, timeoutMs: 2000 },
      previousCommit: async () => '2'.repeat(40),
    });
    const deps: DeliveryDeps = { ...h.deps, env, announce: (e, a) => notifier.announce(e, a) };
    const received = () => ({
      slack: slack!.received.map((r) => (r.body as { text: string }).text),
      statuspage: page!.received.map((r) => {
        const i = (r.body as { incident: { status: string; components: object } }).incident;
        return `${r.method} ${r.path} ${i.status} ${JSON.stringify(i.components)}`;
      }),
      sentry: sentry!.received.map((r) => `${r.method} ${r.path} ${JSON.stringify(r.body)}`),
    });
    return { deps, received, slack: slack! };
  }

  it('a prod promotion: started and succeeded on Slack with gate and run link, a maintenance opened and completed, the Sentry release and deploy', async () => {
    const h = await harness();
    const t = await told(h);
    await runDeploy({ env: 'prod', version: 'v1.2.3' }, t.deps);
    const r = t.received();
    console.info(`prod deploy, what the fakes received:\n${JSON.stringify(r, null, 2)}`);
    expect(r.slack).toEqual([
      ':rocket: deploy of v1.2.3 to prod started',
      expect.stringMatching(/^:white_check_mark: deploy of v1.2.3 to prod succeeded in \d+\.\d min$/),
    ]);
    const done = JSON.stringify(t.slack.received[1]!.body);
    for (const fact of [D1, 'Latency gate*\\npassed', 'https://github.com/acme/kgraph/actions/runs/77'])
      expect(done).toContain(fact);
    expect(r.statuspage).toEqual([
      'POST /pages/p1/incidents in_progress {"prod-api":"under_maintenance"}',
      'PATCH /pages/p1/incidents/inc-0 completed {"prod-api":"operational"}',
    ]);
    expect(r.sentry.map((s) => s.split(' {')[0])).toEqual([
      'POST /api/0/organizations/acme/releases/',
      'PUT /api/0/organizations/acme/releases/v1.2.3/',
      'POST /api/0/organizations/acme/releases/v1.2.3/deploys/',
    ]);
    expect(r.sentry[1]).toContain(`"commit":"${SHA}","previousCommit":"${'2'.repeat(40)}"`);
    const printed = [...h.out, ...h.err].join('\n');
    for (const s of [SLACK, PAGE_KEY, SENTRY_TOKEN]) expect(printed).not.toContain(s);
  });

  it('a failed prod deploy: failed with its reason, the maintenance completed anyway, the automatic rollback opens an incident', async () => {
    const h = await harness({ smokeOk: false });
    const t = await told(h);
    await expect(runDeploy({ env: 'prod', version: 'v1.2.3' }, t.deps)).rejects.toThrow(/failed at smoke/);
    const r = t.received();
    console.info(`failed prod deploy + automatic rollback, what the fakes received:\n${JSON.stringify(r, null, 2)}`);
    expect(r.slack).toEqual([
      ':rocket: deploy of v1.2.3 to prod started',
      expect.stringMatching(/^:x: deploy of v1.2.3 to prod FAILED in /),
      ':white_check_mark: automatic rollback of previous to prod succeeded',
    ]);
    expect(r.statuspage).toEqual([
      'POST /pages/p1/incidents in_progress {"prod-api":"under_maintenance"}',
      'PATCH /pages/p1/incidents/inc-0 completed {"prod-api":"operational"}',
      'POST /pages/p1/incidents investigating {"prod-api":"degraded_performance"}',
    ]);
    expect(r.sentry.some((s) => s.includes('/deploys/'))).toBe(false);
  });

  it('a notifier that throws never fails the deploy', async () => {
    const h = await harness();
    const deps: DeliveryDeps = { ...h.deps, announce: async () => Promise.reject(new Error('slack exploded')) };
    await runDeploy({ env: 'prod', version: 'v1.2.3' }, deps);
    expect(h.err.join('\n')).toContain('warning: notify: slack exploded');
    expect(h.out.at(-1)).toMatch(/deploy of v1.2.3 to prod succeeded/);
  });

  it('the watcher-triggered rollback is announced as automatic, with the trigger as its reason', async () => {
    const h = await harness();
    const t = await told(h);
    // v1.2.3 (D1) went out and migrated prod to HEAD1; v1.2.2 (D0) passed the compatibility check against it.
    await runDeploy({ env: 'prod', version: 'v1.2.3' }, h.deps);
    await runRollback({ env: 'prod', trigger: 'watcher: errorRate: error rate 9% > 5% for 300s' }, t.deps);
    expect(h.err.join('\n')).toContain(`schema: v1.2.2 passed the compatibility check against schema ${HEAD1}`);
    const r = t.received();
    expect(r.slack).toEqual([
      ':rocket: automatic rollback of previous to prod started',
      expect.stringMatching(/^:white_check_mark: automatic rollback of previous to prod succeeded in /),
    ]);
    expect(JSON.stringify(t.slack.received[1]!.body)).toContain('error rate 9%');
    expect(r.statuspage).toEqual(['POST /pages/p1/incidents investigating {"prod-api":"degraded_performance"}']);
  });
});

describe('backups before prod migrations (the backup phase and its judge)', () => {
  const migrateCalls = (h: Awaited<ReturnType<typeof harness>>) =>
    h.kubectlCalls().filter((c) => c.includes('kgraph-mcp-migrate') || c.includes('rollout'));

  it('a backup that cannot be written (the Job fails): prod refuses to migrate, nothing rolls out, the deploy is recorded failed', async () => {
    const h = await harness({ failOn: 'wait --for=condition=complete job/kgraph-mcp-backup' });
    await expect(runDeploy({ env: 'prod', version: 'v1.2.3' }, h.deps)).rejects.toThrow(/failed at wait-backup/);
    expect(migrateCalls(h)).toEqual([]);
    expect(h.kubectlCalls().filter((c) => c.includes('apply')).length).toBe(2); // config and the backup Job
    expect(h.recorded().map((d) => [(d.payload as { operation: string }).operation, d.statuses.at(-1)!.state])).toEqual(
      [['promotion', 'failure']],
    );
  });

  it.each([
    [
      'the Job printed no manifest (it could not write the store)',
      () => 'pg_dump: error: could not open output file\n',
      /no backup manifest/,
      false,
    ],
    ['a stale backup', (now: number) => backupLogLine(now - 3 * 3_600_000), /min old \(at most 30\)/, true],
    ['an unverified backup', (now: number) => backupLogLine(now, { verified: false }), /was not verified/, true],
    [
      'a backup taken before another migration',
      (now: number) => backupLogLine(now, { precedes: HEAD0 }),
      /not before 1800000000000_tools_homepage/,
      true,
    ],
  ])('%s: the judge refuses and the migration never runs', async (_n, backupLog, reason, recorded) => {
    const h = await harness({ backupLog });
    const err = await runDeploy({ env: 'prod', version: 'v1.2.3' }, h.deps).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/failed at backup-verdict/);
    expect((err as Error).message).toMatch(reason);
    expect(migrateCalls(h)).toEqual([]);
    const ops = h.recorded().map((d) => [(d.payload as { operation: string }).operation, d.statuses.at(-1)!.state]);
    expect(ops).toEqual([['promotion', 'failure'], ...(recorded ? [['backup', 'failure']] : [])]);
  });

  it('the migration a backup must precede is unknown (migrations cannot be listed): refused', async () => {
    const h = await harness({ migrations: null });
    await expect(runDeploy({ env: 'prod', version: 'v1.2.3' }, h.deps)).rejects.toThrow(
      /failed at backup-verdict: cannot tell which migration the deploy applies/,
    );
    expect(migrateCalls(h)).toEqual([]);
  });

  it("nothing to migrate (prod is already at the tree's newest migration): no backup Job, and the deploy says why", async () => {
    const h = await harness({ migrations: [HEAD0] });
    await runDeploy({ env: 'prod', version: 'v1.2.3' }, h.deps);
    expect(h.kubectlCalls().filter((c) => c.includes('kgraph-mcp-backup'))).toEqual([]);
    expect(h.kubectlCalls().some((c) => c.includes('job/kgraph-mcp-migrate'))).toBe(true); // still run: it applies nothing
    expect(h.err.join('\n')).toContain(
      `backup before the migration: none taken: no migration to apply: prod's database is at ${HEAD0} or later (successful deploy at 2025-12-20T10:04:00Z) and this tree's newest is ${HEAD0}`,
    );
    expect(h.recorded().map((d) => (d.payload as { operation: string }).operation)).not.toContain('backup');
    // With a migration after what prod ran, the backup is taken and says why, in the dry-run's plan too.
    const dry = await harness();
    await runDeploy({ env: 'prod', version: 'v1.2.3', dryRun: true }, dry.deps);
    expect(dry.out.join('\n')).toContain(
      `backup before the migration: taken: the migrations after ${HEAD0} up to ${HEAD1} will run`,
    );
    expect(dry.out.join('\n')).toContain('backup-verdict');
  });

  it('a backup the ledger does not take: refused (rollback advice could not name it)', async () => {
    const h = await harness({
      onKubectl: (line) => void (line.includes('logs job/kgraph-mcp-backup') && (fake!.failWrites = true)),
    });
    await expect(runDeploy({ env: 'prod', version: 'v1.2.3' }, h.deps)).rejects.toThrow(
      /failed at backup-verdict: backup prod-.* verified; but the ledger did not take it/,
    );
    expect(migrateCalls(h)).toEqual([]);
  });

  it('the migrations check is a deploy phase: a refusal stops before any kubectl call; no check at all fails closed', async () => {
    const h = await harness({ migrationsOk: false });
    await expect(runDeploy({ env: 'prod', version: 'v1.2.3' }, h.deps)).rejects.toThrow(
      /failed at migrations-check: REFUSE \[lock-size\]/,
    );
    expect(h.kubectlCalls()).toEqual([]);
    const n = await harness();
    const { migrationsCheck: _, ...withoutCheck } = n.deps;
    await expect(
      runDeploy({ env: 'dev', image: 'ghcr.io/kgraph-mcp/kgraph-mcp:dev-abc' }, withoutCheck),
    ).rejects.toThrow(/failed at migrations-check: no migrations check available \(fails closed\)/);
    expect(n.kubectlCalls()).toEqual([]);
  });

  it('dev and staging take no backup', () => {
    for (const e of ['dev', 'staging'] as const) {
      const p = planDeploy({
        environment: ENVIRONMENTS[e],
        image: IMAGE_D,
        version: 'x',
        manifests: parseManifests(rendered[e]!),
      });
      expect(p.steps.map((s) => s.name)).not.toContain('backup-verdict');
    }
  });
});

describe('migration-aware rollback (ledger fakes)', () => {
  /** v1.2.3 promoted to prod (a success at 23:05), its migrations leaving the schema at `schemaHead`. */
  function seedProdPromotion(ledger: FakeLedger, schemaHead: string, startedAt = '2026-01-01T00:00:00Z') {
    ledger.seed({
      environment: 'prod',
      task: 'kgraph-ci:promotion',
      payload: {
        schema: PAYLOAD_SCHEMA,
        operation: 'promotion',
        environment: 'prod',
        digest: D1,
        version: 'v1.2.3',
        startedAt,
        schemaHead,
      },
      createdAt: '2025-12-31T23:00:00Z',
      statuses: [{ state: 'success', at: '2025-12-31T23:05:00Z' }],
    });
  }

  it('not compatible: no rollback, said so with the two ways out (roll forward, or the named backup and what it loses), paged', async () => {
    const h = await harness({ compatPassed: false });
    const announced: { stage: string; automatic?: boolean; reason?: string }[] = [];
    // The ledger where v1.2.3 went out (migrating to HEAD1, after a backup), though v1.2.2 failed its check.
    const before = h.kubectlCalls().length;
    const deps = { ...h.deps, announce: async (_e: unknown, a: (typeof announced)[number]) => void announced.push(a) };
    seedProdPromotion(h.fake, HEAD1, '2025-12-31T23:00:00Z');
    h.fake.seed({
      environment: 'prod',
      task: 'kgraph-ci:backup',
      payload: {
        schema: PAYLOAD_SCHEMA,
        operation: 'backup',
        environment: 'prod',
        startedAt: '2025-12-31T23:01:00Z',
        backup: {
          id: 'prod-20251231T230100Z-1800000000000_tools_homepage',
          bytes: 2_621_440,
          sha256: 'ab'.repeat(32),
          precedes: HEAD1,
          createdAt: '2025-12-31T23:01:00.000Z',
          verified: true,
          location: 'pvc/kgraph-mcp-backups:/backups/prod-20251231T230100Z-1800000000000_tools_homepage.dump',
        },
      },
      createdAt: '2025-12-31T23:01:00Z',
      statuses: [{ state: 'success', at: '2025-12-31T23:02:00Z' }],
    });
    const err = await runRollback({ env: 'prod', trigger: 'watcher: errorRate' }, deps).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FailedError);
    expect((err as Error).message).toBe(
      `rollback of prod refused: v1.2.2 FAILED the compatibility check against schema ${HEAD1} at 2025-12-31T22:20:00Z`,
    );
    expect(h.kubectlCalls().length).toBe(before); // nothing changed in the cluster
    const said = h.err.join('\n');
    console.info(`refused rollback, as printed:\n${said.slice(said.indexOf('automatic rollback of prod'))}`);
    expect(said).toContain('automatic rollback of prod to v1.2.2 REFUSED');
    expect(said).toContain('1. roll forward');
    expect(said).toContain('2. restore backup prod-20251231T230100Z-1800000000000_tools_homepage');
    expect(said).toContain(
      'kgraph-ci backup restore --from prod-20251231T230100Z-1800000000000_tools_homepage --to <DATABASE_URL> --overwrite',
    );
    expect(said).toContain(
      `LOST: every write since 2025-12-31T23:01:00.000Z (the backup's time), and the migrations applied after it: ${HEAD1}.`,
    );
    expect(announced).toEqual([
      expect.objectContaining({
        operation: 'rollback',
        stage: 'failed',
        automatic: true,
        reason: expect.stringMatching(/^rollback refused, nothing changed: v1.2.2 FAILED/),
      }),
    ]);
    // A person who restored the backup may go back knowingly; the watcher never can.
    await expect(runRollback({ env: 'prod', trigger: 'x', acceptSchemaRisk: true }, deps)).rejects.toThrow(UsageError);
    await runRollback({ env: 'prod', acceptSchemaRisk: true }, deps);
    expect(h.kubectlCalls().slice(before)).toContain(`kubectl ${NS} rollout undo deployment/kgraph-mcp`);
  });

  it('unknown (never checked, or no schema recorded, or ledger down): no automatic rollback', async () => {
    const h = await harness();
    // v1.2.3 went out; nothing checked v1.2.2 against HEAD2, the schema a later migration left.
    seedProdPromotion(h.fake, '1800000000001_next');
    await expect(runRollback({ env: 'prod', trigger: 't' }, h.deps)).rejects.toThrow(
      /refused: v1.2.2 was never checked against schema 1800000000001_next \(no compatibility record; it ran on 1764590000000_cache_generation\)/,
    );
    expect(h.err.join('\n')).toContain(
      '2. restore a backup: none is recorded for prod in the ledger, so this way is closed.',
    );
    h.fake.down = true;
    await expect(runRollback({ env: 'prod', trigger: 't' }, h.deps)).rejects.toThrow(
      /refused: cannot read the prod ledger/,
    );
    expect(h.kubectlCalls()).toEqual([]);
  });

  it('compatible because nothing migrated since the target ran: rolls the code back', async () => {
    const h = await harness();
    seedProdPromotion(h.fake, HEAD0);
    await runRollback({ env: 'prod', trigger: 't' }, h.deps);
    expect(h.err.join('\n')).toContain(`schema: v1.2.2 ran on schema ${HEAD0} itself: no migration since`);
    expect(h.kubectlCalls()).toContain(`kubectl ${NS} rollout undo deployment/kgraph-mcp`);
  });
});

describe("staging's baseline: prod's release in staging's namespace, never prod itself", () => {
  // "://" + host: staging's own host ends with prod's (staging.kgraph-mcp.example.com).
  const PROD_HOST = `://${new URL(ENVIRONMENTS.prod.url).host}`;
  const gateCalls: { url: string; baseline?: unknown }[] = [];
  async function stagingHarness(opts: Parameters<typeof harness>[0] = {}) {
    const h = await harness(opts);
    gateCalls.length = 0;
    const deps: DeliveryDeps = {
      ...h.deps,
      gate: async (_e, url, baseline) => {
        gateCalls.push({ url, ...(baseline ? { baseline } : {}) });
        return {
          ...(opts.gateOk === false ? failed('p95 ratio 1.4 > 1.25') : passed()),
          baselineCompared: baseline !== undefined && 'baseUrl' in baseline,
        };
      },
    };
    return { h, deps };
  }
  /** Everything a staging deploy said to the outside: kubectl argv and stdin, gate and smoke URLs, fetches. */
  function nothingAsksProd(h: Awaited<ReturnType<typeof harness>>, fetched: string[]) {
    const said = [
      ...h.calls.map((c) => `${c.argv.join(' ')}\n${c.stdin ?? ''}`),
      ...gateCalls.map((g) => JSON.stringify(g)),
      ...fetched,
    ].join('\n');
    expect(said).not.toContain(PROD_HOST);
    expect(said).not.toContain(ENVIRONMENTS.prod.namespace);
  }
  let fetched: string[] = [];
  const realFetch = globalThis.fetch;
  afterEach(() => {
    globalThis.fetch = realFetch;
  });
  function spyFetch() {
    fetched = [];
    globalThis.fetch = (async (input: string | URL | Request, init?: RequestInit) => {
      const url = String(input instanceof Request ? input.url : input);
      if (url.includes(PROD_HOST)) throw new Error(`a staging path asked prod: ${url}`);
      fetched.push(url);
      return realFetch(input, init);
    }) as typeof fetch;
  }

  it("starts prod's digest as kgraph-mcp-baseline, gates against both in-cluster Services, removes the baseline", async () => {
    spyFetch();
    const { h, deps } = await stagingHarness();
    await runDeploy({ env: 'staging', image: IMAGE_D, commit: SHA, tree: TREE }, deps);
    const calls = h.kubectlCalls();
    const apply = h.calls.find((c) => c.stdin?.includes('name: kgraph-mcp-baseline'))!;
    const objs = parseManifests(apply.stdin!);
    expect(objs.map((o) => `${o.kind}/${o.metadata?.name}`)).toEqual([
      'Deployment/kgraph-mcp-baseline',
      'Service/kgraph-mcp-baseline',
      'NetworkPolicy/kgraph-mcp-baseline',
    ]);
    expect(objs.every((o) => o.metadata?.namespace === 'kgraph-staging')).toBe(true);
    expect([...apply.stdin!.matchAll(/image: (\S+)/g)].map((m) => m[1])).toEqual([
      `ghcr.io/kgraph-mcp/kgraph-mcp@${D0}`,
    ]);
    // Its pods say which release they run: prod's, not the candidate's.
    expect(apply.stdin).toMatch(/- name: APP_VERSION\n\s+value: v1\.2\.2\n/);
    expect(gateCalls).toEqual([
      {
        url: 'http://kgraph-mcp.kgraph-staging.svc.cluster.local:8000',
        baseline: {
          baseUrl: 'http://kgraph-mcp-baseline.kgraph-staging.svc.cluster.local:8000',
          served: "prod's release v1.2.2",
        },
      },
    ]);
    expect(calls.at(-1)).toBe(
      'kubectl --namespace kgraph-staging delete deployment/kgraph-mcp-baseline service/kgraph-mcp-baseline networkpolicy/kgraph-mcp-baseline --ignore-not-found',
    );
    expect(
      calls.indexOf('kubectl --namespace kgraph-staging rollout status deployment/kgraph-mcp-baseline --timeout=300s'),
    ).toBeGreaterThan(-1);
    nothingAsksProd(h, fetched);
  });

  it('removes the baseline also when the gate fails (after the candidate is rolled back)', async () => {
    spyFetch();
    const { h, deps } = await stagingHarness({ gateOk: false });
    await expect(runDeploy({ env: 'staging', image: IMAGE_D, commit: SHA, tree: TREE }, deps)).rejects.toThrow(
      /failed at latency-gate/,
    );
    const calls = h.kubectlCalls();
    expect(calls.slice(-3)).toEqual([
      'kubectl --namespace kgraph-staging rollout undo deployment/kgraph-mcp',
      'kubectl --namespace kgraph-staging rollout status deployment/kgraph-mcp --timeout=300s',
      'kubectl --namespace kgraph-staging delete deployment/kgraph-mcp-baseline service/kgraph-mcp-baseline networkpolicy/kgraph-mcp-baseline --ignore-not-found',
    ]);
    nothingAsksProd(h, fetched);
  });

  it('a baseline that cannot be removed is a warning naming it, the deploy outcome stands', async () => {
    const { h, deps } = await stagingHarness({ failOn: 'delete deployment/kgraph-mcp-baseline' });
    await runDeploy({ env: 'staging', image: IMAGE_D, commit: SHA, tree: TREE }, deps);
    expect(h.err.join('\n')).toMatch(/warning: cleanup left something behind: delete-baseline: exit 1/);
  });

  it('prod runs nothing known (ledger down for it): no baseline is started, the gate is told why, still no prod call', async () => {
    spyFetch();
    const { h, deps } = await stagingHarness();
    const withoutProd = {
      ...deps,
      ledger: {
        ...deps.ledger!,
        read: async (o: { environment?: string } = {}) => {
          if (o.environment === 'prod') throw new Error('HTTP 503');
          return deps.ledger!.read(o);
        },
      },
    };
    await runDeploy({ env: 'staging', image: IMAGE_D, commit: SHA, tree: TREE }, withoutProd);
    expect(gateCalls).toEqual([
      {
        url: 'https://staging.kgraph-mcp.example.com',
        baseline: { unavailable: expect.stringMatching(/cannot tell what prod runs: .*HTTP 503/) },
      },
    ]);
    expect(h.kubectlCalls().some((c) => c.includes('baseline'))).toBe(false);
    nothingAsksProd(h, fetched);
  });

  it('baseline manifests validate (Kubernetes schemas, policy) and select only their own pods', async () => {
    const { schemaErrors } = await import('../../../src/platform/kube/schema.js');
    const { policyViolations } = await import('../../../src/platform/kube/validate.js');
    const { baselineObjects } = await import('../../../src/deliver/deploy/baseline.js');
    const staging = parseManifests(rendered.staging!);
    const objs = baselineObjects(staging, ENVIRONMENTS.staging, `ghcr.io/kgraph-mcp/kgraph-mcp@${D0}`);
    expect(schemaErrors(objs)).toEqual([]);
    expect(policyViolations(objs)).toEqual([]);
    type Sel = {
      spec: {
        selector: { matchLabels?: Record<string, string> } & Record<string, string>;
        template?: { metadata: { labels: Record<string, string> } };
      };
    };
    const podLabels = (o: KubeObjectLike) => (o as unknown as Sel).spec.template!.metadata.labels;
    type KubeObjectLike = (typeof objs)[number];
    const matches = (sel: Record<string, string>, labels: Record<string, string>) =>
      Object.entries(sel).every(([k, v]) => labels[k] === v);
    const candidate = staging.find((o) => o.kind === 'Deployment')!;
    const service = staging.find((o) => o.kind === 'Service')!;
    const pdb = staging.find((o) => o.kind === 'PodDisruptionBudget')!;
    const baseline = objs[0]!;
    const baselinePods = podLabels(baseline);
    // The real Deployment, Service and PDB never take the baseline's pods; its own Service takes only them.
    expect(matches((candidate as unknown as Sel).spec.selector.matchLabels!, baselinePods)).toBe(false);
    expect(matches((service as unknown as Sel).spec.selector, baselinePods)).toBe(false);
    expect(matches((pdb as unknown as Sel).spec.selector.matchLabels!, baselinePods)).toBe(false);
    expect(matches((objs[1] as unknown as Sel).spec.selector, baselinePods)).toBe(true);
    expect(matches((objs[1] as unknown as Sel).spec.selector, podLabels(candidate))).toBe(false);
    expect(matches((baseline as unknown as Sel).spec.selector.matchLabels!, podLabels(candidate))).toBe(false);
    expect((baseline as unknown as { spec: { replicas: number } }).spec.replicas).toBe(ENVIRONMENTS.staging.replicas);
  });
});
