/**
 * The ledger's offline copy: one JSON file per record under .reports/deployments, rewritten when the
 * record finishes. The delivery report falls back to it when GitHub cannot be read; eligibility never
 * trusts it (a file on a laptop vouches for nothing).
 */
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { asPayload, type LedgerRecord } from './entry.js';
import type { Ledger } from './github.js';

export const RECORDS_DIR = '.reports/deployments';

const fileName = (r: LedgerRecord): string =>
  `${r.createdAt.replace(/[:.]/g, '-')}-${r.payload.environment}-${r.payload.operation}-${r.id}.json`;

export function localLedger(dir: string, now: () => number = Date.now): Ledger & { readonly dir: string } {
  let seq = 0;
  return {
    dir,
    where: `local records in ${dir}`,
    async read(opts = {}) {
      const { records } = await readLocalRecords(dir);
      return records.filter(
        (r) =>
          (!opts.environment || r.payload.environment === opts.environment) &&
          (opts.sinceMs === undefined || Date.parse(r.createdAt) >= opts.sinceMs),
      );
    },
    async open(payload) {
      await mkdir(dir, { recursive: true });
      const createdAt = new Date(now()).toISOString();
      const id = `local-${now().toString(36)}-${process.pid}-${seq++}`;
      const base: LedgerRecord = { id, payload, state: 'in_progress', createdAt, updatedAt: createdAt };
      const path = join(dir, fileName(base));
      const write = (r: LedgerRecord) => writeFile(path, `${JSON.stringify(r, null, 2)}\n`, 'utf8');
      await write(base);
      return {
        id,
        finish: async (state) => write({ ...base, state, updatedAt: new Date(now()).toISOString() }),
      };
    },
  };
}

function isRecord(v: unknown): v is LedgerRecord {
  const r = v as LedgerRecord;
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof r.id === 'string' &&
    typeof r.state === 'string' &&
    typeof r.createdAt === 'string' &&
    typeof r.updatedAt === 'string' &&
    asPayload(r.payload) !== undefined
  );
}

/** Every record in `dir`, oldest first; a malformed file is reported, not silently counted. */
export async function readLocalRecords(dir: string): Promise<{ records: LedgerRecord[]; invalid: string[] }> {
  const names = await readdir(dir).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return [] as string[];
    throw err;
  });
  const records: LedgerRecord[] = [];
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
  records.sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  return { records, invalid };
}
