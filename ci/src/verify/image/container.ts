/**
 * Containers and image filesystems on the engine: run a PodRunPlan (env through a 0600 file, removed
 * at once), stop, logs, health, exec, and the image's files exported to a directory, whole or layer
 * by layer. Every container gets a label so a sweep removes what a killed run left behind.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runChecked } from '../../platform/process/run.js';
import { dockerFailure, type Docker } from './docker.js';
import { ENV_FILE_PLACEHOLDER, envFileText, type PodRunPlan } from './pod-run.js';

export const OWNER_LABEL = 'io.kgraph.owner';

export async function runPlan(docker: Docker, plan: PodRunPlan): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'kgraph-env-'));
  const file = join(dir, 'env');
  try {
    await writeFile(file, envFileText(plan.env), { mode: 0o600 });
    const res = await docker(
      plan.argv.map((a) => (a === ENV_FILE_PLACEHOLDER ? file : a)),
      { timeoutMs: 60_000 },
    );
    if (res.code !== 0) throw new Error(dockerFailure('docker run', res));
    return res.stdout.trim();
  } finally {
    // docker read the file when it created the container; the values are not left on disk.
    await rm(dir, { recursive: true, force: true });
  }
}

export async function removeContainer(docker: Docker, id: string): Promise<void> {
  await docker(['rm', '--force', '--volumes', id], { timeoutMs: 60_000 });
}

/** Removes every container labelled with this owner (a test run, a gate run). */
export async function sweepContainers(docker: Docker, owner: string): Promise<number> {
  const res = await docker(['ps', '--all', '--quiet', '--filter', `label=${OWNER_LABEL}=${owner}`], {
    timeoutMs: 30_000,
  });
  const ids = res.stdout
    .split('\n')
    .map((s) => s.trim())
    .filter(Boolean);
  if (ids.length > 0) await docker(['rm', '--force', '--volumes', ...ids], { timeoutMs: 60_000 });
  return ids.length;
}

/** An owner label for this process: `<kind>-<pid>-<time>`, so a sweep can tell a dead owner's containers. */
export function ownerId(kind: string): string {
  return `${kind}-${process.pid}-${Date.now().toString(36)}`;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes containers whose owner process is gone (a killed test run or gate leaves them running):
 * owners are `<kind>-<pid>-<time>`; containers of live owners are left alone.
 */
export async function sweepOrphans(docker: Docker): Promise<number> {
  const res = await docker(
    ['ps', '--all', '--filter', `label=${OWNER_LABEL}`, '--format', `{{.ID}} {{.Label "${OWNER_LABEL}"}}`],
    { timeoutMs: 30_000 },
  );
  const dead = res.stdout
    .split('\n')
    .map((l) => l.trim().split(' '))
    .filter(
      ([id, owner]) =>
        id && owner && /^[\w.-]+?-(\d+)-[0-9a-z]+$/.test(owner) && !alive(Number(/-(\d+)-[0-9a-z]+$/.exec(owner)![1])),
    )
    .map(([id]) => id!);
  if (dead.length > 0) await docker(['rm', '--force', '--volumes', ...dead], { timeoutMs: 60_000 });
  return dead.length;
}

export interface ContainerState {
  readonly status: string;
  readonly running: boolean;
  readonly exitCode: number;
  readonly health?: string;
  readonly oomKilled: boolean;
}

export async function containerState(docker: Docker, id: string): Promise<ContainerState> {
  const res = await docker(['inspect', '--format', '{{json .State}}', id], { timeoutMs: 30_000 });
  if (res.code !== 0) throw new Error(dockerFailure('docker inspect', res));
  const s = JSON.parse(res.stdout) as {
    Status: string;
    Running: boolean;
    ExitCode: number;
    OOMKilled: boolean;
    Health?: { Status: string };
  };
  return {
    status: s.Status,
    running: s.Running,
    exitCode: s.ExitCode,
    oomKilled: s.OOMKilled,
    ...(s.Health ? { health: s.Health.Status } : {}),
  };
}

/** Waits for the container to exit (or the timeout), returning its exit code (null on timeout). */
export async function waitExit(docker: Docker, id: string, timeoutMs: number): Promise<number | null> {
  const res = await docker(['wait', id], { timeoutMs });
  if (res.timedOut) return null;
  const code = Number(res.stdout.trim());
  return Number.isInteger(code) ? code : null;
}

export async function logs(docker: Docker, id: string, tail = 200): Promise<string> {
  const res = await docker(['logs', '--tail', String(tail), id], { timeoutMs: 30_000 });
  return `${res.stdout}${res.stderr}`;
}

export async function exec(
  docker: Docker,
  id: string,
  argv: readonly string[],
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const res = await docker(['exec', id, ...argv], { timeoutMs: 30_000 });
  return { code: res.code, stdout: res.stdout, stderr: res.stderr };
}

async function untar(file: string, dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  // Device nodes and ownership are not needed to read files; keep extraction unprivileged-safe.
  await runChecked({
    argv: ['tar', '-x', '--no-same-owner', '--no-same-permissions', '--exclude=dev/*', '-f', file, '-C', dir],
    maxOutputChars: 64 * 1024,
  });
}

/** The image's merged filesystem, as a container of it would see it, extracted into `dir`. */
export async function exportImageFilesystem(docker: Docker, image: string, dir: string): Promise<void> {
  const created = await docker(['create', '--label', `${OWNER_LABEL}=${ownerId('kgraph-export')}`, image], {
    timeoutMs: 60_000,
  });
  if (created.code !== 0) throw new Error(dockerFailure('docker create', created));
  const id = created.stdout.trim();
  const work = await mkdtemp(join(tmpdir(), 'kgraph-export-'));
  try {
    const tar = join(work, 'fs.tar');
    const res = await docker(['export', '--output', tar, id], { timeoutMs: 300_000 });
    if (res.code !== 0) throw new Error(dockerFailure('docker export', res));
    await untar(tar, dir);
  } finally {
    await removeContainer(docker, id);
    await rm(work, { recursive: true, force: true });
  }
}

export interface ExportedLayer {
  readonly index: number;
  /** The layer's id in the saved image (its directory or blob name). */
  readonly id: string;
  readonly dir: string;
}

/**
 * Every layer of the image on its own, extracted under `dir/layer-<n>`: a file added in one layer and
 * deleted in a later one is still in the image (and in every copy pulled), so scans look at each.
 */
export async function exportImageLayers(docker: Docker, image: string, dir: string): Promise<ExportedLayer[]> {
  const work = await mkdtemp(join(tmpdir(), 'kgraph-save-'));
  try {
    const tar = join(work, 'image.tar');
    const res = await docker(['save', '--output', tar, image], { timeoutMs: 300_000 });
    if (res.code !== 0) throw new Error(dockerFailure('docker save', res));
    const saved = join(work, 'saved');
    await untar(tar, saved);
    const manifest = JSON.parse(await readFile(join(saved, 'manifest.json'), 'utf8')) as { Layers: string[] }[];
    const layers = manifest[0]?.Layers ?? [];
    const out: ExportedLayer[] = [];
    for (const [index, layer] of layers.entries()) {
      const target = join(dir, `layer-${index}`);
      await untar(join(saved, layer), target);
      out.push({ index, id: layer.replace(/\/layer\.tar$/, '').replace(/^blobs\/sha256\//, 'sha256:'), dir: target });
    }
    return out;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
