import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ENVIRONMENTS } from '../../src/environments.js';
import { FailedError, UsageError } from '../../src/errors.js';
import { REPO_ROOT } from '../../src/repo-root.js';
import { parseManifests } from '../../src/kube/validate.js';
import type { CommandResult, CommandSpec } from '../../src/kube/runner.js';
import { planDeploy, planRollback } from '../../src/deploy/plan.js';
import { runDeploy, runRollback, type DeliveryDeps } from '../../src/deploy/run.js';
import type { DeployRecord } from '../../src/deploy/records.js';

const root = REPO_ROOT;
const rendered = Object.fromEntries(
  (['dev', 'staging', 'prod'] as const).map((e) => [e, execFileSync('kubectl', ['kustomize', join(root, 'k8s/overlays', e)], { encoding: 'utf8' })]),
) as Record<string, string>;
const IMAGE = 'ghcr.io/kgraph-mcp/kgraph-mcp:v1.2.3';

/** A fake cluster: answers kubectl calls from a script, records every call. */
function harness(opts: { failOn?: string; currentImage?: string; checklistOk?: boolean; gateOk?: boolean; smokeOk?: boolean } = {}) {
  const calls: CommandSpec[] = [];
  const out: string[] = [];
  const err: string[] = [];
  const summaries: string[] = [];
  let clock = Date.parse('2026-01-01T00:00:00Z');
  const dir = mkdtempSync(join(tmpdir(), 'kgraph-deploy-'));
  const deps: DeliveryDeps = {
    runner: async (cmd): Promise<CommandResult> => {
      calls.push(cmd);
      clock += 1000;
      const line = cmd.argv.join(' ');
      if (cmd.argv[1] === 'kustomize') return { exitCode: 0, stdout: rendered[cmd.argv[2]!.split('/').pop()!]!, stderr: '' };
      if (opts.failOn && line.includes(opts.failOn)) return { exitCode: 1, stdout: '', stderr: `error: ${opts.failOn} went wrong` };
      if (line.includes('jsonpath')) return { exitCode: 0, stdout: opts.currentImage ?? 'ghcr.io/kgraph-mcp/kgraph-mcp:v1.2.2', stderr: '' };
      return { exitCode: 0, stdout: 'ok\n', stderr: '' };
    },
    checklist: async () => ({ ok: opts.checklistOk ?? true, items: [{ name: 'secrets', required: true, status: opts.checklistOk === false ? 'fail' : 'pass', detail: 'DATABASE_URL missing' }] }),
    gate: async () => ({ passed: opts.gateOk ?? true, reasons: opts.gateOk === false ? ['search p50 140ms >= 100ms'] : [] }),
    smoke: async () => ({ ok: opts.smokeOk ?? true, results: [{ name: 'readiness', ok: opts.smokeOk ?? true, detail: 'GET /readyz: HTTP 503' }] }),
    out: (l) => out.push(l),
    err: (l) => err.push(l),
    summary: async (md) => summaries.push(md),
    now: () => clock,
    cwd: dir,
    recordsDir: 'records',
    env: {},
  };
  const records = (): DeployRecord[] => readdirSync(join(dir, 'records')).map((f) => JSON.parse(readFileSync(join(dir, 'records', f), 'utf8')) as DeployRecord);
  const kubectlCalls = () => calls.filter((c) => c.argv[1] !== 'kustomize').map((c) => c.argv.join(' '));
  return { deps, calls, out, err, summaries, records, kubectlCalls };
}

const NS = '--namespace kgraph-prod';
const EXPECTED_PROD = [
  `kubectl ${NS} get deployment/kgraph-mcp --ignore-not-found -o jsonpath={.spec.template.spec.containers[?(@.name=="app")].image}`,
  'kubectl apply -f -',
  `kubectl ${NS} delete job/kgraph-mcp-migrate --ignore-not-found --wait=true`,
  'kubectl apply -f -',
  `kubectl ${NS} wait --for=condition=complete job/kgraph-mcp-migrate --timeout=600s`,
  'kubectl apply -f -',
  `kubectl ${NS} rollout status deployment/kgraph-mcp --timeout=300s`,
];
const UNDO = [`kubectl ${NS} rollout undo deployment/kgraph-mcp`, `kubectl ${NS} rollout status deployment/kgraph-mcp --timeout=300s`];

describe('deploy plan', () => {
  const plan = planDeploy({ environment: ENVIRONMENTS.prod, image: IMAGE, version: 'v1.2.3', manifests: parseManifests(rendered.prod!) });

  it('is checklist, migrations before the workload, rollout status, smoke, gate; undo on failure', () => {
    expect(plan.steps.map((s) => s.name)).toEqual(['checklist', 'current-image', 'apply-config', 'delete-old-migration', 'apply-migration', 'wait-migration', 'apply-workload', 'rollout-status', 'smoke', 'latency-gate']);
    expect(plan.steps.flatMap((s) => (s.kind === 'kubectl' ? [s.argv.join(' ')] : []))).toEqual(EXPECTED_PROD);
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

  it('rollback plans: undo by default, set image for --to', () => {
    expect(planRollback({ environment: ENVIRONMENTS.staging }).steps.map((s) => (s.kind === 'kubectl' ? s.argv.slice(3).join(' ') : s.name))).toEqual([
      'get deployment/kgraph-mcp --ignore-not-found -o jsonpath={.spec.template.spec.containers[?(@.name=="app")].image}',
      'rollout undo deployment/kgraph-mcp',
      'rollout status deployment/kgraph-mcp --timeout=300s',
      'smoke',
    ]);
    const to = planRollback({ environment: ENVIRONMENTS.prod, image: 'r/i:v1.2.2', version: 'v1.2.2' });
    expect(to.steps.find((s) => s.name === 'set-image')).toMatchObject({ argv: ['kubectl', '--namespace', 'kgraph-prod', 'set', 'image', 'deployment/kgraph-mcp', 'app=r/i:v1.2.2'] });
  });
});

describe('runDeploy', () => {
  it('--dry-run prints the plan and calls nothing but kubectl kustomize', async () => {
    const h = harness();
    await runDeploy({ env: 'prod', version: 'v1.2.3', dryRun: true }, h.deps);
    expect(h.calls.map((c) => c.argv.join(' '))).toEqual(['kubectl kustomize k8s/overlays/prod']);
    const printed = h.out.join('\n');
    expect(printed).toContain('deploy v1.2.3 (ghcr.io/kgraph-mcp/kgraph-mcp:v1.2.3) to prod');
    for (const line of EXPECTED_PROD.slice(2)) expect(printed).toContain(line);
    expect(printed).toContain('rollout undo');
  });

  it('a good deploy runs the exact plan, records success and its duration', async () => {
    const h = harness();
    await runDeploy({ env: 'prod', version: 'v1.2.3' }, h.deps);
    expect(h.kubectlCalls()).toEqual(EXPECTED_PROD);
    const [rec] = h.records();
    expect(rec).toMatchObject({ operation: 'deploy', environment: 'prod', version: 'v1.2.3', image: IMAGE, previousImage: 'ghcr.io/kgraph-mcp/kgraph-mcp:v1.2.2', result: 'success', rolledBack: false });
    expect(rec!.durationMs).toBe(7000);
    expect(h.out.join('\n')).toMatch(/succeeded/);
    expect(h.summaries[0]).toContain('| rollout-status | ✅');
  });

  it.each([
    ['rollout status', { failOn: 'rollout status deployment/kgraph-mcp --timeout=300s' }, 'rollout-status'],
    ['smoke test', { smokeOk: false }, 'smoke'],
    ['latency gate', { gateOk: false }, 'latency-gate'],
  ])('a failed %s rolls back and exits 1', async (_name, opts: Parameters<typeof harness>[0], step) => {
    const h = harness(opts);
    const err = await runDeploy({ env: 'prod', image: IMAGE }, h.deps).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FailedError);
    expect((err as Error).message).toContain(`failed at ${step}`);
    expect((err as Error).message).toContain('rolled back');
    expect(h.kubectlCalls().slice(-2)).toEqual(UNDO);
    expect(h.records()[0]).toMatchObject({ result: 'failure', failedStep: step, rolledBack: true });
  });

  it('a failed migration stops before the workload changes and does not roll back', async () => {
    const h = harness({ failOn: 'wait --for=condition=complete' });
    await expect(runDeploy({ env: 'prod', image: IMAGE }, h.deps)).rejects.toThrow(/failed at wait-migration: exit 1: error: wait --for=condition=complete went wrong/);
    expect(h.kubectlCalls()).toEqual(EXPECTED_PROD.slice(0, 5));
    expect(h.records()[0]).toMatchObject({ result: 'failure', rolledBack: false });
  });

  it('a failed checklist touches nothing', async () => {
    const h = harness({ checklistOk: false });
    await expect(runDeploy({ env: 'prod', image: IMAGE }, h.deps)).rejects.toThrow(/failed at checklist: failed: secrets \(fail: DATABASE_URL missing\)/);
    expect(h.kubectlCalls()).toEqual([]);
  });

  it('a first deploy has no revision to undo', async () => {
    const h = harness({ currentImage: '', smokeOk: false });
    await expect(runDeploy({ env: 'prod', image: IMAGE }, h.deps)).rejects.toThrow(FailedError);
    expect(h.kubectlCalls().some((c) => c.includes('rollout undo'))).toBe(false);
    expect(h.err.join('\n')).toContain('no previous revision');
  });

  it('rejects bad input with usage errors before running anything', async () => {
    const h = harness();
    await expect(runDeploy({ env: 'qa', image: IMAGE }, h.deps)).rejects.toThrow(new UsageError('unknown environment "qa": expected one of dev, staging, prod'));
    await expect(runDeploy({ env: 'dev' }, h.deps)).rejects.toThrow(/needs --image REF or --version/);
    await expect(runDeploy({ env: 'dev', image: IMAGE, version: 'v1.2.3' }, h.deps)).rejects.toThrow(/either --image or --version/);
    await expect(runDeploy({ env: 'dev', image: 'ghcr.io/x/y:latest' }, h.deps)).rejects.toThrow(/latest tag/);
    await expect(runDeploy({ env: 'dev', version: '1.2' }, h.deps)).rejects.toThrow(/"1.2" is not a release tag/);
    await expect(runDeploy({ env: 'dev', image: IMAGE }, { ...h.deps, env: { KUBECONFIG: '/nonexistent/kubeconfig' } })).rejects.toThrow(UsageError);
    expect(h.calls).toEqual([]);
  });

  it('reports GitHub deployment status through the tracker', async () => {
    const h = harness({ gateOk: false });
    const events: string[] = [];
    const tracker = { start: async () => void events.push('start'), finish: async (_p: unknown, ok: boolean) => void events.push(ok ? 'success' : 'failure') };
    await expect(runDeploy({ env: 'staging', image: IMAGE }, { ...h.deps, tracker })).rejects.toThrow();
    expect(events).toEqual(['start', 'failure']);
  });
});

describe('runRollback', () => {
  it('--to deploys the released image, records a rollback', async () => {
    const h = harness();
    await runRollback({ env: 'prod', to: 'v1.2.2' }, h.deps);
    expect(h.kubectlCalls()[1]).toBe(`kubectl ${NS} set image deployment/kgraph-mcp app=ghcr.io/kgraph-mcp/kgraph-mcp:v1.2.2`);
    expect(h.records()[0]).toMatchObject({ operation: 'rollback', version: 'v1.2.2', result: 'success' });
  });

  it('a failed rollback exits 1 and is not undone again', async () => {
    const h = harness({ failOn: 'rollout undo' });
    await expect(runRollback({ env: 'dev' }, h.deps)).rejects.toThrow(/rollback of previous to dev failed at rollout-undo/);
    expect(h.kubectlCalls().filter((c) => c.includes('rollout'))).toEqual(['kubectl --namespace kgraph-dev rollout undo deployment/kgraph-mcp']);
  });
});
