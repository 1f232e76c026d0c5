/**
 * Writes (or with --check, verifies) the k8s overlays generated from ci/src/environments.ts.
 * Usage: npx tsx ci/src/kube/generate.ts [--check] [--root DIR]
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { REPO_ROOT } from '../repo-root.js';
import { K8S_DIR, alertsComponent, overlayFiles } from './overlays.js';

export const alertsComponentExists =
  (root: string) =>
  (env: string): boolean =>
    existsSync(join(root, K8S_DIR, alertsComponent(env), 'kustomization.yaml'));

/** Paths whose committed content differs from the generated one (missing files included). */
export async function staleOverlays(root: string): Promise<string[]> {
  const stale: string[] = [];
  for (const [path, content] of overlayFiles({ alerts: alertsComponentExists(root) })) {
    const current = await readFile(join(root, path), 'utf8').catch(() => undefined);
    if (current !== content) stale.push(path);
  }
  return stale;
}

export async function writeOverlays(root: string): Promise<string[]> {
  const written: string[] = [];
  for (const [path, content] of overlayFiles({ alerts: alertsComponentExists(root) })) {
    await mkdir(dirname(join(root, path)), { recursive: true });
    await writeFile(join(root, path), content, 'utf8');
    written.push(path);
  }
  return written;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const rootIdx = args.indexOf('--root');
  const root = rootIdx >= 0 && args[rootIdx + 1] ? resolve(args[rootIdx + 1]!) : REPO_ROOT;
  if (args.includes('--check')) {
    const stale = await staleOverlays(root);
    if (stale.length) {
      console.error(`k8s overlays are out of date with ci/src/environments.ts: ${stale.join(', ')}\nrun: npx tsx ci/src/kube/generate.ts`);
      process.exitCode = 1;
    } else console.log('k8s overlays match ci/src/environments.ts');
  } else {
    for (const p of await writeOverlays(root)) console.log(`wrote ${p}`);
  }
}
