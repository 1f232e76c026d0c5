/**
 * Where a finding record (a compat check, a restore) goes: the local ledger always, GitHub's too when a token
 * and repository are given. A GitHub write that fails is returned as a problem, never swallowed.
 */
import { join } from 'node:path';
import type { RepoRef } from '../platform/github/repository.js';
import type { FinalState, LedgerPayload } from '../platform/ledger/entry.js';
import { localLedger, RECORDS_DIR } from '../platform/ledger/local.js';
import { writeRecord } from '../platform/ledger/recorder.js';
import type { CliIo } from './io.js';
import { writeLine } from './io.js';
import { repositoryOf } from './options.js';

export async function recordFinding(
  payload: LedgerPayload,
  state: FinalState,
  description: string,
  io: CliIo,
  opts: { readonly repo?: RepoRef | undefined; readonly ref?: string | undefined },
): Promise<{ where: string; problems: string[] }> {
  const local = localLedger(join(io.cwd, RECORDS_DIR));
  const hasRepo = Boolean(opts.repo || io.env.GITHUB_REPOSITORY);
  let remote;
  if (io.env.GITHUB_TOKEN && hasRepo) {
    const [{ githubLedger }, { githubClient }] = await Promise.all([
      import('../platform/ledger/github.js'),
      import('../platform/github/client.js'),
    ]);
    remote = githubLedger(githubClient(io.env), repositoryOf(opts.repo, io));
  }
  const { problems } = await writeRecord(payload, state, description, {
    local,
    ...(remote ? { remote } : {}),
    required: false,
    ...(opts.ref ? { ref: opts.ref } : {}),
    production: false,
    warn: (l) => writeLine(io.stderr, l),
  });
  return { where: [local.where, ...(remote && problems.length === 0 ? [remote.where] : [])].join(' and '), problems };
}

export async function recordCompat(payload: LedgerPayload, io: CliIo, repo?: RepoRef): Promise<string> {
  const c = payload.compat!;
  const { where, problems } = await recordFinding(
    payload,
    c.passed ? 'success' : 'failure',
    `compat: ${c.previous.version ?? c.previous.commit?.slice(0, 12)} on schema ${c.schemaHead}: ${c.passed ? 'passed' : 'failed'}`,
    io,
    { repo, ref: payload.commit },
  );
  for (const p of problems) writeLine(io.stderr, `warning: ${p}`);
  return where;
}
