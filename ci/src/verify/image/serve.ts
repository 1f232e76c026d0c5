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
import { ENV_FILE_PLACEHOLDER } from './pod-run.js';
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

export async function withServedImage<T>(
  env: EnvironmentDefinition,
  fn: (served: ServedImage) => Promise<T>,
  opts: {
    log?: (line: string) => void;
    image?: string;
    seedCount?: number;
    docker?: Docker;
    readyTimeoutMs?: number;
  } = {},
): Promise<T> {
  const log = opts.log ?? (() => undefined);
  const docker = opts.docker ?? dockerCli();
  const engine = await engineStatus(docker);
  if (!engine.available) throw new Error(`cannot serve the image: ${engine.reason}`);
  let image = opts.image;
  if (!image) {
    const found = await builtImage();
    if ('error' in found) throw new Error(`cannot serve the image: ${found.error}`);
    image = found.ref;
    if (found.standin)
      log("serve: NOTE the image was built on a stand-in base (this machine's Node), not the pinned one");
  }
  await sweepOrphans(docker);
  const owner = ownerId('kgraph-gate');
  const apiKey = randomBytes(24).toString('hex');
  log('serve: creating a fresh database and Redis prefix');
  const services = await createEphemeralServices({ services: ['postgres', 'redis'] });
  try {
    const port = await freePort();
    const envVars = {
      ...services.env,
      ENVIRONMENT: env.name,
      LOG_LEVEL: 'warn',
      API_KEYS: apiKey,
      PORT: String(port),
      HOST: '127.0.0.1',
      // The gate drives hundreds of requests per second with one key; the limiter is not under test.
      RATE_LIMIT_MAX: '100000000',
    };
    const plan = (what: string, detach: boolean, command: string[]) => ({
      argv: [
        'run',
        ...(detach ? ['--detach'] : []),
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
        image!,
        ...command,
      ],
      env: envVars,
      notes: [],
    });
    for (const [what, command] of [
      ['migrate', ['dist/migrate.js']],
      ['seed', ['dist/seed.js', '--count', String(opts.seedCount ?? Math.max(env.seedCount, 200))]],
    ] as const) {
      log(`serve: ${what} inside the image`);
      const id = await runPlan(docker, plan(what, true, [...command]));
      const code = await waitExit(docker, id, 300_000);
      if (code !== 0)
        throw new Error(
          `${what} in the image exited ${code}: ${(await logs(docker, id, 20)).trim().split('\n').at(-1) ?? ''}`,
        );
    }
    const id = await runPlan(docker, plan('app', true, ['dist/main.js']));
    const url = `http://127.0.0.1:${port}`;
    const deadline = Date.now() + (opts.readyTimeoutMs ?? 120_000);
    for (;;) {
      const ok = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(2000) }).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) break;
      if (Date.now() > deadline)
        throw new Error(
          `the image did not become ready at ${url}/readyz: ${(await logs(docker, id, 20)).trim().split('\n').at(-1) ?? ''}`,
        );
      await new Promise((r) => setTimeout(r, 250));
    }
    log(`serve: image ${image.slice(0, 19)}… ready at ${url} (container ${id.slice(0, 12)})`);
    return await fn({ url, apiKey, image, containerId: id });
  } finally {
    await sweepContainers(docker, owner).catch(() => undefined);
    await services.dispose();
  }
}
