/**
 * Shared by the container tests: whether an engine answers (and why not), the image built once per
 * test process from the step table's spec (layer cache makes a rebuild cheap), and containers
 * labelled with the test run so afterAll removes every one of them.
 */
import { execFileSync } from 'node:child_process';
import { buildImage, type BuiltImage } from '../../../src/verify/image/build.js';
import { ownerId, sweepContainers, sweepOrphans, OWNER_LABEL } from '../../../src/verify/image/container.js';
import { dockerCli, engineStatus } from '../../../src/verify/image/docker.js';
import { standinMaker } from '../../../src/verify/image/step.js';
import { parseManifests, type KubeObject } from '../../../src/platform/kube/validate.js';
import { join } from 'node:path';
import { REPO_ROOT } from '../../../src/platform/repo-root.js';
import { STEPS } from '../../../src/definitions/steps.js';

export const docker = dockerCli();
export const engine = await engineStatus(docker);
/** Shown in the test names when the container tests cannot run: never a silent skip. */
export const skipReason = engine.available ? undefined : engine.reason;
if (skipReason) console.warn(`container tests SKIPPED: ${skipReason}`);

// What a killed earlier run left behind goes first (its owner process is gone).
if (engine.available) await sweepOrphans(docker);
export const owner = ownerId('kgraph-test');
export const ownerFlags = ['--label', `${OWNER_LABEL}=${owner}`];

/** This test process's own tag: a second copy of the suite building at the same time never retags it. */
const imageTag = `kgraph-mcp:contract-${owner}`;
let built: Promise<BuiltImage> | undefined;
const buildLog: string[] = [];

/** The prod image, built from the step table's spec (base images made available as the build step does). */
export function prodImage(): Promise<BuiltImage> {
  built ??= buildImage(
    { root: REPO_ROOT, spec: STEPS.build.image!, params: { env: 'prod' }, tag: imageTag },
    { docker, makeStandin: standinMaker(process.env, (l) => buildLog.push(l)), log: (l) => buildLog.push(l) },
  ).catch((err: unknown) => {
    throw new Error(`${(err as Error).message}\n--- build log (last lines) ---\n${buildLog.slice(-30).join('\n')}`);
  });
  return built;
}

export function prodManifests(): KubeObject[] {
  return parseManifests(
    execFileSync('kubectl', ['kustomize', join(REPO_ROOT, 'k8s/overlays/prod')], { encoding: 'utf8' }),
  );
}

export async function cleanup(): Promise<void> {
  if (!engine.available) return;
  await sweepContainers(docker, owner);
  // The tag only: --no-prune keeps the layers, so the next run's build still hits the layer cache.
  if (built) await docker(['image', 'rm', '--no-prune', imageTag], { timeoutMs: 60_000 });
}

/** A fetch that never throws: status 0 for a refused or timed-out request. */
export async function get(
  url: string,
  init: RequestInit & { timeoutMs?: number } = {},
): Promise<{ status: number; ms: number; body: string }> {
  const started = performance.now();
  try {
    const res = await fetch(url, { ...init, signal: AbortSignal.timeout(init.timeoutMs ?? 5000) });
    const body = await res.text();
    return { status: res.status, ms: performance.now() - started, body };
  } catch {
    return { status: 0, ms: performance.now() - started, body: '' };
  }
}

export async function waitFor(
  what: string,
  check: () => Promise<boolean>,
  timeoutMs: number,
  everyMs = 250,
): Promise<number> {
  const started = Date.now();
  for (;;) {
    if (await check()) return Date.now() - started;
    if (Date.now() - started > timeoutMs) throw new Error(`${what}: not within ${timeoutMs / 1000}s`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
