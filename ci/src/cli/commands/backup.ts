import type { Command } from 'commander';
import { ENVIRONMENTS, ENVIRONMENT_NAMES, type EnvironmentDefinition } from '../../definitions/environments.js';
import { FailedError, UsageError } from '../../definitions/errors.js';
import { writeLine, type CliIo } from '../io.js';
import { ID_PATTERN } from '../../deliver/backup/manifest.js';
import type { RepoRef } from '../../platform/github/repository.js';
import { envOption, repoOption, repositoryOf } from '../options.js';

/** Where backups are when --store is not given: KGRAPH_BACKUP_DIR, else the backup volume mount of the environment whose policy takes backups. */
const defaultStore = (io: CliIo): string =>
  io.env.KGRAPH_BACKUP_DIR ??
  ENVIRONMENT_NAMES.map((n) => ENVIRONMENTS[n].database.backup).find((b) => b !== undefined)?.storage.mountPath ??
  '/backups';

/** A backup id is bad usage when malformed (exit 2), before any store is read. */
function checkBackupId(id: string): string {
  if (!ID_PATTERN.test(id))
    throw new UsageError(
      `--from: "${id}" is not a backup id (like prod-20260101T120000Z-1764590000000_cache_generation)`,
    );
  return id;
}

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

interface CreateCliOptions {
  env: EnvironmentDefinition;
  precedes: string;
  store?: string;
}

interface VerifyCliOptions {
  from: string;
  store?: string;
}

async function runCreate(opts: CreateCliOptions, io: CliIo): Promise<void> {
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
}

async function runVerify(opts: VerifyCliOptions, io: CliIo): Promise<void> {
  checkBackupId(opts.from);
  const { verifyBackup } = await backups();
  const m = await run(() => verifyBackup(opts.store ?? defaultStore(io), opts.from));
  writeLine(io.stdout, `backup ${m.id}: ${m.bytes} bytes, sha256 ${m.sha256}, taken before ${m.precedes}: intact`);
}

async function runRestore(opts: RestoreCliOptions, io: CliIo): Promise<void> {
  checkBackupId(opts.from);
  const { describeUrl, libpqEnv } = await import('../../deliver/backup/postgres.js');
  try {
    libpqEnv(opts.to);
  } catch (err) {
    throw new UsageError(`--to: ${(err as Error).message}`);
  }
  const restored = await restoreAndRecord(opts, io);
  writeLine(
    io.stdout,
    `restored ${restored.id} (${restored.bytes} bytes, taken before ${restored.precedes}) into ${describeUrl(opts.to)}`,
  );
  writeLine(io.stdout, `  recorded in ${restored.where}`);
  if (restored.problems.length)
    throw new FailedError(`restored, but not recorded everywhere: ${restored.problems.join('; ')}`);
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
    .action((opts: CreateCliOptions) => runCreate(opts, io));
  backup
    .command('verify')
    .description('Check a backup: its manifest, size and SHA-256, and that pg_restore reads the whole archive')
    .requiredOption('--from <id>', 'backup id')
    .option('--store <dir>', 'backup directory')
    .action((opts: VerifyCliOptions) => runVerify(opts, io));
  backup
    .command('restore')
    .description(
      'Restore a backup into a database: checksum first, an empty target unless --overwrite, one transaction',
    )
    .requiredOption('--from <id>', 'backup id')
    .requiredOption('--to <database-url>', 'the database to restore into')
    .option('--store <dir>', 'backup directory')
    .option('--overwrite', 'restore over a database that has tables (drops the objects the backup holds first)')
    .addOption(repoOption('repository of the delivery ledger (default: GITHUB_REPOSITORY; needs GITHUB_TOKEN)'))
    .action((opts: RestoreCliOptions) => runRestore(opts, io));
}

interface RestoreCliOptions {
  from: string;
  to: string;
  store?: string;
  overwrite?: boolean;
  repo?: RepoRef;
}

/**
 * The restore, then its ledger record (target as host:port/database only). A refusal before pg_restore starts
 * changed nothing and records nothing; a pg_restore that ran and failed records a failure, then exits 1.
 */
async function restoreAndRecord(opts: RestoreCliOptions, io: CliIo) {
  const { restoreBackup, RestoreRunError } = await backups();
  const [{ restoreRecord }, { describeUrl, schemaHeadOf }, { recordFinding }] = await Promise.all([
    import('../../deliver/backup/manifest.js'),
    import('../../deliver/backup/postgres.js'),
    import('../finding-record.js'),
  ]);
  const startedAt = new Date().toISOString();
  const base = { target: describeUrl(opts.to), overwrite: Boolean(opts.overwrite), startedAt };
  const repo = opts.repo ? repositoryOf(opts.repo, io) : undefined;
  const record = async (rec: ReturnType<typeof restoreRecord>) =>
    recordFinding(rec.payload, rec.state, rec.description, io, { repo, ref: await ledgerRef(io) });
  try {
    const m = await restoreBackup({
      store: opts.store ?? defaultStore(io),
      id: opts.from,
      to: opts.to,
      ...(opts.overwrite ? { overwrite: true } : {}),
    });
    const written = await record(restoreRecord(m, { ...base, schemaHead: await schemaHeadOf(opts.to) }));
    return { ...m, ...written };
  } catch (err) {
    if (err instanceof RestoreRunError) {
      const { where, problems } = await record(restoreRecord(err.manifest, { ...base, failed: err.message }));
      const more = problems.length ? ` (and not recorded everywhere: ${problems.join('; ')})` : '';
      throw new FailedError(`${err.message}; recorded as failed in ${where}${more}`);
    }
    return run(() => Promise.reject(err));
  }
}

/** The commit a GitHub deployment record is made on: the workflow's, else this checkout's HEAD, else main. */
async function ledgerRef(io: CliIo): Promise<string> {
  if (io.env.GITHUB_SHA) return io.env.GITHUB_SHA;
  const [{ gitSources }, { REPO_ROOT }] = await Promise.all([
    import('../../deliver/deploy/sources.js'),
    import('../../platform/repo-root.js'),
  ]);
  const head = await gitSources(REPO_ROOT).describeHead!().catch(() => ({ commit: undefined }));
  return head.commit ?? 'main';
}
