import type { Command } from 'commander';
import { ENVIRONMENTS, ENVIRONMENT_NAMES, type EnvironmentDefinition } from '../../definitions/environments.js';
import { FailedError, UsageError } from '../../definitions/errors.js';
import { writeLine, type CliIo } from '../io.js';
import { envOption } from '../options.js';

/** Where backups are when --store is not given: KGRAPH_BACKUP_DIR, else the backup volume mount of the environment whose policy takes backups. */
const defaultStore = (io: CliIo): string =>
  io.env.KGRAPH_BACKUP_DIR ??
  ENVIRONMENT_NAMES.map((n) => ENVIRONMENTS[n].database.backup).find((b) => b !== undefined)?.storage.mountPath ??
  '/backups';

async function backups() {
  return import('../../deliver/backup/store.js');
}

/** BackupError is the command's "no" (exit 1); anything else is unexpected. */
async function run<T>(what: () => Promise<T>): Promise<T> {
  const { BackupError } = await backups();
  try {
    return await what();
  } catch (err) {
    if (err instanceof BackupError) throw new FailedError(err.message);
    throw err;
  }
}

export function register(program: Command, io: CliIo): void {
  const backup = program.command('backup').description('pg_dump backups before a migration, their checks and restores');
  backup
    .command('create')
    .description(
      'pg_dump (custom format) of DATABASE_URL into the store, read back by pg_restore, with size and SHA-256',
    )
    .addOption(envOption('environment the database belongs to'))
    .requiredOption('--precedes <migration>', 'the migration this backup is taken before')
    .option('--store <dir>', 'backup directory (default: KGRAPH_BACKUP_DIR, else the backup volume mount)')
    .action(async (opts: { env: EnvironmentDefinition; precedes: string; store?: string }) => {
      const url = io.env.DATABASE_URL;
      if (!url) throw new UsageError('DATABASE_URL: missing (the database to back up)');
      const { createBackup } = await backups();
      const m = await run(() =>
        createBackup({
          databaseUrl: url,
          store: opts.store ?? defaultStore(io),
          environment: opts.env.name,
          precedes: opts.precedes,
        }),
      );
      writeLine(io.stdout, JSON.stringify(m, null, 2));
      if (!m.verified) throw new FailedError(`backup ${m.id} was written but pg_restore cannot read it back`);
    });
  backup
    .command('verify')
    .description('Check a backup: its manifest, size and SHA-256, and that pg_restore reads the whole archive')
    .requiredOption('--from <id>', 'backup id')
    .option('--store <dir>', 'backup directory')
    .action(async (opts: { from: string; store?: string }) => {
      const { verifyBackup } = await backups();
      const m = await run(() => verifyBackup(opts.store ?? defaultStore(io), opts.from));
      writeLine(io.stdout, `backup ${m.id}: ${m.bytes} bytes, sha256 ${m.sha256}, taken before ${m.precedes}: intact`);
    });
  backup
    .command('restore')
    .description(
      'Restore a backup into a database: checksum first, an empty target unless --overwrite, one transaction',
    )
    .requiredOption('--from <id>', 'backup id')
    .requiredOption('--to <database-url>', 'the database to restore into')
    .option('--store <dir>', 'backup directory')
    .option('--overwrite', 'restore over a database that has tables (drops the objects the backup holds first)')
    .action(async (opts: { from: string; to: string; store?: string; overwrite?: boolean }) => {
      const { restoreBackup } = await backups();
      const { describeUrl, libpqEnv } = await import('../../deliver/backup/postgres.js');
      try {
        libpqEnv(opts.to);
      } catch (err) {
        throw new UsageError(`--to: ${(err as Error).message}`);
      }
      const m = await run(() =>
        restoreBackup({
          store: opts.store ?? defaultStore(io),
          id: opts.from,
          to: opts.to,
          ...(opts.overwrite ? { overwrite: true } : {}),
        }),
      );
      writeLine(
        io.stdout,
        `restored ${m.id} (${m.bytes} bytes, taken before ${m.precedes}) into ${describeUrl(opts.to)}`,
      );
    });
}
