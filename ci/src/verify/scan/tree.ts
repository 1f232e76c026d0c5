/**
 * The files a scan reads when the tree has no .git (the Dagger module's source leaves it out, as does an
 * unpacked archive): the tree walked with git's own ignore rules, every `.gitignore` on the way applied to
 * the paths below it, a deeper file overriding a shallower one, an ignored directory never entered. That is
 * `git ls-files --cached --others --exclude-standard` of a checkout with no force-added ignored files (a
 * tracked file that matches .gitignore is the one thing only the history knows).
 */
import ignore, { type Ignore } from 'ignore';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

/** One directory's .gitignore: `base` is its directory relative to the root ('' for the root). */
interface Rules {
  readonly base: string;
  readonly rules: Ignore;
}

/** git's answer for `path` (relative to the root; a directory ends in '/'): the deepest decisive .gitignore wins. */
export function isIgnored(levels: readonly Rules[], path: string): boolean {
  for (let i = levels.length - 1; i >= 0; i--) {
    const { base, rules } = levels[i]!;
    const verdict = rules.test(base === '' ? path : path.slice(base.length + 1));
    if (verdict.ignored) return true;
    if (verdict.unignored) return false;
  }
  return false;
}

async function rulesOf(root: string, dir: string): Promise<Rules | undefined> {
  let text: string;
  try {
    text = await readFile(join(root, dir, '.gitignore'), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  return { base: dir, rules: ignore().add(text) };
}

/** Every file (and symlink, as git lists it, never followed) under `root` that git would list, sorted. */
export async function walkTree(root: string): Promise<string[]> {
  const out: string[] = [];
  const visit = async (dir: string, inherited: readonly Rules[]): Promise<void> => {
    const own = await rulesOf(root, dir);
    const levels = own ? [...inherited, own] : inherited;
    const entries = await readdir(join(root, dir), { withFileTypes: true });
    for (const entry of entries) {
      const path = dir === '' ? entry.name : `${dir}/${entry.name}`;
      if (entry.isDirectory()) {
        if (entry.name !== '.git' && !isIgnored(levels, `${path}/`)) await visit(path, levels);
      } else if ((entry.isFile() || entry.isSymbolicLink()) && !isIgnored(levels, path)) out.push(path);
    }
  };
  await visit('', []);
  return out.sort();
}
