/**
 * Every file generated from ci/src/definitions/environments.ts and ci/src/definitions/steps.ts (k8s overlays, the Prometheus alert
 * rules, the Dagger module's tables), and the one way to check or write them. The content is a pure function of
 * the definitions: it never depends on what is already on disk.
 */
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { DASHBOARDS_DIR, dashboardFiles } from '../../operate/dashboards/grafana.js';
import { ENVIRONMENTS } from '../../definitions/environments.js';
import { K8S_DIR, overlayFiles } from '../../platform/kube/overlays.js';
import { ALERTS_DIR, alertFiles } from '../../operate/triggers/alert-rules.js';
import {
  DAGGER_TABLES_PATH,
  ELIGIBILITY_PATH,
  VERDICT_PATH,
  renderCiTables,
  renderEligibility,
  renderVerdict,
} from './dagger-tables.js';
import { REFERENCE_DIR, referenceDocs } from './reference-docs.js';

/** Folders the generator owns outright: a file there that it does not generate is stale too. */
const OWNED_DIRS: readonly string[] = [`${K8S_DIR}/overlays`, ALERTS_DIR, DASHBOARDS_DIR, REFERENCE_DIR];

/** path (relative to the repository root) -> content, for every generated file. */
export function generatedFiles(envs = ENVIRONMENTS): Map<string, string> {
  return new Map([
    ...overlayFiles(Object.values(envs)),
    ...alertFiles(envs),
    ...dashboardFiles(envs),
    [DAGGER_TABLES_PATH, renderCiTables()],
    [ELIGIBILITY_PATH, renderEligibility()],
    [VERDICT_PATH, renderVerdict()],
    ...referenceDocs(),
  ]);
}

export interface GeneratedState {
  /** Generated files that are missing or differ from what the definitions make. */
  readonly stale: string[];
  /** Files in an owned folder that nothing generates any more (a removed environment, say). */
  readonly extra: string[];
}

async function filesUnder(root: string, dir: string): Promise<string[]> {
  const entries = await readdir(join(root, dir), { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isFile()).map((e) => relative(root, join(e.parentPath, e.name)));
}

/** Compares the tree at root with the generated files. */
export async function generatedState(root: string, files = generatedFiles()): Promise<GeneratedState> {
  const stale: string[] = [];
  for (const [path, content] of files) {
    const current = await readFile(join(root, path), 'utf8').catch(() => undefined);
    if (current !== content) stale.push(path);
  }
  const present = (await Promise.all(OWNED_DIRS.map((d) => filesUnder(root, d)))).flat();
  const extra = present.filter((p) => !files.has(p)).sort();
  return { stale, extra };
}

/** Paths out of date, for messages and tests (stale first, then extra). */
export async function staleFiles(root: string, files = generatedFiles()): Promise<string[]> {
  const { stale, extra } = await generatedState(root, files);
  return [...stale, ...extra];
}

/** Writes what differs and removes what nothing generates; returns the paths it wrote and removed. */
export async function writeGenerated(
  root: string,
  files = generatedFiles(),
): Promise<{ written: string[]; removed: string[] }> {
  const { stale, extra } = await generatedState(root, files);
  for (const path of stale) {
    await mkdir(dirname(join(root, path)), { recursive: true });
    await writeFile(join(root, path), files.get(path)!, 'utf8');
  }
  for (const path of extra) await rm(join(root, path));
  return { written: stale, removed: extra };
}
