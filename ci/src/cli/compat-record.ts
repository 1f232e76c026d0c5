/** Where a compat record goes: the local ledger always, GitHub's too when a token and repository are given. */
import { join } from 'node:path';
import type { RepoRef } from '../platform/github/repository.js';
import type { LedgerPayload } from '../platform/ledger/entry.js';
import { localLedger, RECORDS_DIR } from '../platform/ledger/local.js';
import { writeRecord } from '../platform/ledger/recorder.js';
import type { CliIo } from './io.js';
import { writeLine } from './io.js';
import { repositoryOf } from './options.js';

export async function recordCompat(payload: LedgerPayload, io: CliIo, repo?: RepoRef): Promise<string> {
  const local = localLedger(join(io.cwd, RECORDS_DIR));
  const hasRepo = Boolean(repo || io.env.GITHUB_REPOSITORY);
  let remote;
  if (io.env.GITHUB_TOKEN && hasRepo) {
    const [{ githubLedger }, { githubClient }] = await Promise.all([
      import('../platform/ledger/github.js'),
      import('../platform/github/client.js'),
    ]);
    remote = githubLedger(githubClient(io.env), repositoryOf(repo, io));
  }
  const c = payload.compat!;
  const { problems } = await writeRecord(
    payload,
    c.passed ? 'success' : 'failure',
    `compat: ${c.previous.version ?? c.previous.commit?.slice(0, 12)} on schema ${c.schemaHead}: ${c.passed ? 'passed' : 'failed'}`,
    {
      local,
      ...(remote ? { remote } : {}),
      required: false,
      ...(payload.commit ? { ref: payload.commit } : {}),
      production: false,
      warn: (l) => writeLine(io.stderr, l),
    },
  );
  for (const p of problems) writeLine(io.stderr, `warning: ${p}`);
  return [local.where, ...(remote && problems.length === 0 ? [remote.where] : [])].join(' and ');
}
