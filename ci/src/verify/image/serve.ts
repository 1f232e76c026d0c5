/**
 * `gate latency --serve image`: the built image served on this machine the way the gate needs it —
 * host network (no bridge here), its own fresh database and Redis prefix, migrated and seeded by the
 * image's own migrate and seed, non-root, read-only root, no capabilities — and removed afterwards.
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { EnvironmentDefinition } from '../../definitions/environments.js';
import { REPO_ROOT } from '../../platform/repo-root.js';
import { createEphemeralServices } from '../../platform/services/ephemeral.js';
import { freePort } from '../../platform/services/local-app.js';
import { logs, ownerId, OWNER_LABEL, runPlan, sweepContainers, sweepOrphans, waitExit } from './container.js';
import { dockerCli, engineStatus, type Docker } from './docker.js';
import { ENV_FILE_PLACEHOLDER, type PodRunPlan } from './pod-run.js';
import { DEFAULT_IMAGE_REPORT, type ImageReport } from './step.js';

export interface ServedImage {
  readonly url: string;
  readonly apiKey: string;
  readonly image: string;
  readonly containerId: string;
}

/** The image the build step made (its report), or why there is none. */
export async function builtImage(
  reportPath = join(REPO_ROOT, DEFAULT_IMAGE_REPORT),
): Promise<{ ref: string; standin: boolean } | { error: string }> {
  let report: ImageReport;
  try {
    report = JSON.parse(await readFile(reportPath, 'utf8')) as ImageReport;
  } catch {
    return { error: `no image report at ${reportPath}: run kgraph-ci image build first` };
  }
  if (!report.built) return { error: `no image was built (${report.reason})` };
  return { ref: report.id, standin: report.standinBase };
}

/** The security settings of the pod specs (see k8s/base), as docker flags. */
const HARDENED = [
  '--user',
  '1000:1000',
  '--read-only',
  '--tmpfs',
  '/tmp:rw,nosuid,nodev,size=67108864,uid=1000,gid=1000',
  '--cap-drop',
  'ALL',
  '--security-opt',
  'no-new-privileges',
];

interface ServeOptions {
  log?: (line: string) => void;
  image?: string;
  seedCount?: number;
  docker?: Docker;
  readyTimeoutMs?: number;
}

export async function withServedImage<T>(
  env: EnvironmentDefinition,
  fn: (served: ServedImage) => Promise<T>,
  opts: ServeOptions = {},
): Promise<T> {
  const log = opts.log ?? (() => undefined);
  const docker = opts.docker ?? dockerCli();
  const engine = await engineStatus(docker);
  if (!engine.available) throw new Error(`cannot serve the image: ${engine.reason}`);
  const image = await imageToServe(opts.image, log);
  await sweepOrphans(docker);
  const owner = ownerId('kgraph-gate');
  const apiKey = randomBytes(24).toString('hex');
  log('serve: creating a fresh database and Redis prefix');
  const services = await createEphemeralServices({ services: ['postgres', 'redis'] });
  try {
    const port = await freePort();
    const plan = containerPlanner(owner, image, {
      ...services.env,
      ENVIRONMENT: env.name,
      LOG_LEVEL: 'warn',
      API_KEYS: apiKey,
      PORT: String(port),
      HOST: '127.0.0.1',
      // The gate drives hundreds of requests per second with one key; the limiter is not under test.
      RATE_LIMIT_MAX: '100000000',
    });
    await migrateAndSeed(docker, plan, opts.seedCount ?? Math.max(env.seedCount, 200), log);
    const id = await runPlan(docker, plan('app', ['dist/main.js']));
    const url = `http://127.0.0.1:${port}`;
    await waitReady(docker, id, url, opts.readyTimeoutMs ?? 120_000);
    log(`serve: image ${image.slice(0, 19)}… ready at ${url} (container ${id.slice(0, 12)})`);
    return await fn({ url, apiKey, image, containerId: id });
  } finally {
    await sweepContainers(docker, owner).catch(() => undefined);
    await services.dispose();
  }
}

/** The image given, else the one the build step made (said when it stands on a stand-in base). */
async function imageToServe(given: string | undefined, log: (line: string) => void): Promise<string> {
  if (given) return given;
  const found = await builtImage();
  if ('error' in found) throw new Error(`cannot serve the image: ${found.error}`);
  if (found.standin)
    log("serve: NOTE the image was built on a stand-in base (this machine's Node), not the pinned one");
  return found.ref;
}

type Planner = (what: string, command: readonly string[]) => PodRunPlan;

/** A detached, hardened, host-network container of the image running `node <command>`, owned by this run. */
function containerPlanner(owner: string, image: string, env: Record<string, string>): Planner {
  return (what, command) => ({
    argv: [
      'run',
      '--detach',
      '--name',
      `${owner}-${what}`,
      '--label',
      `${OWNER_LABEL}=${owner}`,
      '--network',
      'host',
      ...HARDENED,
      '--env-file',
      ENV_FILE_PLACEHOLDER,
      '--entrypoint',
      'node',
      image,
      ...command,
    ],
    env,
    notes: [],
  });
}

/** The image's own migrate, then its seed, each to the end; a failure names the last line it logged. */
async function migrateAndSeed(docker: Docker, plan: Planner, seedCount: number, log: (line: string) => void) {
  for (const [what, command] of [
    ['migrate', ['dist/migrate.js']],
    ['seed', ['dist/seed.js', '--count', String(seedCount)]],
  ] as const) {
    log(`serve: ${what} inside the image`);
    const id = await runPlan(docker, plan(what, command));
    const code = await waitExit(docker, id, 300_000);
    if (code !== 0) throw new Error(`${what} in the image exited ${code}: ${await lastLogLine(docker, id)}`);
  }
}

/** Polls /readyz until it answers 2xx; past the deadline, an error with the container's last log line. */
async function waitReady(docker: Docker, id: string, url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(2000) }).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return;
    if (Date.now() > deadline)
      throw new Error(`the image did not become ready at ${url}/readyz: ${await lastLogLine(docker, id)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

const lastLogLine = async (docker: Docker, id: string) => (await logs(docker, id, 20)).trim().split('\n').at(-1) ?? '';
