/**
 * One JSON file per deploy or rollback under .reports/deployments/, so `kgraph-ci report` can compute
 * delivery metrics without a server. Records hold no secrets: names, versions, times, results.
 */
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export const RECORDS_DIR = '.reports/deployments';

export interface DeployRecord {
  readonly operation: 'deploy' | 'rollback';
  readonly environment: string;
  readonly version: string;
  readonly image?: string;
  readonly previousImage?: string;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly durationMs: number;
  readonly result: 'success' | 'failure';
  readonly failedStep?: string;
  readonly reason?: string;
  /** A failed deploy that kgraph-ci rolled back automatically. */
  readonly rolledBack: boolean;
}

const fileName = (r: DeployRecord): string => `${r.startedAt.replace(/[:.]/g, '-')}-${r.environment}-${r.operation}.json`;

export async function writeRecord(dir: string, record: DeployRecord): Promise<string> {
  await mkdir(dir, { recursive: true });
  const path = join(dir, fileName(record));
  await writeFile(path, `${JSON.stringify(record, null, 2)}\n`, 'utf8');
  return path;
}

function isRecord(v: unknown): v is DeployRecord {
  const r = v as DeployRecord;
  return (
    typeof v === 'object' && v !== null &&
    (r.operation === 'deploy' || r.operation === 'rollback') &&
    typeof r.environment === 'string' && typeof r.version === 'string' &&
    typeof r.startedAt === 'string' && typeof r.finishedAt === 'string' &&
    typeof r.durationMs === 'number' && (r.result === 'success' || r.result === 'failure') && typeof r.rolledBack === 'boolean'
  );
}

/** Every record in `dir`, oldest first; a malformed file is reported, not silently counted. */
export async function readRecords(dir: string): Promise<{ records: DeployRecord[]; invalid: string[] }> {
  const names = await readdir(dir).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return [] as string[];
    throw err;
  });
  const records: DeployRecord[] = [];
  const invalid: string[] = [];
  for (const name of names.filter((n) => n.endsWith('.json')).sort()) {
    try {
      const value: unknown = JSON.parse(await readFile(join(dir, name), 'utf8'));
      if (isRecord(value)) records.push(value);
      else invalid.push(name);
    } catch {
      invalid.push(name);
    }
  }
  records.sort((a, b) => a.startedAt.localeCompare(b.startedAt));
  return { records, invalid };
}
