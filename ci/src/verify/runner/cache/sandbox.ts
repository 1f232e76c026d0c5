/**
 * Catching a step that reads what it does not declare: the step runs in a copy of the tree that holds
 * only the files its input globs match (committed in a fresh git repository, so git-reading steps
 * still work), the installed packages linked in, and only its declared environment variables plus a
 * few every process needs. A step that passes in the full tree but fails here reads something its
 * inputs leave out, so its cache key could miss a change. Chosen over comparing a cached and an
 * uncached run after editing an undeclared file because it needs no guess of which file to edit.
 */
import { copyFile, lstat, mkdir, mkdtemp, readdir, readlink, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { initRepoWithAllFiles } from '../../policy/git.js';
import { fileMatcher, inputsOf } from './key.js';
import type { RunnableStep } from '../graph.js';
import type { TreeSnapshot } from './tree.js';

/** What any process needs to start, beside what the step declares. */
export const BASE_ENV = ['PATH', 'HOME', 'USER', 'LOGNAME', 'SHELL', 'TMPDIR', 'TERM', 'LANG', 'LC_ALL'];
/** How the runner reaches services; the step itself gets the leased URLs, not these. */
const SERVICE_ENV = ['DATABASE_URL', 'REDIS_URL', 'KGRAPH_SERVICES'];

export interface Sandbox {
  readonly dir: string;
  readonly files: number;
  readonly env: NodeJS.ProcessEnv;
  dispose(): Promise<void>;
}

export async function sandboxFor(
  step: RunnableStep,
  root: string,
  tree: TreeSnapshot,
  env: NodeJS.ProcessEnv,
): Promise<Sandbox> {
  const inputs = inputsOf(step);
  if (!inputs) throw new Error(`step ${step.name} declares no inputs to sandbox`);
  const dir = await mkdtemp(join(tmpdir(), `kgraph-sandbox-${step.name}-`));
  try {
    const matches = fileMatcher(inputs.files);
    let files = 0;
    for (const path of tree.keys()) {
      if (!matches(path)) continue;
      await mkdir(dirname(join(dir, path)), { recursive: true });
      const st = await lstat(join(root, path));
      if (st.isSymbolicLink()) await symlink(await readlink(join(root, path)), join(dir, path));
      else await copyFile(join(root, path), join(dir, path));
      files++;
    }
    // Installed packages are an input through the lockfile; link them rather than copy them.
    for (const nm of ['node_modules', ...(await workspaceModules(root))])
      await linkModules(join(root, nm), join(dir, nm));
    if (!(await initRepoWithAllFiles(dir, ['node_modules/'])))
      throw new Error('could not make a git repository of the sandbox');
    const allowed = new Set([...BASE_ENV, ...SERVICE_ENV, ...inputs.env]);
    const stepEnv = Object.fromEntries(Object.entries(env).filter(([k]) => allowed.has(k)));
    return { dir, files, env: stepEnv, dispose: () => rm(dir, { recursive: true, force: true }) };
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

async function workspaceModules(root: string): Promise<string[]> {
  const out: string[] = [];
  for (const d of await readdir(root, { withFileTypes: true })) {
    if (d.isDirectory() && d.name !== 'node_modules' && !d.name.startsWith('.')) {
      if (
        await lstat(join(root, d.name, 'node_modules')).then(
          (s) => s.isDirectory(),
          () => false,
        )
      )
        out.push(`${d.name}/node_modules`);
    }
  }
  return out;
}

/**
 * node_modules as a directory of links: packages point at the real ones, workspace links keep their
 * relative targets (so `@kgraph/app` is the sandbox's app/, not the real one), .cache starts empty.
 */
async function linkModules(from: string, to: string): Promise<void> {
  const entries = await readdir(from, { withFileTypes: true }).catch(() => undefined);
  if (!entries) return;
  await mkdir(to, { recursive: true });
  for (const e of entries) {
    if (e.name === '.cache') continue;
    const src = join(from, e.name);
    if (e.isSymbolicLink()) await symlink(await readlink(src), join(to, e.name));
    else if (e.isDirectory() && (e.name.startsWith('@') || e.name === '.bin')) await linkModules(src, join(to, e.name));
    else await symlink(src, join(to, e.name));
  }
}
