/**
 * Contract tests of the built image against the rendered prod overlay: the Job's and the Deployment's
 * pod specs run on the image as docker can express them (host network: no bridge on these machines),
 * probes answer as the manifest expects, HEALTHCHECK, drain on SIGTERM under load, and what the image
 * holds. Without an engine every test is skipped and its name says why.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useEphemeralServices } from '../../../../testkit/services.js';
import type { BuiltImage } from '../../../src/verify/image/build.js';
import { checkImageSize } from '../../../src/verify/image/build.js';
import {
  containerState,
  exec,
  exportImageFilesystem,
  logs,
  removeContainer,
  runPlan,
  waitExit,
} from '../../../src/verify/image/container.js';
import {
  configMapsOf,
  podToDockerRun,
  probePort,
  workloadPod,
  type PodSpec,
} from '../../../src/verify/image/pod-run.js';
import { listFiles, scanImage } from '../../../src/verify/image/scan.js';
import type { KubeObject } from '../../../src/platform/kube/validate.js';
import { listNpmPackages } from '../../../src/verify/scan/sbom.js';
import { REPO_ROOT } from '../../../src/platform/repo-root.js';
import { freePort } from '../../../src/platform/services/local-app.js';
import { STEPS } from '../../../src/definitions/steps.js';
import { cleanup, docker, get, owner, ownerFlags, prodImage, prodManifests, skipReason, waitFor } from './harness.js';

const title = (name: string) => (skipReason ? `${name} (SKIPPED: ${skipReason})` : name);
const svc = useEphemeralServices(['postgres', 'redis']);
const apiKey = randomBytes(16).toString('hex');

let image: BuiltImage;
let objects: KubeObject[];
let deployment: PodSpec;
let job: PodSpec;

beforeAll(async () => {
  if (skipReason) return;
  objects = prodManifests();
  deployment = workloadPod(objects, 'Deployment');
  job = workloadPod(objects, 'Job', 'kgraph-mcp-migrate');
  image = await prodImage();
}, 900_000);
afterAll(cleanup, 120_000);

const secrets = () => ({
  'kgraph-mcp-secrets': {
    DATABASE_URL: svc.current.env.DATABASE_URL!,
    REDIS_URL: svc.current.env.REDIS_URL!,
    API_KEYS: apiKey,
    SENTRY_DSN: 'https://public@sentry.invalid/1',
  },
});
const name = (what: string) => ['--name', `${owner}-${what}`, '--network', 'host', ...ownerFlags];

/** The pod spec as a container here: PORT (a shared host network) and REDIS_PREFIX (a shared Redis) are the test's. */
async function runDeployment(what: string, extra: Record<string, string> = {}) {
  const port = await freePort();
  const plan = podToDockerRun({
    pod: deployment,
    image: image.id,
    configMaps: configMapsOf(objects),
    secrets: secrets(),
    overrides: { PORT: String(port), REDIS_PREFIX: svc.current.env.REDIS_PREFIX!, ...extra },
    dockerFlags: name(what),
  });
  const id = await runPlan(docker, plan);
  const base = `http://127.0.0.1:${port}`;
  const c = deployment.containers[0]!;
  const startup = c.startupProbe!;
  const budgetMs = (startup.failureThreshold ?? 3) * (startup.periodSeconds ?? 10) * 1000;
  try {
    await waitFor(
      `${what}: startup probe ${startup.httpGet!.path}`,
      async () => (await get(`${base}${startup.httpGet!.path}`)).status === 200,
      budgetMs,
    );
  } catch (err) {
    throw new Error(`${(err as Error).message}\n${await logs(docker, id, 40)}`, { cause: err });
  }
  return { id, port, base, plan };
}

describe.skipIf(skipReason !== undefined)(title('the migration Job on the image'), () => {
  it('migrates a fresh database with the Job command, and again without change', async () => {
    const plan = podToDockerRun({
      pod: job,
      image: image.id,
      configMaps: configMapsOf(objects),
      secrets: secrets(),
      dockerFlags: name('migrate'),
    });
    for (const round of [1, 2]) {
      const id = await runPlan(docker, {
        ...plan,
        argv: plan.argv.map((a) => (a === `${owner}-migrate` ? `${owner}-migrate-${round}` : a)),
      });
      const code = await waitExit(docker, id, 120_000);
      expect(code, await logs(docker, id)).toBe(0);
      await removeContainer(docker, id);
    }
    const files = (await readdir(join(REPO_ROOT, 'app/migrations')))
      .filter((f) => /\.(sql|js|ts)$/.test(f))
      .map((f) => f.replace(/\.\w+$/, ''));
    const client = new pg.Client({ connectionString: svc.current.env.DATABASE_URL });
    await client.connect();
    try {
      const { rows } = await client.query<{ name: string }>('SELECT name FROM pgmigrations ORDER BY run_on, id');
      expect(rows.map((r) => r.name).sort()).toEqual(files.sort());
    } finally {
      await client.end();
    }
  }, 300_000);
});

describe.skipIf(skipReason !== undefined)(title('the Deployment pod spec on the image'), () => {
  let app: Awaited<ReturnType<typeof runDeployment>>;
  beforeAll(async () => {
    app = await runDeployment('app');
  }, 180_000);

  it('runs the manifest command and args as a non-root uid with no capabilities and no new privileges', async () => {
    const c = deployment.containers[0]!;
    const inspected = JSON.parse((await docker(['inspect', '--format', '{{json .}}', app.id])).stdout) as {
      Path: string;
      Args: string[];
      Config: { User: string; ExposedPorts: Record<string, unknown> };
      HostConfig: {
        ReadonlyRootfs: boolean;
        CapDrop: string[];
        SecurityOpt: string[];
        Memory: number;
        NanoCpus: number;
      };
    };
    expect([inspected.Path, ...inspected.Args]).toEqual([...c.command!, ...(c.args ?? [])]);
    const cmdline = (await exec(docker, app.id, ['cat', '/proc/1/cmdline'])).stdout.split('\0').filter(Boolean);
    expect(cmdline).toEqual([...c.command!, ...(c.args ?? [])]);
    const status = (await exec(docker, app.id, ['cat', '/proc/1/status'])).stdout;
    const field = (k: string) => new RegExp(`^${k}:\\s*(.*)$`, 'm').exec(status)?.[1]?.trim().split(/\s+/);
    const sc = { ...deployment.securityContext, ...c.securityContext };
    expect(field('Uid')).toEqual(Array(4).fill(String(sc.runAsUser)));
    expect(field('Gid')).toEqual(Array(4).fill(String(sc.runAsGroup)));
    expect(Number(field('Uid')![0])).not.toBe(0); // runAsNonRoot, which docker cannot enforce itself
    expect(field('CapEff')).toEqual(['0000000000000000']); // capabilities: drop ALL
    expect(field('CapPrm')).toEqual(['0000000000000000']);
    expect(field('NoNewPrivs')).toEqual(['1']); // allowPrivilegeEscalation: false
    expect(inspected.HostConfig.Memory).toBe(512 * 1024 * 1024);
  });

  it('has a read-only root filesystem with only the emptyDir (/tmp) writable', async () => {
    const write = await exec(docker, app.id, ['sh', '-c', 'echo x > /app/written']);
    expect(write.code).not.toBe(0);
    expect(write.stderr).toMatch(/Read-only file system/);
    expect((await exec(docker, app.id, ['sh', '-c', 'echo x > /tmp/written && cat /tmp/written'])).stdout.trim()).toBe(
      'x',
    );
  });

  it('gets its env from the ConfigMap and the Secret (what the process sees)', async () => {
    const environ = (await exec(docker, app.id, ['cat', '/proc/1/environ'])).stdout.split('\0').filter(Boolean);
    const seen = Object.fromEntries(environ.map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
    const [cm] = Object.values(configMapsOf(objects));
    for (const [k, v] of Object.entries(cm!)) if (k !== 'PORT' && k !== 'REDIS_PREFIX') expect(seen[k], k).toBe(v);
    for (const [k, v] of Object.entries(secrets()['kgraph-mcp-secrets'])) expect(seen[k], k).toBe(v);
    expect(seen.ENVIRONMENT).toBe('prod');
  });

  it('listens where the manifest expects: the ConfigMap PORT is the container port the probes name, and the image exposes it', async () => {
    const c = deployment.containers[0]!;
    const [cm] = Object.values(configMapsOf(objects));
    const http = c.ports!.find((p) => p.name === 'http')!;
    expect(Number(cm!.PORT)).toBe(http.containerPort);
    for (const probe of [c.readinessProbe, c.livenessProbe, c.startupProbe])
      expect(probePort(c, probe)).toBe(http.containerPort);
    const exposed = JSON.parse(
      (await docker(['image', 'inspect', '--format', '{{json .Config.ExposedPorts}}', image.id])).stdout,
    ) as Record<string, unknown>;
    expect(Object.keys(exposed)).toEqual([`${http.containerPort}/tcp`]);
    // Here PORT is overridden (the host network is shared): the process listens on what PORT says.
    const listening = (await exec(docker, app.id, ['cat', '/proc/net/tcp', '/proc/net/tcp6'])).stdout;
    expect(listening).toMatch(new RegExp(`:${app.port.toString(16).toUpperCase().padStart(4, '0')} [0-9A-F:]+ 0A`));
  });

  it('answers the readiness and liveness probe paths within their timeouts', async () => {
    const c = deployment.containers[0]!;
    for (const probe of [c.livenessProbe!, c.readinessProbe!, c.startupProbe!]) {
      const timeoutMs = (probe.timeoutSeconds ?? 1) * 1000;
      const res = await get(`${app.base}${probe.httpGet!.path}`, { timeoutMs });
      expect(res.status, probe.httpGet!.path).toBe(200);
      expect(res.ms).toBeLessThan(timeoutMs);
    }
    expect(JSON.parse((await get(`${app.base}${c.readinessProbe!.httpGet!.path}`)).body)).toMatchObject({
      status: 'ready',
    });
    expect(JSON.parse((await get(`${app.base}${c.livenessProbe!.httpGet!.path}`)).body)).toMatchObject({
      status: 'ok',
    });
    expect((await get(`${app.base}/api/v1/tools`, { headers: { 'x-api-key': apiKey } })).status).toBe(200);
    expect((await get(`${app.base}/api/v1/tools`)).status).toBe(401);
  });

  it("turns the image's HEALTHCHECK healthy", async () => {
    await waitFor(
      'HEALTHCHECK healthy',
      async () => (await containerState(docker, app.id)).health === 'healthy',
      60_000,
      500,
    );
  }, 90_000);

  it('applies the ConfigMap rate limit (RATE_LIMIT_MAX reached the process)', async () => {
    const [cm] = Object.values(configMapsOf(objects));
    const limit = Number(cm!.RATE_LIMIT_MAX);
    const statuses: number[] = [];
    for (let i = 0; i < limit + 5; i++)
      statuses.push((await get(`${app.base}/api/v1/tools?limit=1`, { headers: { 'x-api-key': apiKey } })).status);
    expect(statuses.slice(0, limit - 5).every((s) => s === 200)).toBe(true);
    expect(statuses.slice(limit)).toContain(429);
  }, 60_000);
});

describe.skipIf(skipReason !== undefined)(title('SIGTERM under load'), () => {
  it('drains: 0 failed requests among those sent while ready, readiness turns 503 first, exit 0 within the grace period', async () => {
    // The limiter is not under test here; the load uses one key.
    const app = await runDeployment('drain', { RATE_LIMIT_MAX: '100000000' });
    let ready = true;
    let saw503 = false;
    let stop = false;
    const poller = (async () => {
      while (!stop) {
        const r = await get(`${app.base}/readyz`, { timeoutMs: 1000 });
        if (r.status === 503) saw503 = true;
        ready = r.status === 200;
        await new Promise((res) => setTimeout(res, 100));
      }
    })();
    const results: { whileReady: boolean; status: number }[] = [];
    const deadline = Date.now() + 30_000;
    const loops = Array.from({ length: 8 }, async () => {
      while (!stop && Date.now() < deadline) {
        if (!ready) {
          await new Promise((res) => setTimeout(res, 50));
          continue;
        }
        const r = await get(`${app.base}/api/v1/tools?limit=5`, {
          headers: { 'x-api-key': apiKey },
          timeoutMs: 10_000,
        });
        results.push({ whileReady: true, status: r.status });
      }
    });
    await new Promise((r) => setTimeout(r, 1500));
    const before = results.length;
    const killed = Date.now();
    await docker(['kill', '--signal', 'SIGTERM', app.id]);
    const grace = (deployment.terminationGracePeriodSeconds ?? 30) * 1000;
    const code = await waitExit(docker, app.id, grace);
    const exitedMs = Date.now() - killed;
    stop = true;
    await Promise.all([poller, ...loops]);
    const failed = results.filter((r) => r.whileReady && r.status !== 200);
    expect(before).toBeGreaterThan(20);
    expect(failed, `failed: ${JSON.stringify(failed.slice(0, 5))}`).toEqual([]);
    expect(saw503).toBe(true);
    expect(code, await logs(docker, app.id, 40)).toBe(0);
    expect(exitedMs).toBeLessThan(grace);
  }, 120_000);
});

describe.skipIf(skipReason !== undefined)(title('what the image holds'), () => {
  let fs: string;
  let files: string[];
  beforeAll(async () => {
    fs = await mkdtemp(join(tmpdir(), 'kgraph-image-fs-'));
    await exportImageFilesystem(docker, image.id, fs);
    files = await listFiles(fs);
  }, 300_000);
  afterAll(async () => fs && rm(fs, { recursive: true, force: true }));

  it('holds no dev dependencies: every package under /app is a runtime package of the lockfile', async () => {
    const lock = JSON.parse(await readFile(join(REPO_ROOT, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { dev?: boolean; version?: string }>;
    };
    const installed = await listNpmPackages(join(fs, 'app'));
    expect(installed.map((p) => p.name)).toEqual(expect.arrayContaining(['fastify', 'pg', 'ioredis']));
    for (const p of installed) {
      for (const path of p.paths) {
        const entry = lock.packages[path];
        expect(entry, `${path} is not in package-lock.json`).toBeDefined();
        expect(entry!.dev, `${path} is a dev dependency`).not.toBe(true);
      }
    }
    for (const dev of ['typescript', 'vitest', 'eslint', 'tsx', '@dagger.io/dagger'])
      expect(installed.map((p) => p.name)).not.toContain(dev);
  });

  it('holds no tests, no TypeScript sources, no .git and no .env', async () => {
    // The project's own files: what /app holds besides the installed packages.
    const own = files.filter((f) => f.startsWith('app/') && !f.startsWith('app/node_modules/'));
    expect(own.filter((f) => /\.(ts|mts|cts|tsx)$/.test(f))).toEqual([]);
    expect(own.filter((f) => /(^|\/)(test|tests|__tests__)\//.test(f) || /\.(test|spec)\.[cm]?js$/.test(f))).toEqual(
      [],
    );
    expect(own.filter((f) => !/^app\/(dist|migrations)\//.test(f) && f !== 'app/package.json')).toEqual([]);
    expect(own.filter((f) => f.startsWith('app/src/'))).toEqual([]);
    expect(files.filter((f) => /(^|\/)\.git(\/|$)/.test(f))).toEqual([]);
    expect(files.filter((f) => /(^|\/)\.env(\.[\w.-]+)?$/.test(f))).toEqual([]);
    // Source maps point at the sources without carrying them.
    for (const map of own.filter((f) => f.endsWith('.map')))
      expect(await readFile(join(fs, map), 'utf8'), map).not.toContain('sourcesContent');
    expect(files).toContain('app/dist/main.js');
    expect(files).toContain('app/dist/migrate.js');
  });

  it('holds no secrets in any layer, lists its npm packages as an SBOM, and fits its size budget', async () => {
    const sbomPath = join(fs, '..', `${owner}-sbom.json`);
    const result = await scanImage({
      docker,
      image: image.id,
      allowlistText: await readFile(join(REPO_ROOT, '.kgraph-scan-allowlist'), 'utf8'),
      sbomPath,
      allowOffline: true,
      auditLevel: 'high',
      // The advisory service is not under test: a fixed answer with no advisories.
      audit: async () => ({
        exitCode: 0,
        stdout: JSON.stringify({ metadata: { vulnerabilities: {} }, vulnerabilities: {} }),
        stderr: '',
      }),
    });
    try {
      const notPassed = result.checks.filter((c) => c.outcome !== 'passed');
      expect(
        result.checks.map((c) => [c.name, c.outcome]),
        JSON.stringify(notPassed).slice(0, 2000),
      ).toEqual([
        ['image:secrets', 'passed'],
        ['image:sbom', 'passed'],
        ['image:audit', 'passed'],
      ]);
      const sbom = JSON.parse(await readFile(sbomPath, 'utf8')) as { components: { name: string; purl: string }[] };
      expect(sbom.components.map((c) => c.purl)).toEqual(
        expect.arrayContaining([expect.stringMatching(/^pkg:npm\/fastify@/), expect.stringMatching(/^pkg:npm\/npm@/)]),
      );
    } finally {
      await rm(sbomPath, { force: true });
    }
    const size = checkImageSize(image, STEPS.build.image!);
    expect(size.outcome, size.reasons.join('; ')).toBe('passed');
  }, 300_000);

  it('finds a secret added in one layer and deleted in the next (the outsider way)', async () => {
    const ctx = await mkdtemp(join(tmpdir(), 'kgraph-leak-'));
    const tag = `kgraph-mcp:leak-${owner}`;
    try {
      // Assembled at run time so this file holds no secret.
      await writeFile(join(ctx, 'leak.txt'), `token=${['gh', 'p_'].join('')}${'A'.repeat(36)}\n`);
      await writeFile(
        join(ctx, 'Dockerfile'),
        `FROM ${image.tag}\nUSER root\nCOPY leak.txt /app/leak.txt\nRUN rm /app/leak.txt\nUSER node\n`,
      );
      const b = await docker(['build', '--network', 'host', '-q', '-t', tag, ctx], { timeoutMs: 120_000 });
      expect(b.code, b.stderr).toBe(0);
      const allowlistText = await readFile(join(REPO_ROOT, '.kgraph-scan-allowlist'), 'utf8');
      const result = await scanImage({
        docker,
        image: tag,
        allowlistText,
        sbomPath: join(ctx, 'sbom.json'),
        allowOffline: true,
        auditLevel: 'high',
        audit: async () => ({ exitCode: 1, stdout: '{}', stderr: 'offline' }),
      });
      const secretsCheck = result.checks.find((c) => c.name === 'image:secrets')!;
      expect(secretsCheck.outcome).toBe('failed');
      expect(result.findings).toEqual([
        expect.objectContaining({ path: '/app/leak.txt', rule: 'github-token', line: 1 }),
      ]);
      expect(secretsCheck.reasons.join('; ')).not.toContain('A'.repeat(36));
      // The audit with no answer is skipped only because offline is allowed, and says so.
      expect(result.checks.find((c) => c.name === 'image:audit')).toMatchObject({ outcome: 'skipped' });
    } finally {
      await docker(['image', 'rm', '--force', tag]);
      await rm(ctx, { recursive: true, force: true });
    }
  }, 300_000);
});
