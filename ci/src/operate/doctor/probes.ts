/**
 * What `kgraph-ci doctor` measures, each through the edge the pipeline itself uses (pg, ioredis, the docker
 * client, the advisory endpoint, kubectl through the process edge), each bounded by a short timeout so a
 * dead service costs seconds, not minutes. The verdicts are checks.ts's.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { Redis } from 'ioredis';
import { baseImagesOf, inspectImage } from '../../verify/image/base.js';
import { imageSize } from '../../verify/image/build.js';
import { engineStatus, type Docker } from '../../verify/image/docker.js';
import { runProcess } from '../../platform/process/run.js';
import { bulkAudit } from '../../verify/scan/bulk-audit.js';
import { messageOf } from '../../definitions/errors.js';
import type { AdvisoryProbe, BaseImageProbe, KubectlProbe, PackageEngine, ServiceProbe } from './checks.js';

/** Long enough for a busy machine (two suites side by side slow a connect to seconds), short next to a hang. */
const PROBE_TIMEOUT_MS = 10_000;

/** The project's Node floor and the engines.node of every package the lockfile pins. */
export async function lockfileEngines(root: string): Promise<{ floor?: string; locked: PackageEngine[] }> {
  const pkg = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as { engines?: { node?: string } };
  const lock = JSON.parse(await readFile(join(root, 'package-lock.json'), 'utf8')) as {
    packages?: Record<string, { version?: string; engines?: unknown; name?: string }>;
  };
  const locked: PackageEngine[] = [];
  for (const [path, entry] of Object.entries(lock.packages ?? {})) {
    const node = (entry.engines as { node?: unknown } | undefined)?.node;
    if (!path.includes('node_modules/') || typeof node !== 'string') continue;
    const name = path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length);
    locked.push({ name, version: entry.version ?? '?', node });
  }
  return { ...(pkg.engines?.node ? { floor: pkg.engines.node } : {}), locked };
}

export async function probePostgres(url: string): Promise<ServiceProbe> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: PROBE_TIMEOUT_MS });
  client.on('error', () => undefined);
  try {
    await client.connect();
    const res = await client.query<{ v: string; can: boolean }>(
      "SELECT current_setting('server_version') AS v, (rolcreatedb OR rolsuper) AS can FROM pg_roles WHERE rolname = current_user",
    );
    const row = res.rows[0];
    const version = `PostgreSQL ${row?.v ?? '?'}`;
    return row?.can
      ? { reachable: true, version, note: 'may create databases (one per step and test file)' }
      : { reachable: true, version, problem: 'this role may not create databases (each step and test file makes one)' };
  } catch (err) {
    return { reachable: false, error: messageOf(err) || 'connection failed' };
  } finally {
    await client.end().catch(() => undefined);
  }
}

export async function probeRedis(url: string): Promise<ServiceProbe> {
  const redis = new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    connectTimeout: PROBE_TIMEOUT_MS,
    retryStrategy: () => null,
  });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    await redis.ping();
    const info = await redis.info('server');
    return { reachable: true, version: `Redis ${/redis_version:(\S+)/.exec(info)?.[1] ?? '?'}` };
  } catch (err) {
    return { reachable: false, error: messageOf(err) || 'connection failed' };
  } finally {
    redis.disconnect();
  }
}

export async function probeEngine(docker: Docker) {
  return engineStatus(docker, PROBE_TIMEOUT_MS);
}

/** Each base image of the Dockerfile: in the engine or not, a stand-in or not, and its size. */
export async function probeBaseImages(docker: Docker, dockerfilePath: string): Promise<BaseImageProbe[]> {
  const names = baseImagesOf(await readFile(dockerfilePath, 'utf8'));
  return Promise.all(
    names.map(async (name): Promise<BaseImageProbe> => {
      const inspected = await inspectImage(docker, name);
      if (!inspected) return { name, present: false };
      const standin = inspected.labels['io.kgraph.standin'];
      return { name, present: true, sizeBytes: await imageSize(docker, name), ...(standin ? { standin } : {}) };
    }),
  );
}

/** One tiny bulk-advisory question: whether the service answers at all. */
export async function probeAdvisory(registry: string): Promise<AdvisoryProbe> {
  const started = performance.now();
  const run = await bulkAudit([{ name: 'semver', version: '7.7.2' }], { registry, timeoutMs: PROBE_TIMEOUT_MS });
  if (run.exitCode === 0) return { answered: true, ms: performance.now() - started };
  const message = (JSON.parse(run.stdout) as { message?: string }).message ?? 'no answer';
  return { answered: false, error: message };
}

export async function probeKubectl(env: NodeJS.ProcessEnv): Promise<KubectlProbe> {
  const version = await runProcess({
    argv: ['kubectl', 'version', '--client', '-o', 'json'],
    env,
    timeoutMs: PROBE_TIMEOUT_MS,
  }).catch((err: unknown) => ({ exitCode: null, stdout: '', stderr: messageOf(err) }));
  if (version.exitCode !== 0)
    return { client: false, error: version.stderr.trim().split('\n')[0] || 'kubectl did not run' };
  const client = (JSON.parse(version.stdout) as { clientVersion?: { gitVersion?: string } }).clientVersion;
  const context = await runProcess({
    argv: ['kubectl', 'config', 'current-context'],
    env,
    timeoutMs: PROBE_TIMEOUT_MS,
  });
  const name = context.stdout.trim();
  return context.exitCode === 0 && name
    ? { client: true, version: client?.gitVersion ?? '?', context: name }
    : { client: true, version: client?.gitVersion ?? '?', error: context.stderr.trim().split('\n')[0] ?? '' };
}
