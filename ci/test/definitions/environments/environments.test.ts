import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { runCli } from '../../../src/cli/program.js';
import {
  ENVIRONMENT_NAMES,
  ENVIRONMENTS,
  getEnvironment,
  isEnvironmentName,
} from '../../../src/definitions/environments.js';
import { classifyBranch } from '../../../src/verify/policy/gitflow.js';
import { captureIo } from '../../cli/io.js';

const envs = ENVIRONMENT_NAMES.map((n) => ENVIRONMENTS[n]);

describe('environments', () => {
  it('triggers: develop, release/*, v* tags from main', () => {
    expect(ENVIRONMENTS.dev.trigger).toEqual({ kind: 'branch', pattern: 'develop' });
    expect(ENVIRONMENTS.staging.trigger).toEqual({ kind: 'branch', pattern: 'release/*' });
    expect(ENVIRONMENTS.prod.trigger).toEqual({ kind: 'tag', pattern: 'v*', reachableFrom: 'main' });
    // The triggers agree with the git-flow policy's branch kinds.
    expect(classifyBranch('develop').kind).toBe('develop');
    expect(classifyBranch(ENVIRONMENTS.staging.trigger.pattern.replace('*', '1.0.0')).kind).toBe('release');
  });
  it('seed thresholds: API p50 < 100 ms, graph p95 < 500 ms, errors < 0.1%', () => {
    for (const e of envs)
      expect(e.latencyGate.thresholds).toEqual({ apiP50Ms: 100, graphP95Ms: 500, maxErrorRate: 0.001 });
  });
  it('rollback triggers: 3 health failures, >5% errors for 5 min, p95 > 2 s for 10 min', () => {
    for (const e of envs) {
      expect(e.rollback.consecutiveHealthFailures).toBe(3);
      expect(e.rollback.errorRate).toEqual({ above: 0.05, sustainedSeconds: 300 });
      expect(e.rollback.p95).toEqual({ aboveMs: 2000, sustainedSeconds: 600 });
    }
  });
  it('grows stricter toward prod', () => {
    const [dev, staging, prod] = envs;
    expect(dev!.replicas).toBeLessThan(staging!.replicas);
    expect(staging!.replicas).toBeLessThan(prod!.replicas);
    expect(prod!.release.approvals).toBeGreaterThanOrEqual(1);
    expect(prod!.debug).toBe(false);
    expect(prod!.seedCount).toBe(0);
    expect(dev!.seedCount).toBeGreaterThan(0);
    expect(prod!.requiredSecrets).toEqual(expect.arrayContaining([...staging!.requiredSecrets, 'SENTRY_DSN']));
    expect(prod!.latencyGate.durationSeconds).toBeGreaterThanOrEqual(staging!.latencyGate.durationSeconds);
  });
  it('has distinct namespaces and https URLs; required names are env-var shaped', () => {
    expect(new Set(envs.map((e) => e.namespace)).size).toBe(3);
    for (const e of envs) {
      expect(new URL(e.url).protocol).toBe('https:');
      for (const n of [...e.requiredEnv, ...e.requiredSecrets]) expect(n).toMatch(/^[A-Z][A-Z0-9_]*$/);
      expect(e.latencyGate.minAchievedRateRatio).toBeGreaterThan(0);
      expect(e.latencyGate.minAchievedRateRatio).toBeLessThanOrEqual(1);
    }
  });
  it('rejects unknown names with the list', () => {
    expect(isEnvironmentName('qa')).toBe(false);
    expect(() => getEnvironment('Prod')).toThrow('unknown environment "Prod": expected one of dev, staging, prod');
  });
});

describe('kgraph-ci env', () => {
  it('show prints the definition as YAML or JSON', async () => {
    const io = captureIo();
    expect(await runCli(['env', 'show', 'prod'], io)).toBe(0);
    expect(parse(io.out())).toEqual(JSON.parse(JSON.stringify(ENVIRONMENTS.prod)));
    const json = captureIo();
    expect(await runCli(['env', 'show', 'staging', '--json'], json)).toBe(0);
    expect(JSON.parse(json.out())).toMatchObject({ name: 'staging', replicas: 2 });
  });
  it('a bad name is a clear exit 2', async () => {
    const io = captureIo();
    expect(await runCli(['env', 'show', 'qa'], io)).toBe(2);
    expect(io.err()).toBe('kgraph-ci: unknown environment "qa": expected one of dev, staging, prod\n');
  });
  it('list shows every environment', async () => {
    const io = captureIo();
    expect(await runCli(['env', 'list'], io)).toBe(0);
    for (const n of ENVIRONMENT_NAMES) expect(io.out()).toContain(n);
  });
});
