/**
 * What the rehearsal asks of Docker, each one call or a short sequence: run an exec and keep its
 * filesystem as an image, copy into and out of images, save a tarball, start and stop service
 * containers. All on the host network (no bridge here); every container is labelled with its owner.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from './files.js';
import type { Docker, DockerResult } from '../image/docker.js';

export const OWNER_LABEL = 'io.kgraph.rehearse.owner';

/** A run's containers and temporary images carry its id; `cleanup` removes them. */
export interface DockerSession {
  readonly docker: Docker;
  readonly runId: string;
  /** Names of containers this session started (removed at the end). */
  readonly containers: string[];
  /** Each line of exec output as it arrives (progress). */
  readonly onLine?: (line: string) => void;
}

export interface RunSpec {
  readonly image: string;
  readonly argv: readonly string[];
  readonly workdir?: string;
  readonly env: readonly (readonly [string, string])[];
  /** Variables whose values travel in the docker client's environment, never on its command line. */
  readonly secretEnv: readonly (readonly [string, string])[];
  /** `-v`/`--mount` arguments already formed. */
  readonly mounts: readonly string[];
  readonly hosts: readonly (readonly [string, string])[];
}

let counter = 0;
export function containerName(session: DockerSession, what: string): string {
  return `kgraph-rh-${session.runId}-${what}-${++counter}`;
}

function runArgs(spec: RunSpec): string[] {
  const args = ['--network', 'host', '--label', OWNER_LABEL];
  for (const [alias, ip] of spec.hosts) args.push('--add-host', `${alias}:${ip}`);
  if (spec.workdir) args.push('-w', spec.workdir);
  for (const [k, v] of spec.env) args.push('-e', `${k}=${v}`);
  for (const [k] of spec.secretEnv) args.push('-e', k);
  args.push(...spec.mounts);
  return args;
}

export function fail(what: string, res: DockerResult): never {
  const detail = res.spawnError ?? (res.stderr.trim() || res.stdout.trim()).split('\n').slice(-8).join('\n');
  throw new Error(`${what} failed (exit ${res.code}): ${detail}`);
}

async function ok(session: DockerSession, args: string[], what: string): Promise<string> {
  const res = await session.docker(args);
  if (res.code !== 0) fail(what, res);
  return res.stdout.trim();
}

export interface ExecOutcome {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
  /** The filesystem after the exec, as an image (mounts excluded). */
  readonly image: string;
}

/**
 * Runs argv in a new container of `spec.image` (its entrypoint bypassed, as withExec does), then commits
 * its filesystem. The commit keeps the image's entrypoint and command, and blanks secret variables so no
 * secret value is stored in the image config.
 */
export async function execInContainer(session: DockerSession, spec: RunSpec): Promise<ExecOutcome> {
  const name = containerName(session, 'exec');
  const [cmd, ...rest] = spec.argv;
  if (!cmd) throw new Error('withExec with an empty argv');
  const secretEnv = Object.fromEntries(spec.secretEnv);
  await ok(
    session,
    ['create', '--name', name, ...runArgs(spec), '--entrypoint', cmd, spec.image, ...rest].map((a) =>
      a === OWNER_LABEL ? `${OWNER_LABEL}=${session.runId}` : a,
    ),
    `docker create for ${spec.argv.join(' ')}`,
  );
  session.containers.push(name);
  try {
    const res = await session.docker(['start', '-a', name], {
      env: secretEnv,
      ...(session.onLine ? { onLine: session.onLine } : {}),
    });
    const inspect = await ok(
      session,
      ['image', 'inspect', '--format', '{{json .Config.Entrypoint}} {{json .Config.Cmd}}', spec.image],
      'docker image inspect',
    );
    const [entrypoint, command] = inspect.split(' ');
    const changes = [
      `ENTRYPOINT ${entrypoint === 'null' ? '[]' : entrypoint}`,
      `CMD ${command === 'null' ? '[]' : command}`,
    ];
    for (const [k] of spec.secretEnv) changes.push(`ENV ${k}=`);
    const image = await ok(
      session,
      ['commit', ...changes.flatMap((c) => ['--change', c]), name],
      `docker commit after ${spec.argv.join(' ')}`,
    );
    return { exitCode: res.code ?? -1, stdout: res.stdout, stderr: res.stderr, image };
  } finally {
    await session.docker(['rm', '-f', name]);
  }
}

/** `image` with the host directory or file `src` copied to `dest` (its contents when `src` ends in /.). */
export async function copyIntoImage(session: DockerSession, image: string, src: string, dest: string): Promise<string> {
  return withCreatedContainer(session, image, 'copy', async (name) => {
    const parent = dest.replace(/\/[^/]*\/?$/, '') || '/';
    if (parent !== '/') await copyParents(session, name, parent);
    await ok(session, ['cp', src, `${name}:${dest}`], `docker cp into ${dest}`);
    return ok(session, ['commit', name], 'docker commit');
  });
}

/** A stopped container of `image` (created, never started) for `use`, removed afterwards. */
async function withCreatedContainer<T>(
  session: DockerSession,
  image: string,
  kind: string,
  use: (name: string) => Promise<T>,
): Promise<T> {
  const name = containerName(session, kind);
  await ok(
    session,
    ['create', '--name', name, '--label', `${OWNER_LABEL}=${session.runId}`, image, 'true'],
    'docker create',
  );
  session.containers.push(name);
  try {
    return await use(name);
  } finally {
    await session.docker(['rm', '-f', name]);
  }
}

/** docker cp needs the destination's parent to exist: copy an empty directory tree for it first. */
async function copyParents(session: DockerSession, name: string, parent: string): Promise<void> {
  const tmp = tempDir('parent');
  mkdirSync(join(tmp, parent), { recursive: true });
  await ok(session, ['cp', `${tmp}/.`, `${name}:/`], `docker cp parents of ${parent}`);
}

/** A path of an image copied out to a new host temp directory; returns the host path of the copy. */
export async function copyOutOfImage(session: DockerSession, image: string, path: string): Promise<string> {
  return withCreatedContainer(session, image, 'out', async (name) => {
    const dir = tempDir('out');
    await ok(session, ['cp', `${name}:${path}`, join(dir, 'out')], `docker cp out of ${path}`);
    return join(dir, 'out');
  });
}

export async function saveTarball(session: DockerSession, image: string): Promise<string> {
  const dir = tempDir('tar');
  const out = join(dir, 'image.tar');
  await ok(session, ['save', '-o', out, image], 'docker save');
  return out;
}

/** Starts a detached service container; returns its name. */
export async function startContainer(
  session: DockerSession,
  spec: RunSpec & { readonly entrypoint?: readonly string[] | undefined },
): Promise<string> {
  const name = containerName(session, 'svc');
  const args = [
    'run',
    '-d',
    '--name',
    name,
    ...runArgs(spec).map((a) => (a === OWNER_LABEL ? `${OWNER_LABEL}=${session.runId}` : a)),
  ];
  const [cmd, ...rest] = spec.argv;
  if (cmd) args.push('--entrypoint', cmd, spec.image, ...rest);
  else args.push(spec.image);
  const res = await session.docker(args, { env: Object.fromEntries(spec.secretEnv) });
  session.containers.push(name);
  if (res.code !== 0) fail(`starting service ${spec.image}`, res);
  return name;
}

export async function removeContainers(session: DockerSession): Promise<void> {
  const names = session.containers.splice(0);
  if (names.length > 0) await session.docker(['rm', '-f', ...names]);
}
