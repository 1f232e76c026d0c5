/**
 * What each module function asks of the engine, recorded by the fake engine: images, services and
 * aliases, readiness waits, caches, env, secrets and the kgraph-ci argv. Expectations come from
 * ci/src (the step table and environments), never from the module's own copy.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { GraphQLRequestError } from '@dagger.io/dagger';
import { SERVICE_NAMES, STEPS, STEP_NAMES, type ServiceName, type StepName } from '../../ci/src/definitions/steps.js';
import { ENVIRONMENTS } from '../../ci/src/definitions/environments.js';
import { DEFAULT_DATABASE_URL, DEFAULT_REDIS_URL } from '../../ci/src/platform/services/ephemeral.js';
import type { KgraphMcp } from './module-api.js';
import {
  PLAINTEXT,
  envVars,
  execs,
  record,
  serviceBindings,
  useFakeEngine,
  type Recording,
  type Secrets,
} from './harness.js';

const ctx = useFakeEngine();
const run = (...args: Parameters<typeof record> extends [unknown, ...infer R] ? R : never) =>
  record(ctx.engine, ...args);

/** ci/'s local service URL with the host replaced by the service's alias inside the engine. */
function onAlias(url: string, alias: string): string {
  const u = new URL(url);
  u.hostname = alias;
  return u.href.replace(/\/$/, '');
}

/** The image app/Dockerfile ships on: steps on the default Node run where production runs. */
function dockerfileNodeImage(): string {
  const dockerfile = readFileSync(new URL('../../app/Dockerfile', import.meta.url), 'utf8');
  const froms = [...dockerfile.matchAll(/^FROM\s+(node:\S+)/gm)].map((m) => m[1]!);
  expect(new Set(froms).size, 'app/Dockerfile uses one node image').toBe(1);
  return froms[0]!;
}

/**
 * What the module must ask the engine for, written here or taken from ci/ and app/, never read from
 * dagger/src: a wrong port, alias, URL or image in the module fails these tests.
 */
const EXPECTED = {
  node: { '22': dockerfileNodeImage(), '24': 'node:24.11.1-bookworm-slim' },
  trivy: 'aquasec/trivy:0.67.2',
  kubectl: 'registry.k8s.io/kubectl:v1.33.5',
  services: {
    postgres: {
      alias: 'postgres',
      image: 'postgres:16.10-alpine',
      port: 5432,
      urlVar: 'DATABASE_URL',
      url: onAlias(DEFAULT_DATABASE_URL, 'postgres'),
    },
    redis: {
      alias: 'redis',
      image: 'redis:7.4.5-alpine',
      port: 6379,
      urlVar: 'REDIS_URL',
      url: onAlias(DEFAULT_REDIS_URL, 'redis'),
    },
  } satisfies Record<ServiceName, { alias: string; image: string; port: number; urlVar: string; url: string }>,
};
const SERVICE = EXPECTED.services;

const ciRun = (step: StepName) => [
  'npx',
  '--no-install',
  'kgraph-ci',
  'run',
  STEPS[step].cliName,
  '--no-deps',
  '--no-services',
];
const PINNED = /^[\w./-]+:v?\d+(\.\d+)+[\w.-]*$/;

/** The module's own queries never carry a secret's plaintext (the test's setSecret calls aside). */
function expectNoPlaintext(rec: Recording): void {
  for (const value of Object.values(PLAINTEXT)) expect(rec.raw).not.toContain(value);
}

/** The secret a function passed, resolved: the setSecret query the test made for it. */
function secretBehind(rec: Recording, fieldPattern: RegExp): string {
  const m = fieldPattern.exec(rec.final);
  expect(m, `expected ${fieldPattern} in the final query`).not.toBeNull();
  return m![1]!;
}

describe('images', () => {
  it('expects pinned images itself (so a floating tag here cannot make the checks below vacuous)', () => {
    const all = [
      ...Object.values(EXPECTED.node),
      EXPECTED.trivy,
      EXPECTED.kubectl,
      ...Object.values(SERVICE).map((s) => s.image),
    ];
    for (const image of all) expect(image, image).toMatch(PINNED);
    for (const name of SERVICE_NAMES) expect(new URL(SERVICE[name].url).port).toBe(String(SERVICE[name].port));
  });

  it.each([
    ['22', EXPECTED.node['22']],
    ['24', EXPECTED.node['24']],
  ])('nodeVersion %s runs steps on %s with its own npm cache volume', async (version, image) => {
    const rec = await run((m) => m.test(), { nodeVersion: version });
    expect(rec.final).toMatch(new RegExp(`^\\s*\\{ container\\s+\\{ from \\(address: "${image}"\\)`));
    expect(rec.final).toMatch(
      new RegExp(
        `withMountedCache \\(path: "/root/\\.npm",cache: <<\\s*\\{ cacheVolume \\(key: "kgraph-mcp-npm-node${version}"\\)`,
      ),
    );
  });

  it('rejects an unsupported nodeVersion before talking to the engine', async () => {
    await expect(run((m) => m.test(), { nodeVersion: '18' })).rejects.toThrow(
      /unsupported nodeVersion "18": expected one of 22, 24/,
    );
  });
});

const runsSuite = (step: StepName) =>
  STEPS[step].commands.some((argv) => (argv as readonly string[]).includes('vitest'));

describe.each(['lint', 'typecheck', 'test', 'integrationTest'] as const)('check %s', (step) => {
  const def = STEPS[step];
  const call = (m: KgraphMcp) => m[step]();

  it('installs with npm ci from the lockfiles, then runs its step through kgraph-ci', async () => {
    const rec = await run(call);
    const argv = execs(rec.final);
    const ci = argv.findIndex((a) => a.join(' ') === 'npm ci --no-audit --no-fund');
    expect(ci).toBeGreaterThanOrEqual(0);
    expect(argv.at(-1)).toEqual(ciRun(step));
    // Only the wait clients (apt) may come before the install; the source is copied after it.
    expect(argv.slice(0, ci).every((a) => a.join(' ').includes('apt-get'))).toBe(true);
    expect(rec.final.indexOf('withExec (args: ["npm","ci"')).toBeLessThan(
      rec.final.lastIndexOf('withDirectory (path: "/src",source:'),
    );
    // The bin scripts too: npm links node_modules/.bin/kgraph-ci only when ci/bin/kgraph-ci.js exists at install.
    expect(rec.final).toMatch(/include: \["package\.json","package-lock\.json","\*\/package\.json","\*\/bin\/\*"\]/);
    // A check returns nothing: the step is forced with sync, and fails the check by error.
    expect(rec.final).toMatch(/\{ sync\s*\}/);
    expect(rec.final).not.toMatch(/\{ stdout\s*\}/);
  });

  it("gets the step table's env and cache paths", async () => {
    const rec = await run(call);
    const env = envVars(rec.final);
    expect(env.CI).toBe('true');
    for (const [k, v] of Object.entries(def.env)) expect(env[k]).toBe(v);
    for (const p of def.cachePaths) {
      const path = p.startsWith('~/') ? `/root/${p.slice(2)}` : `/src/${p.replace(/\/$/, '')}`;
      expect(rec.final).toContain(`withMountedCache (path: "${path}",cache: <<`);
    }
  });

  it('binds exactly the services the step table lists, with URLs on their aliases and a readiness wait', async () => {
    const rec = await run(call);
    const bindings = serviceBindings(rec.final);
    expect([...bindings.keys()].sort()).toEqual(def.services.map((s) => SERVICE[s].alias).sort());
    const env = envVars(rec.final);
    for (const name of def.services) {
      const spec = SERVICE[name];
      const svc = bindings.get(spec.alias)!;
      expect(svc).toContain(`from (address: "${spec.image}")`);
      expect(svc).toContain(`withExposedPort (port: ${spec.port})`);
      expect(svc).toMatch(/withDockerHealthcheck \(args: \[/);
      expect(svc).toMatch(/asService\s+\{ id/);
      expect(env[spec.urlVar]).toBe(spec.url);
      expect(new URL(env[spec.urlVar]!).hostname).toBe(spec.alias);
    }
    const argv = execs(rec.final);
    const runAt = argv.findIndex((a) => a.join(' ') === ciRun(step).join(' '));
    if (def.services.length > 0) {
      expect(env.KGRAPH_SERVICES).toBe('external');
      // The waits run in the step container, after the bindings and before the step.
      const waits = argv
        .map((a, i) => [a.join(' '), i] as const)
        .filter(([a]) => /pg_isready -h postgres|redis-cli -h redis/.test(a));
      expect(waits.map(([a]) => (a.includes('pg_isready') ? 'postgres' : 'redis')).sort()).toEqual(
        [...def.services].sort(),
      );
      for (const [, i] of waits) expect(i).toBeLessThan(runAt);
      expect(argv.some((a) => a.join(' ').includes('postgresql-client redis-tools'))).toBe(true);
    } else {
      expect(env.KGRAPH_SERVICES).toBeUndefined();
      expect(rec.final).not.toMatch(/pg_isready|redis-cli/);
      // The wait clients come only with the suite's shared install layer (see the next describe).
      expect(rec.final.includes('postgresql-client')).toBe(runsSuite(step));
    }
  });
});

describe('tools the test suite drives', () => {
  it('every step that runs the suite installs the same packages, so they share one apt + npm ci layer', async () => {
    const aptOf = async (call: (m: KgraphMcp) => Promise<unknown>) => {
      const rec = await run(call);
      return execs(rec.final)
        .map((a) => a.join(' '))
        .filter((a) => a.includes('apt-get install'));
    };
    const unit = await aptOf((m) => m.test());
    expect(unit).toHaveLength(1);
    expect(await aptOf((m) => m.integrationTest())).toEqual(unit);
    expect(await aptOf(async (m) => (await m.coverage()).id())).toEqual(unit);
    expect(await aptOf((m) => m.lint())).toEqual([]);
  });

  // The unit and integration tests run real git (policy, deploy, runner) and kubectl (manifests): a step that
  // runs vitest gets Debian's git and the pinned kubectl, installed before the source like the wait clients.
  it.each(['test', 'integrationTest', 'coverage', 'lint', 'typecheck'] as const)('%s', async (step) => {
    const runsVitest = STEPS[step].commands.some((argv) => (argv as readonly string[]).includes('vitest'));
    const rec = await run(async (m) => (step === 'coverage' ? (await m.coverage()).id() : m[step]()));
    const apt =
      execs(rec.final)
        .find((a) => a.join(' ').includes('apt-get install'))
        ?.join(' ') ?? '';
    expect(/\bgit\b/.test(apt), `${step} installs git`).toBe(runsVitest);
    expect(rec.final.includes(`withFile (path: "/usr/local/bin/kubectl",source: <<`), `${step} gets kubectl`).toBe(
      runsVitest,
    );
    if (runsVitest) {
      expect(rec.final).toMatch(
        new RegExp(
          `withFile \\(path: "/usr/local/bin/kubectl",source: <<[\\s\\S]*?from \\(address: "${EXPECTED.kubectl}"\\)`,
        ),
      );
      expect(rec.final.indexOf('apt-get install')).toBeLessThan(rec.final.indexOf('withExec (args: ["npm","ci"'));
    }
  });
});

describe('integration services', () => {
  it('Postgres uses trust auth on an unpublished service (no password anywhere) and pg_isready as healthcheck', async () => {
    const rec = await run((m) => m.integrationTest());
    const pg = serviceBindings(rec.final).get('postgres')!;
    expect(pg).toContain('withEnvVariable (name: "POSTGRES_HOST_AUTH_METHOD",value: "trust")');
    expect(pg).toContain('withDockerHealthcheck (args: ["pg_isready"');
    expect(serviceBindings(rec.final).get('redis')).toContain('withDockerHealthcheck (args: ["redis-cli"');
  });
});

describe('build, scan, publish', () => {
  it.each(['dev', 'staging', 'prod'] as const)(
    'build(%s) builds the step table image spec: the Dockerfile, context and build arguments of the host build',
    async (env) => {
      const spec = STEPS.build.image!;
      expect(spec.context).toBe('.'); // the module's source is the repository root
      const rec = await run(async (m) => (await m.image().build(env)).id());
      const args = Object.entries(spec.buildArgs).map(
        ([name, v]) => `{name:"${name}",value:"${v.replace('${env}', env)}"}`,
      );
      expect(rec.final).toContain(`dockerBuild (dockerfile: "${spec.dockerfile}",buildArgs: [${args.join(',')}])`);
      // Literal as well, so a change of the table shows up here too.
      expect(rec.final).toContain(
        `dockerBuild (dockerfile: "app/Dockerfile",buildArgs: [{name:"ENVIRONMENT",value:"${env}"}])`,
      );
    },
  );

  it('build names the valid environments when given another', async () => {
    await expect(run(async (m) => (await m.image().build('qa')).id())).rejects.toThrow(
      /unknown environment "qa": expected one of dev, staging, prod/,
    );
  });

  it('scan runs the scan step, then pinned trivy over the image tarball and the source, at the threshold and above', async () => {
    const rec = await run((m) => m.image().scan('staging', 'high'));
    const expanded = rec.queries.map((q) => ctx.engine.expand(q));
    const trivy = expanded.filter((q) => q.includes(`from (address: "${EXPECTED.trivy}")`));
    // The step first: it needs no vulnerability database, so a secret in the tree fails before trivy runs.
    const step = expanded.findIndex((q) => JSON.stringify(execs(q).at(-1)) === JSON.stringify(ciRun('scan')));
    expect(step).toBeGreaterThanOrEqual(0);
    expect(step).toBeLessThan(expanded.findIndex((q) => q.includes(`from (address: "${EXPECTED.trivy}")`)));
    const argvs = trivy.flatMap((q) => execs(q)).map((a) => a.join(' '));
    // Findings exit 3: trivy's own failures exit 1, which must never read as findings.
    expect(argvs).toContain('trivy image --input /tmp/image.tar --severity HIGH,CRITICAL --exit-code 3 --no-progress');
    expect(argvs).toContain(
      'trivy fs --scanners vuln,secret --severity HIGH,CRITICAL --exit-code 3 --no-progress /src',
    );
    // A run stamp: no trivy layer is replayed from the engine's cache either.
    expect(trivy.join('\n')).toContain('withEnvVariable (name: "KGRAPH_RUN_AT"');
    expect(trivy.join('\n')).toMatch(
      /withMountedFile \(path: "\/tmp\/image\.tar",source: <<[\s\S]*?buildArgs: \[\{name:"ENVIRONMENT",value:"staging"\}\][\s\S]*?asTarball/,
    );
    expect(trivy.join('\n')).toContain('withMountedCache (path: "/root/.cache/trivy"');
  });

  it('scan fails on findings (exit 3) with the report in the error', async () => {
    const leaves = {
      exitCode: (q: string) => (q.includes('"trivy","image"') ? 3 : 0),
      stdout: (q: string) => (q.includes('"trivy","image"') ? 'CVE-2099-0001 HIGH openssl' : 'ok'),
    };
    await expect(run((m) => m.image().scan(), { leaves })).rejects.toThrow(
      /trivy image scan: findings at or above the threshold \(exit 3\):\nCVE-2099-0001 HIGH openssl/,
    );
  });

  it('scan reports trivy failing to run (exit 1, e.g. no vulnerability database) with its stderr, not as findings', async () => {
    const leaves = {
      exitCode: (q: string) => (q.includes('"trivy","fs"') ? 1 : 0),
      stdout: () => '',
      stderr: (q: string) =>
        q.includes('"trivy","fs"') ? 'FATAL init error: DB error: failed to download vulnerability DB' : '',
    };
    const err = await run((m) => m.image().scan(), { leaves }).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(err?.message).toMatch(
      /trivy source scan could not run \(exit 1\), so nothing was scanned:\nFATAL init error: DB error: failed to download vulnerability DB/,
    );
    expect(err?.message).not.toMatch(/findings/);
  });

  it('scan with allowOffline lets the step skip an unanswered audit (KGRAPH_SCAN_ALLOW_OFFLINE=1, what kgraph-ci scan reads); without it, nothing is skipped', async () => {
    const stepQuery = async (...args: [string, string, boolean?]) => {
      const rec = await run((m) => m.image().scan(...args));
      const expanded = rec.queries.map((q) => ctx.engine.expand(q));
      const found = expanded.find((q) => JSON.stringify(execs(q).at(-1)) === JSON.stringify(ciRun('scan')));
      if (!found) throw new Error('no scan step query');
      return found;
    };
    expect(envVars(await stepQuery('staging', 'high', true))).toMatchObject({ KGRAPH_SCAN_ALLOW_OFFLINE: '1' });
    expect(envVars(await stepQuery('staging', 'high'))).not.toHaveProperty('KGRAPH_SCAN_ALLOW_OFFLINE');
    expect(envVars(await stepQuery('dev', 'high', false))).not.toHaveProperty('KGRAPH_SCAN_ALLOW_OFFLINE');
  });

  it('scan refuses allowOffline, before talking to the engine, where the release policy does not accept a skipped audit', async () => {
    const strict = Object.entries(ENVIRONMENTS).filter(([, e]) => !e.release.skippedAuditAcceptable);
    expect(strict.map(([name]) => name)).toContain('prod');
    for (const [name] of strict) {
      let sent = -1;
      await expect(
        run(async (m) => {
          sent = 0;
          return m.image().scan(name, 'high', true);
        }).then((rec) => (sent = rec.queries.length)),
      ).rejects.toThrow(
        new RegExp(`allowOffline refused for ${name}: its release policy does not accept a skipped dependency audit`),
      );
      expect(sent).toBe(0);
    }
  });

  it('scan rejects an unknown severity', async () => {
    await expect(run((m) => m.image().scan('dev', 'SEVERE'))).rejects.toThrow(
      /unknown severity "SEVERE": expected one of UNKNOWN, LOW, MEDIUM, HIGH, CRITICAL/,
    );
  });

  it('publish authenticates to the registry host with the password secret by id and returns the digest reference', async () => {
    let ref = '';
    const rec = await run(async (m, s) => {
      ref = await m.image().publish('ghcr.io/acme/', 'v1.2.3', 'bot', s.password);
    });
    expect(ref).toBe(`ghcr.io/acme/kgraph-mcp:v1.2.3@sha256:${'0'.repeat(64)}`);
    const secret = secretBehind(rec, /withRegistryAuth \(address: "ghcr\.io",username: "bot",secret: <<([\s\S]*?)>>/);
    expect(secret).toMatch(/setSecret \(name: "registry-password"/);
    expect(rec.final).toContain('publish (address: "ghcr.io/acme/kgraph-mcp:v1.2.3")');
    expect(rec.final).toContain('value:"prod"');
    expectNoPlaintext(rec);
  });
});

describe('build once, promote by digest', () => {
  const [commit, tree] = ['c'.repeat(40), 'e'.repeat(40)];

  it('publishCandidate labels the image with commit and tree, pushes sha-<commit> and answers the digest parts as JSON', async () => {
    let out = '';
    const rec = await run(async (m, s) => {
      out = await m.image().publishCandidate('ghcr.io/kgraph-mcp', 'bot', s.password, commit, tree);
    });
    expect(JSON.parse(out)).toEqual({
      image: `ghcr.io/kgraph-mcp/kgraph-mcp@sha256:${'0'.repeat(64)}`,
      name: 'ghcr.io/kgraph-mcp/kgraph-mcp',
      digest: `sha256:${'0'.repeat(64)}`,
      commit,
      tree,
    });
    expect(rec.final).toContain(`withLabel (name: "org.opencontainers.image.revision",value: "${commit}")`);
    expect(rec.final).toContain(`withLabel (name: "io.kgraph.tree",value: "${tree}")`);
    expect(rec.final).toContain(`publish (address: "ghcr.io/kgraph-mcp/kgraph-mcp:sha-${commit}")`);
    // One artifact for every environment: no ENVIRONMENT build argument (the Dockerfile default; Deployments set it).
    expect(rec.all).toContain('dockerBuild');
    expect(rec.all).not.toMatch(/buildArgs: \[[^\]]*ENVIRONMENT/);
    expectNoPlaintext(rec);
  });

  it('publishCandidate refuses a commit or tree that is not a git object id before any engine call', async () => {
    ctx.engine.reset();
    await expect(
      run((m, s) => m.image().publishCandidate('ghcr.io/kgraph-mcp', 'bot', s.password, 'main', tree)),
    ).rejects.toThrow(/commit "main" is not a git object id \(40 lowercase hex digits, SHA-1\)/);
    await expect(
      run((m, s) => m.image().publishCandidate('ghcr.io/kgraph-mcp', 'bot', s.password, commit, '')),
    ).rejects.toThrow(/tree "" is not/);
    expect(ctx.engine.queries.filter((q) => !q.query.includes('setSecret'))).toEqual([]);
  });

  it('promotionCandidate and deliveryReport run kgraph-ci with the token as a secret; release with an image attaches its SBOM', async () => {
    const cand = await run((m, s) => m.delivery().promotionCandidate('v1.4.0', s.githubToken, 'acme/kgraph-mcp'));
    expect(execs(cand.final).at(-1)).toEqual([
      'npx',
      '--no-install',
      'kgraph-ci',
      'promotion',
      'candidate',
      '--env',
      'prod',
      '--version',
      'v1.4.0',
      '--repo',
      'acme/kgraph-mcp',
    ]);
    const report = await run(async (m, s) =>
      (await m.delivery().deliveryReport(s.githubToken, 'acme/kgraph-mcp')).id(),
    );
    expect(execs(report.final).at(-1)).toEqual([
      'npx',
      '--no-install',
      'kgraph-ci',
      'report',
      '--repo',
      'acme/kgraph-mcp',
      '--since',
      '30d',
      '--out',
      '/out/report.md',
      '--json-out',
      '/out/report.json',
    ]);
    const image = `ghcr.io/kgraph-mcp/kgraph-mcp@sha256:${'a'.repeat(64)}`;
    const rel = await run((m, s) => m.delivery().release('v1.4.0', s.githubToken, 'acme/kgraph-mcp', image, 'bot'));
    const argvs = execs(rel.final);
    expect(argvs.at(-2)).toEqual([
      'npx',
      '--no-install',
      'kgraph-ci',
      'sbom',
      '--dir',
      '/run/promoted-image',
      '--out',
      '/tmp/sbom/kgraph-mcp.cdx.json',
      '--version',
      image,
    ]);
    expect(argvs.at(-1)).toEqual([
      'npx',
      '--no-install',
      'kgraph-ci',
      'release',
      '--tag',
      'v1.4.0',
      '--repo',
      'acme/kgraph-mcp',
      '--sbom',
      '/tmp/sbom/kgraph-mcp.cdx.json',
    ]);
    expect(rel.all).toContain(`from (address: "${image}")`);
    expectNoPlaintext(rel);
    await expect(
      run((m, s) =>
        m.delivery().release('v1.4.0', s.githubToken, 'acme/kgraph-mcp', 'ghcr.io/kgraph-mcp/kgraph-mcp:v1.4.0'),
      ),
    ).rejects.toThrow(/rule "digest"/);
    await expect(
      run((m, s) => m.delivery().deliveryReport(s.githubToken, 'acme/kgraph-mcp', '30 days')),
    ).rejects.toThrow(/since "30 days"/);
  });
});

describe('serve and latencyGate', () => {
  it('serve binds fresh Postgres and Redis, migrates, seeds and serves on 8000 in one process', async () => {
    const rec = await run(async (m) => (await m.serve('dev')).id());
    const bindings = serviceBindings(rec.final);
    expect([...bindings.keys()].sort()).toEqual(['postgres', 'redis']);
    const env = envVars(rec.final);
    expect(env).toMatchObject({
      DATABASE_URL: SERVICE.postgres.url,
      REDIS_URL: SERVICE.redis.url,
      ENVIRONMENT: 'dev',
      LOG_LEVEL: ENVIRONMENTS.dev.logLevel,
      DEBUG: String(ENVIRONMENTS.dev.debug),
      PORT: '8000',
    });
    expect(rec.final).toContain('withExposedPort (port: 8000)');
    expect(rec.final).toMatch(
      /withDockerHealthcheck \(args: \["node","-e","fetch\(\\"http:\/\/127\.0\.0\.1:8000\/readyz\\"\)[^\]]*\],interval: "2s",timeout: "3s",startPeriod: "120s",retries: 30\)/,
    );
    const start = `node dist/migrate.js && node dist/seed.js --count ${ENVIRONMENTS.dev.seedCount} && exec node dist/main.js`;
    // No key given: a key generated inside the engine is mounted and read at start.
    expect(rec.final).toContain(
      `asService (args: ["sh","-c","API_KEYS=\\"$(cat /run/secrets/api-key)\\"; export API_KEYS; ${start}"])`,
    );
    expect(rec.final).toMatch(
      /withMountedFile \(path: "\/run\/secrets\/api-key",source: <<[\s\S]*?randomBytes\(24\)[\s\S]*?file \(path: "\/api-key"\)/,
    );
  });

  it('serve with an API key passes it as a secret variable and reads no key file', async () => {
    const rec = await run(async (m, s) => (await m.serve('staging', s.password)).id());
    expect(rec.final).toMatch(/withSecretVariable \(name: "API_KEYS",secret: <<\s*\{ setSecret/);
    expect(rec.final).not.toContain('/run/secrets/api-key');
    expect(rec.final).toContain(`seed.js --count 200`);
    expectNoPlaintext(rec);
  });

  it('latencyGate runs the ci gate against serve() bound as app, after waiting for /readyz', async () => {
    const rec = await run((m) => m.gate().latencyGate());
    const bindings = serviceBindings(rec.final);
    expect([...bindings.keys()]).toContain('app');
    const app = bindings.get('app')!;
    // The step table's services for the gate are bound to the service under test.
    for (const name of STEPS.latencyGate.services)
      expect(app).toContain(`withServiceBinding (alias: "${SERVICE[name].alias}"`);
    expect(app).toContain('value:"staging"');
    // The limiter is out of the way, as the host gate has it: with the default every request was a 429.
    expect(app).toContain('withEnvVariable (name: "RATE_LIMIT_MAX",value: "100000000")');
    const argv = execs(rec.final).filter((a) => !app.includes(JSON.stringify(a)));
    expect(argv.at(-1)).toEqual([
      'sh',
      '-c',
      'API_KEY="$(cat /run/secrets/api-key)" exec npx --no-install kgraph-ci gate latency --url http://app:8000 --env staging',
    ]);
    // The gate and the service read the same generated key file.
    const keyFiles = [
      ...rec.final.matchAll(/withMountedFile \(path: "\/run\/secrets\/api-key",source: <<([\s\S]*?)>>/g),
    ].map((m) => m[1]);
    expect(keyFiles.length).toBe(2);
    expect(keyFiles[0]).toBe(keyFiles[1]);
    expect(argv.at(-2)?.join(' ')).toContain('http://app:8000/readyz');
    for (const [k, v] of Object.entries(STEPS.latencyGate.env)) expect(envVars(rec.final)[k]).toBe(v);
    expect(envVars(rec.final).NODE_ENV).toBeUndefined();
  });
});

describe('latencyGate with a baseline', () => {
  const image = 'ghcr.io/kgraph-mcp/kgraph-mcp:v1.4.0';

  it('serves the baseline image as "baseline" on its own Postgres and Redis, waits for both, compares, and never replays', async () => {
    const rec = await run((m, s) => m.gate().latencyGate('staging', image, undefined, 'bot', s.password));
    const bindings = serviceBindings(rec.final);
    const app = bindings.get('app')!;
    const baseline = bindings.get('baseline')!;
    expect(baseline).toContain(`from (address: "${image}")`);
    expect(baseline).toMatch(/withRegistryAuth \(address: "ghcr\.io",username: "bot",secret: <<\s*\{ setSecret/);
    expect(app).not.toContain(image);
    // Its own database and Redis: the service containers differ from the candidate's, so the engine
    // cannot share one Postgres between the two copies.
    const basePg = serviceBindings(baseline).get('postgres')!;
    const appPg = serviceBindings(app).get('postgres')!;
    expect(basePg).toContain('name: "KGRAPH_SERVICE_INSTANCE",value: "baseline"');
    expect(appPg).not.toContain('KGRAPH_SERVICE_INSTANCE');
    expect(serviceBindings(baseline).get('redis')!).toContain('value: "baseline"');
    // Same environment and seed on both sides.
    for (const side of [app, baseline]) {
      expect(side).toContain('name: "ENVIRONMENT",value: "staging"');
      expect(side).toContain('withEnvVariable (name: "RATE_LIMIT_MAX",value: "100000000")');
      expect(side).toContain('seed.js --count 200');
    }
    const argv = execs(rec.final).filter(
      (a) => !app.includes(JSON.stringify(a)) && !baseline.includes(JSON.stringify(a)),
    );
    expect(argv.at(-1)).toEqual([
      'sh',
      '-c',
      'API_KEY="$(cat /run/secrets/api-key)" exec npx --no-install kgraph-ci gate latency --url http://app:8000 --env staging --baseline-url http://baseline:8000',
    ]);
    expect(argv.at(-3)?.join(' ')).toContain('http://app:8000/readyz');
    expect(argv.at(-2)?.join(' ')).toContain('http://baseline:8000/readyz');
    // A fresh stamp right before the gate's exec: its layer is never replayed either.
    expect(envVars(rec.final).KGRAPH_RUN_AT).toMatch(/^\d{4}-\d\d-\d\dT/);
    expectNoPlaintext(rec);
  });

  it('builds a baseline from a checkout of its git ref with app/Dockerfile', async () => {
    const rec = await run(async (m) => {
      const { dag } = await import('@dagger.io/dagger');
      return m.gate().latencyGate('staging', undefined, dag.directory().withNewFile('BASELINE', 'v1.3.0'));
    });
    const baseline = serviceBindings(rec.final).get('baseline')!;
    expect(baseline).toMatch(
      /withNewFile \(path: "BASELINE",contents: "v1\.3\.0"\)[\s\S]*dockerBuild \(dockerfile: "app\/Dockerfile"/,
    );
    expect(execs(rec.final).at(-1)?.at(-1)).toContain('--baseline-url http://baseline:8000');
  });

  it('refuses contradicting or malformed baselines before anything runs', async () => {
    await expect(
      run(async (m) => {
        const { dag } = await import('@dagger.io/dagger');
        return m.gate().latencyGate('staging', image, dag.directory());
      }),
    ).rejects.toThrow(/at most one of baselineImage and baselineSource/);
    await expect(run((m) => m.gate().latencyGate('staging', 'not an image; rm -rf /'))).rejects.toThrow(
      /is not an image reference/,
    );
    await expect(run((m) => m.gate().latencyGate('staging', image, undefined, 'bot'))).rejects.toThrow(/go together/);
  });
});

describe('delivery', () => {
  it('deploy mounts the kubeconfig secret as a file, passes the GitHub token as a secret, runs the table command, never cached', async () => {
    const image = `ghcr.io/kgraph-mcp/kgraph-mcp@sha256:${'a'.repeat(64)}`;
    const [commit, tree] = ['c'.repeat(40), 'e'.repeat(40)];
    const rec = await run((m, s) =>
      m
        .delivery()
        .deploy('prod', image, s.kubeconfig, s.githubToken, s.password, 'acme/kgraph-mcp', 'v1.4.0', commit, tree),
    );
    expect(execs(rec.final).at(-1)).toEqual([
      'npx',
      '--no-install',
      'kgraph-ci',
      'deploy',
      '--env',
      'prod',
      '--image',
      image,
      '--repo',
      'acme/kgraph-mcp',
      '--version',
      'v1.4.0',
      '--commit',
      commit,
      '--tree',
      tree,
    ]);
    expect(secretBehind(rec, /withSecretVariable \(name: "API_KEY",secret: <<([\s\S]*?)>>/)).toContain(
      'setSecret (name: "registry-password"',
    );
    expect(
      secretBehind(rec, /withMountedSecret \(path: "\/run\/secrets\/kubeconfig",source: <<([\s\S]*?)>>/),
    ).toContain('setSecret (name: "kubeconfig"');
    expect(secretBehind(rec, /withSecretVariable \(name: "GITHUB_TOKEN",secret: <<([\s\S]*?)>>/)).toContain(
      'setSecret (name: "github-token"',
    );
    const env = envVars(rec.final);
    expect(env.KUBECONFIG).toBe('/run/secrets/kubeconfig');
    expect(Date.parse(env.KGRAPH_RUN_AT!)).toBeGreaterThan(Date.now() - 60_000);
    expect(rec.final).toMatch(
      new RegExp(
        `withFile \\(path: "/usr/local/bin/kubectl",source: <<[\\s\\S]*?from \\(address: "${EXPECTED.kubectl}"\\)`,
      ),
    );
    expect(serviceBindings(rec.final).size).toBe(0);
    expectNoPlaintext(rec);
  });

  it("deploy gets the repository's .git through delivery's repo (its migrations-check phase reads the history)", async () => {
    const deploy = (withGit: boolean) =>
      run(async (m, s) => {
        const { dag } = await import('@dagger.io/dagger');
        const delivery = withGit ? m.delivery(dag.directory().withNewDirectory('.git')) : m.delivery();
        return delivery.deploy('dev', 'ghcr.io/kgraph-mcp/kgraph-mcp:sha-1234567', s.kubeconfig);
      });
    const gitMount = /withDirectory \(path: "\.git",source: <<[\s\S]*?withNewDirectory \(path: "\.git"\)/;
    expect((await deploy(true)).final).toMatch(gitMount);
    expect((await deploy(false)).final).not.toMatch(/"\.git"/);
  });

  it('deploy without a GitHub token sets no GITHUB_TOKEN', async () => {
    const rec = await run((m, s) =>
      m.delivery().deploy('dev', 'ghcr.io/kgraph-mcp/kgraph-mcp:sha-1234567', s.kubeconfig),
    );
    expect(rec.final).not.toContain('GITHUB_TOKEN');
    expect(rec.final).not.toContain('API_KEY');
    expect(execs(rec.final).at(-1)).not.toContain('--repo');
  });

  it.each([
    ['ghcr.io/kgraph-mcp/kgraph-mcp:latest', 'v1.0.0', 'digest'],
    ['ghcr.io/kgraph-mcp/kgraph-mcp:staging-1234567', 'v1.0.0', 'digest'],
    [`ghcr.io/evil/other@sha256:${'a'.repeat(64)}`, 'v1.0.0', 'repository'],
    [`ghcr.io/kgraph-mcp/kgraph-mcp@sha256:${'a'.repeat(64)}`, undefined, 'release-tag'],
    ['ghcr.io/kgraph-mcp/kgraph-mcp@sha256:abc', 'v1.0.0', 'reference'],
    ['localhost:5000/kgraph-mcp', 'v1.0.0', 'repository'],
  ])('deploy refuses %s to prod (release policy rule %s) before any engine call', async (image, version, rule) => {
    ctx.engine.reset();
    await expect(
      run((m, s) => m.delivery().deploy('prod', image, s.kubeconfig, undefined, undefined, undefined, version)),
    ).rejects.toThrow(new RegExp(`refusing to deploy .* to prod: release policy rule "${rule}"`));
    expect(ctx.engine.queries.filter((q) => !q.query.includes('setSecret'))).toEqual([]);
  });

  it('migrationsCompat runs kgraph-ci migrations compat with .git, git installed, Postgres and Redis bound and waited for, the token as a secret, never cached', async () => {
    const digest = `sha256:${'a'.repeat(64)}`;
    const previousDigest = `sha256:${'b'.repeat(64)}`;
    const rec = await run(async (m, s) => {
      const { dag } = await import('@dagger.io/dagger');
      return m
        .delivery(dag.directory().withNewDirectory('.git'))
        .migrationsCompat(
          'prod',
          'v1.3.0',
          `ghcr.io/kgraph-mcp/kgraph-mcp@${digest}`,
          previousDigest,
          s.githubToken,
          'acme/kgraph-mcp',
        );
    });
    const argv = execs(rec.final);
    expect(argv.at(-1)).toEqual([
      'npx',
      '--no-install',
      'kgraph-ci',
      'migrations',
      'compat',
      '--env',
      'prod',
      '--previous',
      'v1.3.0',
      '--previous-digest',
      previousDigest,
      '--image',
      digest,
      '--repo',
      'acme/kgraph-mcp',
    ]);
    // The previous release is a git worktree of the history: .git is in the tree and git is installed.
    expect(rec.final).toMatch(/withDirectory \(path: "\.git",source: <<[\s\S]*?withNewDirectory \(path: "\.git"\)/);
    expect(argv.find((a) => a[0] === 'sh' && a[2]?.includes('apt-get install'))?.[2]).toMatch(/\bgit\b/);
    const bound = serviceBindings(rec.final);
    expect([...bound.keys()].sort()).toEqual(['postgres', 'redis']);
    expect(bound.get('postgres')).toContain(`from (address: "${SERVICE.postgres.image}")`);
    const env = envVars(rec.final);
    expect(env.DATABASE_URL).toBe(SERVICE.postgres.url);
    expect(env.REDIS_URL).toBe(SERVICE.redis.url);
    expect(Date.parse(env.KGRAPH_RUN_AT!)).toBeGreaterThan(Date.now() - 60_000);
    // Both services answer before the check starts: the readiness waits come right before it.
    const waits = argv.slice(-3, -1).map((a) => a.join(' '));
    expect(waits[0]).toContain('pg_isready');
    expect(waits[1]).toContain('redis-cli');
    expect(secretBehind(rec, /withSecretVariable \(name: "GITHUB_TOKEN",secret: <<([\s\S]*?)>>/)).toContain(
      'setSecret (name: "github-token"',
    );
    expectNoPlaintext(rec);
  });

  it('migrationsCompat without arguments checks prod against the release the ledger says runs there (no --previous)', async () => {
    const rec = await run((m) => m.delivery().migrationsCompat());
    expect(execs(rec.final).at(-1)).toEqual([
      'npx',
      '--no-install',
      'kgraph-ci',
      'migrations',
      'compat',
      '--env',
      'prod',
    ]);
    expect(rec.final).not.toContain('GITHUB_TOKEN');
  });

  it.each([
    [['prod', '--force'], /previous "--force" is not a git ref name/],
    [
      ['prod', undefined, 'ghcr.io/kgraph-mcp/kgraph-mcp:v1.3.0'],
      /image "ghcr.io\/kgraph-mcp\/kgraph-mcp:v1.3.0" has no sha256 digest/,
    ],
    [['prod', undefined, undefined, 'sha256:abc'], /previousDigest "sha256:abc" has no sha256 digest/],
    [['prod', undefined, undefined, undefined, undefined, 'not a repo'], /repository "not a repo" must be owner\/name/],
  ] as const)('migrationsCompat refuses %j before any engine call', async (args, message) => {
    ctx.engine.reset();
    const [env, previous, image, previousDigest, , repository] = args as readonly (string | undefined)[];
    await expect(
      run((m) => m.delivery().migrationsCompat(env, previous, image, previousDigest, undefined, repository)),
    ).rejects.toThrow(message);
    expect(ctx.engine.queries).toEqual([]);
  });

  it('rollback runs the table command with an optional --to and the kubeconfig secret', async () => {
    const rec = await run((m, s) => m.delivery().rollback('staging', s.kubeconfig, 'v1.3.0'));
    expect(execs(rec.final).at(-1)).toEqual([
      'npx',
      '--no-install',
      'kgraph-ci',
      'rollback',
      '--env',
      'staging',
      '--to',
      'v1.3.0',
    ]);
    expect(rec.final).toContain('withMountedSecret (path: "/run/secrets/kubeconfig"');
    const plain = await run((m, s) => m.delivery().rollback('staging', s.kubeconfig));
    expect(execs(plain.final).at(-1)).toEqual(['npx', '--no-install', 'kgraph-ci', 'rollback', '--env', 'staging']);
    await expect(run((m, s) => m.delivery().rollback('prod', s.kubeconfig, 'latest'))).rejects.toThrow(
      /rollback target "latest" is not a release tag/,
    );
  });

  it('watch runs kgraph-ci watch with the kubeconfig secret', async () => {
    const rec = await run((m, s) => m.delivery().watch('prod', 'https://kgraph-mcp.example.com', s.kubeconfig));
    expect(execs(rec.final).at(-1)).toEqual([
      'npx',
      '--no-install',
      'kgraph-ci',
      'watch',
      '--env',
      'prod',
      '--url',
      'https://kgraph-mcp.example.com',
      '--duration',
      '15m',
    ]);
    expect(rec.final).toContain('withMountedSecret (path: "/run/secrets/kubeconfig"');
    expectNoPlaintext(rec);
    await expect(run((m, s) => m.delivery().watch('prod', 'https://x', s.kubeconfig, 'forever'))).rejects.toThrow(
      /duration "forever"/,
    );
  });

  it('release validates the tag and passes the GitHub token as a secret', async () => {
    const rec = await run((m, s) => m.delivery().release('v2.0.0', s.githubToken, 'acme/kgraph-mcp'));
    expect(execs(rec.final).at(-1)).toEqual([
      'npx',
      '--no-install',
      'kgraph-ci',
      'release',
      '--tag',
      'v2.0.0',
      '--repo',
      'acme/kgraph-mcp',
    ]);
    expect(rec.final).toMatch(/withSecretVariable \(name: "GITHUB_TOKEN",secret: <</);
    expectNoPlaintext(rec);
    await expect(run((m, s) => m.delivery().release('2.0.0', s.githubToken))).rejects.toThrow(
      /tag "2.0.0" is not a release tag/,
    );
  });

  it('cutRelease and protect run their kgraph-ci commands with the token as a secret and a run stamp', async () => {
    const cut = await run((m, s) => m.repo().cutRelease(s.githubToken));
    expect(execs(cut.final).at(-1)).toEqual([
      'npx',
      '--no-install',
      'kgraph-ci',
      'release',
      'cut',
      '--from',
      'develop',
    ]);
    const protect = await run((m, s) => m.repo().protect(s.githubToken, 'acme/kgraph-mcp'));
    expect(execs(protect.final).at(-1)).toEqual([
      'npx',
      '--no-install',
      'kgraph-ci',
      'github',
      'protect',
      '--repo',
      'acme/kgraph-mcp',
    ]);
    for (const rec of [cut, protect]) {
      expect(rec.final).toMatch(/withSecretVariable \(name: "GITHUB_TOKEN",secret: <</);
      expect(envVars(rec.final).KGRAPH_RUN_AT).toBeDefined();
      expectNoPlaintext(rec);
    }
    await expect(run((m, s) => m.repo().protect(s.githubToken, 'not a repo'))).rejects.toThrow(/must be owner\/name/);
  });

  it('the only queries carrying secret plaintext are the ones the test made to create the secrets', async () => {
    const rec = await run(async (m, s) => {
      await m.delivery().deploy('dev', 'ghcr.io/kgraph-mcp/kgraph-mcp:v1.0.0', s.kubeconfig, s.githubToken);
      await m.delivery().release('v1.0.0', s.githubToken);
      await m.image().publish('ghcr.io/acme', 'v1.0.0', 'bot', s.password);
    });
    const carrying = ctx.engine.queries
      .map((q) => q.query)
      .filter((q) => Object.values(PLAINTEXT).some((p) => q.includes(p)));
    // Each secret did travel (so this check is not vacuous), and only inside setSecret.
    for (const p of Object.values(PLAINTEXT)) expect(carrying.some((q) => q.includes(p))).toBe(true);
    for (const q of carrying)
      expect(q).toMatch(/^\s*\{ setSecret \(name: "[\w-]+",plaintext: "[\w-]+"\) \{ id\s*\} \}\s*$/);
    expect(rec.secretQueries.length).toBeGreaterThanOrEqual(3);
    expect(rec.raw).toContain('withSecretVariable (name: "GITHUB_TOKEN",secret: "ID');
  });
});

describe('policy and debug', () => {
  it('policyPr and policyTag run kgraph-ci policy; policyTag mounts the repo with its history', async () => {
    const pr = await run((m) => m.repo().policyPr('feature/x', 'develop'));
    expect(execs(pr.final).at(-1)).toEqual([
      'npx',
      '--no-install',
      'kgraph-ci',
      'policy',
      'pr',
      '--source',
      'feature/x',
      '--target',
      'develop',
    ]);
    const tag = await run(async (m) => {
      const { dag } = await import('@dagger.io/dagger');
      return m.repo().policyTag('v1.0.0', dag.directory().withNewDirectory('.git'));
    });
    expect(execs(tag.final).at(-1)).toEqual([
      'npx',
      '--no-install',
      'kgraph-ci',
      'policy',
      'tag',
      'v1.0.0',
      '--repo',
      '/repo',
    ]);
    expect(tag.final).toMatch(
      /withMountedDirectory \(path: "\/repo",source: <<[\s\S]*?withNewDirectory \(path: ".git"\)/,
    );
  });

  it.each(['integration-test', 'integrationTest'])(
    'debug(%s) returns the step container with services bound, not run',
    async (step) => {
      const rec = await run(async (m) => (await m.debug(step)).id());
      expect([...serviceBindings(rec.final).keys()].sort()).toEqual(['postgres', 'redis']);
      expect(rec.final).toContain('withDefaultTerminalCmd (args: ["bash"])');
      expect(execs(rec.final).map((a) => a.join(' '))).not.toContain(ciRun('integrationTest').join(' '));
    },
  );

  it('debug names the valid steps when given an unknown one', async () => {
    await expect(run(async (m) => (await m.debug('deploy-all')).id())).rejects.toThrow(
      /unknown step "deploy-all": expected one of lint, typecheck, test, integration-test/,
    );
  });

  it("coverage runs the step table's coverage step with its services and env, and returns the directory it writes", async () => {
    const rec = await run(async (m) => (await m.coverage()).id());
    expect([...serviceBindings(rec.final).keys()].sort()).toEqual(
      [...STEPS.coverage.services].map((s) => SERVICE[s].alias).sort(),
    );
    expect(execs(rec.final).at(-1)).toEqual(ciRun('coverage'));
    for (const [k, v] of Object.entries(STEPS.coverage.env)) expect(envVars(rec.final)[k]).toBe(v);
    // The step writes its report where its command says; the module returns exactly that directory.
    expect(STEPS.coverage.commands).toEqual([
      ['npx', '--no-install', 'vitest', 'run', '--coverage', '--coverage.reportsDirectory=coverage'],
    ]);
    expect(rec.final).toContain('directory (path: "/src/coverage")');
  });
});

describe('session protocol', () => {
  it('the SDK authenticates with the session token, and a wrong token is refused', async () => {
    const good = process.env.DAGGER_SESSION_TOKEN;
    process.env.DAGGER_SESSION_TOKEN = 'wrong-token';
    try {
      const err = await run((m) => m.lint()).then(
        () => undefined,
        (e: unknown) => e,
      );
      // The engine's refusal itself, not any error on the way (a module bug would throw too).
      expect(err).toBeInstanceOf(GraphQLRequestError);
      expect((err as GraphQLRequestError).response).toMatchObject({
        status: 401,
        errors: [{ message: 'bad session token' }],
      });
    } finally {
      process.env.DAGGER_SESSION_TOKEN = good;
    }
    // With the right token the same call goes through to the step.
    const ok = await run((m) => m.lint());
    expect(execs(ok.final).at(-1)).toEqual(ciRun('lint'));
  });
});

describe('agreement with the step table', () => {
  /** How each step's function is called; a step missing here fails the type-check and the test. */
  const CALLS: Record<StepName, (m: KgraphMcp, s: Secrets) => Promise<unknown>> = {
    lint: (m) => m.lint(),
    typecheck: (m) => m.typecheck(),
    test: (m) => m.test(),
    integrationTest: (m) => m.integrationTest(),
    migrationsCheck: async (m) => {
      const { dag } = await import('@dagger.io/dagger');
      return m.migrationsCheck(dag.directory().withNewDirectory('.git'));
    },
    rolloutRehearsal: async (m) => {
      const { dag } = await import('@dagger.io/dagger');
      return (await m.rolloutRehearsal(dag.directory().withNewDirectory('.git'))).id();
    },
    coverage: async (m) => (await m.coverage()).id(),
    build: async (m) => (await m.image().build()).id(),
    scan: (m) => m.image().scan(),
    latencyGate: (m) => m.gate().latencyGate(),
    deploy: (m, s) => m.delivery().deploy('dev', 'ghcr.io/kgraph-mcp/kgraph-mcp:v1.0.0', s.kubeconfig),
    rollback: (m, s) => m.delivery().rollback('dev', s.kubeconfig),
    release: (m, s) => m.delivery().release('v1.0.0', s.githubToken),
  };

  it.each(STEP_NAMES)('%s binds every service the step needs, and no other', async (step) => {
    const rec = await run(CALLS[step]);
    const bound = new Set([...rec.all.matchAll(/withServiceBinding \(alias: "(\w+)"/g)].map((m) => m[1]));
    for (const name of STEPS[step].services) expect(bound, `${step} needs ${name}`).toContain(SERVICE[name].alias);
    for (const name of SERVICE_NAMES) {
      if (!STEPS[step].services.includes(name))
        expect(bound.has(SERVICE[name].alias), `${step} binds ${name}`).toBe(false);
    }
  });

  it('the steps pull exactly the images this test expects, and each of them', async () => {
    const expected = [
      EXPECTED.node['22'],
      EXPECTED.trivy,
      EXPECTED.kubectl,
      ...Object.values(SERVICE).map((s) => s.image),
    ];
    const pulled = new Set<string>();
    for (const step of STEP_NAMES) {
      const rec = await run(CALLS[step]);
      for (const m of rec.all.matchAll(/from \(address: "([^"]+)"\)/g)) pulled.add(m[1]!);
    }
    expect([...pulled].sort()).toEqual([...expected].sort());
  });
});
