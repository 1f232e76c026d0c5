/**
 * Whose cache directory this is. Without KGRAPH_CACHE_KEY an entry's checksum detects damage, not
 * forgery, so an unsigned cache is trusted only as this machine's own: the directory records the
 * machine that made it, and a directory another machine made (restored, synced, mounted) or whose
 * origin is unknown is refused until a key is set. With a key every entry is verified, so the cache
 * may be shared. The machine record stops accidents, not an attacker: the key is the guard.
 */
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';

export const CACHE_KEY_ENV = 'KGRAPH_CACHE_KEY';
/** Long enough to be a secret (`openssl rand -hex 32` gives 64). */
export const MIN_KEY_LENGTH = 32;
const ORIGIN_FILE = 'origin';

export type CacheTrust =
  { readonly ok: true; readonly secret?: string } | { readonly ok: false; readonly reason: string };

/** This machine, as stable across runs as the host allows: machine-id plus host name. */
export async function thisMachine(): Promise<string> {
  const id = await readFile('/etc/machine-id', 'utf8').then(
    (t) => t.trim(),
    () => '',
  );
  return `${hostname()}${id ? ` ${id.slice(0, 12)}` : ''}`;
}

/** Decides whether the cache in `dir` may be used, and with which secret; records this machine on first use. */
export async function trustCache(dir: string, env: NodeJS.ProcessEnv, machine: string = ''): Promise<CacheTrust> {
  const secret = env[CACHE_KEY_ENV];
  const me = machine || (await thisMachine());
  const recorded = await readFile(join(dir, ORIGIN_FILE), 'utf8').then(
    (t) => t.trim(),
    () => undefined,
  );
  const record = async () => {
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, ORIGIN_FILE), `${me}\n`);
  };
  if (secret !== undefined && secret !== '') {
    if (secret.length < MIN_KEY_LENGTH)
      return {
        ok: false,
        reason: `${CACHE_KEY_ENV} is ${secret.length} characters; a signing key needs at least ${MIN_KEY_LENGTH} (e.g. openssl rand -hex 32)`,
      };
    if (recorded === undefined) await record();
    return { ok: true, secret };
  }
  const shared = `a cache shared between machines is replayed only with ${CACHE_KEY_ENV} set to the same secret on each, so entries are signed and verified; set it, or remove ${dir}`;
  if (recorded === undefined) {
    const entries = await readdir(join(dir, 'entries')).catch(() => [] as string[]);
    if (entries.length > 0)
      return { ok: false, reason: `refused: ${dir} holds entries of unknown origin (no machine record); ${shared}` };
    await record();
    return { ok: true };
  }
  if (recorded !== me)
    return { ok: false, reason: `refused: ${dir} was written on machine "${recorded}", this is "${me}"; ${shared}` };
  return { ok: true };
}
