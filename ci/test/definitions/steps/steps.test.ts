/** The step table is data other parts are checked against: hold it to its own rules here. */
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { validateTable, selectSteps } from '../../../src/verify/runner/graph.js';
import {
  findStep,
  isStepName,
  resolveCommands,
  STEP_NAMES,
  STEPS,
  stepsInAll,
  SERVICE_NAMES,
} from '../../../src/definitions/steps.js';

const table = Object.values(STEPS);
const repo = new URL('../../../../', import.meta.url);
const rootScripts = (
  JSON.parse(readFileSync(new URL('package.json', repo), 'utf8')) as { scripts: Record<string, string> }
).scripts;

describe('step table', () => {
  it('has one entry per name, keyed by its own name, in STEP_NAMES order', () => {
    expect(table.map((s) => s.name)).toEqual([...STEP_NAMES]);
    for (const [key, step] of Object.entries(STEPS)) expect(step.name).toBe(key);
  });
  it('is sound: known dependencies, no cycles, kebab-case cliNames, declared params, positive timeouts', () => {
    expect(validateTable(table)).toEqual([]);
  });
  it('has unique cliNames that are the kebab-case of the names', () => {
    const kebab = (s: string) => s.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
    for (const s of table) expect(s.cliName).toBe(kebab(s.name));
    expect(new Set(table.map((s) => s.cliName)).size).toBe(table.length);
  });
  it('keeps delivery steps out of all, and all closed under dependencies', () => {
    for (const s of table) if (s.kind === 'delivery') expect(s.inAll).toBe(false);
    const all = new Set(stepsInAll().map((s) => s.name));
    for (const s of stepsInAll()) for (const d of s.dependsOn) expect(all.has(d)).toBe(true);
    expect(
      selectSteps(table, ['all'])
        .map((s) => s.name)
        .sort(),
    ).toEqual([...all].sort());
  });
  it('names only known services, and only steps that need them have them', () => {
    for (const s of table) for (const svc of s.services) expect(SERVICE_NAMES).toContain(svc);
    expect(STEPS.integrationTest.services).toEqual(['postgres', 'redis']);
    expect(STEPS.test.services).toEqual([]);
  });
  it('gives coverage, which runs both test projects one after the other, at least the time of both test steps', () => {
    expect(STEPS.coverage.commands[0]).not.toContain('--project');
    expect(STEPS.coverage.timeoutSeconds).toBeGreaterThanOrEqual(
      STEPS.test.timeoutSeconds + STEPS.integrationTest.timeoutSeconds,
    );
  });
  it('has a description, a timeout under 30 minutes, and runnable commands', () => {
    for (const s of table) {
      expect(s.description.length).toBeGreaterThan(10);
      expect(s.timeoutSeconds).toBeLessThanOrEqual(1800);
      for (const argv of s.commands) {
        expect(['npm', 'npx']).toContain(argv[0]);
        // npm run <script>: the script exists in the root package.json.
        if (argv[0] === 'npm' && argv[1] === 'run' && !argv.includes('-w'))
          expect(rootScripts).toHaveProperty(argv[2]!);
        // npx --no-install <bin>: never downloads.
        if (argv[0] === 'npx') expect(argv[1]).toBe('--no-install');
      }
    }
  });
  it('sets NODE_ENV=test only for steps that run vitest (test mode is for the test runner, never the service)', () => {
    const testMode = table.filter((s) => s.env.NODE_ENV === 'test').map((s) => s.name);
    expect(testMode.length).toBeGreaterThan(0);
    for (const name of testMode)
      expect(
        STEPS[name].commands.every((argv) => argv.includes('vitest')),
        name,
      ).toBe(true);
    expect(STEPS.latencyGate.env).not.toHaveProperty('NODE_ENV');
  });
  it('cache paths are relative or under ~', () => {
    for (const s of table) for (const p of s.cachePaths) expect(p).toMatch(/^(~\/|[a-z_.])/);
  });
  it('resolves params and rejects missing ones by name', () => {
    expect(resolveCommands(STEPS.latencyGate, { env: 'staging' })[0]).toContain('staging');
    expect(() => resolveCommands(STEPS.deploy, { env: 'prod' })).toThrow('step deploy needs --image');
    expect(resolveCommands(STEPS.lint, {})).toEqual(STEPS.lint.commands);
  });
  it('finds steps by name or cliName', () => {
    expect(findStep('integration-test')?.name).toBe('integrationTest');
    expect(findStep('integrationTest')?.name).toBe('integrationTest');
    expect(findStep('integration_test')).toBeUndefined();
    expect(isStepName('lint')).toBe(true);
    expect(isStepName('all')).toBe(false);
  });
  it('the vitest projects the test steps name exist', () => {
    const config = readFileSync(new URL('vitest.config.ts', repo), 'utf8');
    for (const s of [STEPS.test, STEPS.integrationTest]) {
      const project = s.commands[0]![s.commands[0]!.indexOf('--project') + 1]!;
      expect(config).toContain(`name: '${project}'`);
    }
  });
  it('the README starts with the pipeline command', () => {
    const readme = readFileSync(new URL('README.md', repo), 'utf8');
    expect(readme).toMatch(/```bash\n[^\n]*npx kgraph-ci run all/);
    expect(existsSync(new URL('ci/bin/kgraph-ci.js', repo))).toBe(true);
  });
});
