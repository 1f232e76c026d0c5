/**
 * The module's copy of ci/'s tables (dagger/src/ci.generated.ts) and its pure decisions.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import {
  DAGGER_TABLES_PATH,
  ELIGIBILITY_PATH as ELIGIBILITY_FILE,
  renderCiTables,
  renderEligibility,
  renderVerdict,
  VERDICT_PATH,
} from '../../ci/src/cli/generate/dagger-tables.js';
import { REPO_ROOT } from '../../ci/src/platform/repo-root.js';
import { STEPS as CI_STEPS, resolveCommands } from '../../ci/src/definitions/steps.js';
import { ENVIRONMENTS as CI_ENVIRONMENTS } from '../../ci/src/definitions/environments.js';
import { durationSeconds } from '../../ci/src/operate/watch/duration.js';
import { IMAGE_REPOSITORY, imageForVersion } from '../../ci/src/deliver/deploy/image.js';
import { STEPS, ENVIRONMENTS } from '../src/ci.generated.js';
import {
  checkDeployImage,
  checkDuration,
  checkGitObject,
  checkVersionTag,
  imageTag,
  publishAddress,
  severitiesFrom,
  stepCommand,
  cacheMounts,
  findStep,
} from '../src/plan.js';

const GENERATED_PATH = join(REPO_ROOT, DAGGER_TABLES_PATH);
const ELIGIBILITY_PATH = join(REPO_ROOT, ELIGIBILITY_FILE);

describe('generated copy of the ci tables', () => {
  it('is exactly what the generator writes from ci/src today (run the generator when this fails)', () => {
    expect(readFileSync(GENERATED_PATH, 'utf8')).toBe(renderCiTables());
  });

  it('carries every step and environment field the module reads', () => {
    expect(STEPS).toEqual(JSON.parse(JSON.stringify(CI_STEPS)));
    for (const [name, env] of Object.entries(ENVIRONMENTS)) {
      const ci = CI_ENVIRONMENTS[name as keyof typeof CI_ENVIRONMENTS];
      expect(env).toEqual(
        JSON.parse(
          JSON.stringify({
            name: ci.name,
            url: ci.url,
            logLevel: ci.logLevel,
            debug: ci.debug,
            seedCount: ci.seedCount,
            release: ci.release,
          }),
        ),
      );
    }
  });
});

describe('plan', () => {
  it('fills step commands exactly as ci/ does', () => {
    const params = { env: 'staging', image: 'ghcr.io/a/kgraph-mcp:v1.0.0', tag: 'v1.0.0' };
    for (const step of ['deploy', 'rollback', 'release'] as const) {
      expect(stepCommand(step, params)).toEqual(resolveCommands(CI_STEPS[step], params)[0]);
    }
    expect(() => stepCommand('deploy', { env: 'dev' })).toThrow('step deploy needs image');
  });

  it('maps cache paths from the table to container paths with stable keys', () => {
    expect(cacheMounts('lint')).toEqual([
      { path: '/root/.npm', key: 'kgraph-mcp-home-npm' },
      { path: '/src/node_modules/.cache/eslint', key: 'kgraph-mcp-node-modules-cache-eslint' },
    ]);
  });

  it('finds steps by either spelling and lists the CLI names otherwise', () => {
    expect(findStep('latency-gate')).toBe('latencyGate');
    expect(findStep('latencyGate')).toBe('latencyGate');
    expect(() => findStep('e2e')).toThrow(
      /expected one of lint, typecheck, test, integration-test, migrations-check, rollout-rehearsal, coverage, build, scan, latency-gate, deploy, rollback, release/,
    );
  });

  it.each([
    ['ghcr.io/acme/kgraph-mcp:v1.2.3', 'v1.2.3'],
    ['ghcr.io/acme/kgraph-mcp:v1.2.3@sha256:abc', 'v1.2.3'],
    ['localhost:5000/kgraph-mcp', undefined],
    ['localhost:5000/kgraph-mcp:dev', 'dev'],
    ['kgraph-mcp@sha256:abc', undefined],
  ])('imageTag(%s) = %s', (ref, tag) => {
    expect(imageTag(ref)).toBe(tag);
  });

  it("checks the reference rules of each environment's release policy (the same function as kgraph-ci)", () => {
    const repo = 'ghcr.io/kgraph-mcp/kgraph-mcp';
    const digest = `sha256:${'a'.repeat(64)}`;
    expect(() => checkDeployImage('dev', `${repo}:sha-abc`)).not.toThrow();
    expect(() => checkDeployImage('dev', 'ghcr.io/acme/kgraph-mcp:sha-abc')).toThrow(/rule "repository"/);
    expect(() => checkDeployImage('staging', `${repo}:release-1.2`)).toThrow(/rule "digest"/);
    expect(() => checkDeployImage('staging', `${repo}@${digest}`)).not.toThrow();
    expect(() => checkDeployImage('prod', `${repo}@${digest}`, 'v1.2.3')).not.toThrow();
    expect(() => checkDeployImage('prod', `${repo}@${digest}`, 'v1.2.3-rc.1')).toThrow(
      /rule "release-tag".*prerelease/,
    );
    expect(() => checkDeployImage('prod', `${repo}@${digest}`, 'v1.2')).toThrow(/rule "release-tag"/);
    expect(() => checkDeployImage('prod', `${repo}:v1.2.3`, 'v1.2.3')).toThrow(/rule "digest"/);
    expect(() => checkDeployImage('dev', ' ')).toThrow(/rule "reference"/);
  });

  it('carries the eligibility function verbatim (run the generator when this fails)', () => {
    expect(readFileSync(ELIGIBILITY_PATH, 'utf8')).toBe(renderEligibility());
    expect(readFileSync(join(REPO_ROOT, VERDICT_PATH), 'utf8')).toBe(renderVerdict());
  });

  // The module refuses exactly what `kgraph-ci watch --duration` refuses, and reads the same seconds.
  it.each([
    '90',
    '90s',
    '15m',
    '1h',
    '1h30m',
    '500ms',
    '2h15m30s',
    '1.5h',
    ' 15m ',
    '0.001ms',
    '1h0m',
    '10m10m',
    '0',
    '0s',
    '0m0s',
    '',
    ' ',
    '15 m',
    '15M',
    '-5s',
    '+5s',
    '1d',
    'forever',
    '1e3',
    '15m30',
    'ms',
    '.5s',
    '5.s',
    '1h 30m',
    'Infinity',
    '0x10',
  ])('checkDuration(%j) agrees with ci/', (text) => {
    const ci = durationSeconds(text);
    if (ci === undefined) expect(() => checkDuration(text)).toThrow(`invalid duration "${text}"`);
    else expect(checkDuration(text)).toBe(ci);
  });

  it('the duration agreement covers both outcomes', () => {
    expect(checkDuration('1h30m')).toBe(5400);
    expect(() => checkDuration('1d')).toThrow(/expected a positive number of seconds or e.g. 90s, 15m, 1h30m/);
  });

  it('turns a severity threshold into the list at and above it', () => {
    expect(severitiesFrom('CRITICAL')).toBe('CRITICAL');
    expect(severitiesFrom('medium')).toBe('MEDIUM,HIGH,CRITICAL');
    expect(() => severitiesFrom('urgent')).toThrow(/unknown severity "urgent"/);
  });

  it('builds publish addresses and rejects malformed tags', () => {
    expect(publishAddress('registry.example.com:5000/team', 'v1.0.0')).toEqual({
      address: 'registry.example.com:5000/team/kgraph-mcp:v1.0.0',
      host: 'registry.example.com:5000',
    });
    expect(() => publishAddress('ghcr.io/acme', 'v1 0')).toThrow(/image tag "v1 0" is not a valid tag/);
    // What the workflows publish is what `kgraph-ci deploy --version` expects to find.
    const registry = IMAGE_REPOSITORY.slice(0, IMAGE_REPOSITORY.lastIndexOf('/'));
    expect(publishAddress(registry, 'v1.2.3').address).toBe(imageForVersion('v1.2.3'));
    expect(() => publishAddress('', 'v1')).toThrow(/registry "" is empty/);
  });
});

describe('identifiers: the one validator each, from the generated copy of ci/src/definitions/release-policy.ts', () => {
  it.each(['v1.2.3', 'v0.1.0', 'v2.0.0-rc.1'])('%s is a release tag', (tag) => expect(checkVersionTag(tag)).toBe(tag));
  it.each(['1.2.3', 'v01.2.3', 'v1.2.3-01', 'v1.2.3+meta', 'latest'])('%s is not a release tag', (tag) =>
    expect(() => checkVersionTag(tag)).toThrow(/is not a release tag/),
  );
  it('git object ids are SHA-1 only, as everywhere in the pipeline', () => {
    expect(checkGitObject('a'.repeat(40), 'tree')).toBe('a'.repeat(40));
    for (const bad of ['a'.repeat(64), 'A'.repeat(40), 'main', ''])
      expect(() => checkGitObject(bad, 'tree')).toThrow(/not a git object id/);
  });
});
