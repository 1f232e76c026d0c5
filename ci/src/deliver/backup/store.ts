/**
 * Backups in a directory (the volume environments.ts names, mounted; or a local folder): `<id>.dump` and
 * `<id>.json` (its manifest). Create: dump to a partial file, checksum, read it back with pg_restore, then
 * rename into place, so a half-written dump never has a manifest. Restore: manifest and checksum first, the
 * archive readable, the target empty unless told otherwise; then one transaction.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { backupId, ID_PATTERN, asManifest, type BackupManifest } from './manifest.js';
import { isPass } from '../../definitions/verdict.js';
import { describeUrl, dumpTo, readableArchive, restoreInto, userTables } from './postgres.js';

export class BackupError extends Error {
  override readonly name = 'BackupError';
}

/** pg_restore ran on the target and failed (one transaction: nothing restored); the refusals before it are BackupErrors. */
export class RestoreRunError extends BackupError {
  constructor(
    message: string,
    readonly manifest: BackupManifest,
  ) {
    super(message);
  }
}

export async function sha256Of(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

const paths = (store: string, id: string) => ({ dump: join(store, `${id}.dump`), manifest: join(store, `${id}.json`) });

export interface CreateInput {
  readonly databaseUrl: string;
  readonly store: string;
  readonly environment: string;
  readonly precedes: string;
  readonly now?: () => number;
}

export async function createBackup(input: CreateInput): Promise<BackupManifest> {
  const at = new Date((input.now ?? Date.now)());
  const id = backupId(input.environment, input.precedes, at);
  const { dump, manifest } = paths(input.store, id);
  const partial = `${dump}.partial`;
  try {
    await mkdir(input.store, { recursive: true });
    await writeFile(partial, '');
  } catch (err) {
    throw new BackupError(`cannot write the backup to ${input.store}: ${(err as Error).message}`);
  }
  try {
    await dumpTo(input.databaseUrl, partial);
    const readable = await readableArchive(partial);
    const bytes = (await stat(partial)).size;
    const sha256 = await sha256Of(partial);
    await rename(partial, dump);
    const m: BackupManifest = {
      id,
      environment: input.environment,
      source: describeUrl(input.databaseUrl),
      precedes: input.precedes,
      createdAt: at.toISOString(),
      format: 'custom',
      bytes,
      sha256,
      verified: isPass(readable),
    };
    await writeFile(manifest, `${JSON.stringify(m, null, 2)}\n`);
    return m;
  } catch (err) {
    await rm(partial, { force: true });
    throw err instanceof BackupError
      ? err
      : new BackupError(`backup of ${describeUrl(input.databaseUrl)} failed: ${(err as Error).message}`);
  }
}

export async function readManifest(store: string, id: string): Promise<BackupManifest> {
  if (!ID_PATTERN.test(id))
    throw new BackupError(`"${id}" is not a backup id (like prod-20260101T120000Z-1764590000000_cache_generation)`);
  const text = await readFile(paths(store, id).manifest, 'utf8').catch(() => undefined);
  if (text === undefined) throw new BackupError(`no backup ${id} in ${store}`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  const m = asManifest(parsed);
  if (!m || m.id !== id) throw new BackupError(`the manifest of ${id} is damaged`);
  return m;
}

/** Checksum and archive both good, or a BackupError saying which is not. Touches no database. */
export async function verifyBackup(store: string, id: string): Promise<BackupManifest> {
  const m = await readManifest(store, id);
  const { dump } = paths(store, id);
  const size = await stat(dump).then(
    (s) => s.size,
    () => undefined,
  );
  if (size === undefined) throw new BackupError(`backup ${id}: its dump file is missing from ${store}`);
  const sha = await sha256Of(dump);
  if (size !== m.bytes || sha !== m.sha256)
    throw new BackupError(
      `backup ${id} is damaged: ${size} bytes, sha256 ${sha.slice(0, 12)}…; its manifest says ${m.bytes} bytes, sha256 ${m.sha256.slice(0, 12)}…`,
    );
  const readable = await readableArchive(dump);
  if (!isPass(readable))
    throw new BackupError(`backup ${id} is not a readable archive: ${readable.reasons.join('; ')}`);
  return m;
}

export interface RestoreInput {
  readonly store: string;
  readonly id: string;
  readonly to: string;
  /** Restore over a database that already has tables (their objects are dropped first, in the same transaction). */
  readonly overwrite?: boolean;
}

export async function restoreBackup(input: RestoreInput): Promise<BackupManifest> {
  const m = await verifyBackup(input.store, input.id);
  const existing = await userTables(input.to).catch((err: Error) => {
    throw new BackupError(`cannot reach the target ${describeUrl(input.to)}: ${err.message}`);
  });
  if (existing.length && !input.overwrite)
    throw new BackupError(
      `the target ${describeUrl(input.to)} is not empty (${existing.length} tables, e.g. ${existing.slice(0, 3).join(', ')}): restore into an empty database, or pass --overwrite`,
    );
  try {
    await restoreInto(input.to, paths(input.store, input.id).dump, existing.length > 0);
  } catch (err) {
    throw new RestoreRunError((err as Error).message, m);
  }
  return m;
}
