import type { Command } from 'commander';
import type { EnvironmentDefinition } from '../../definitions/environments.js';
import { FailedError, UsageError } from '../../definitions/errors.js';
import { isPass } from '../../definitions/verdict.js';
import type { RepoRef } from '../../platform/github/repository.js';
import { writeLine, type CliIo } from '../io.js';
import { envOption, repoOption, repositoryOf } from '../options.js';
import { choosePrevious, type PreviousChoice } from '../../deliver/rollout/compat-previous.js';
import type { CompatOptions, CompatResult } from '../../deliver/rollout/compat.js';
import type { SourceFacts } from '../../deliver/deploy/sources.js';

interface CompatCliOptions {
  env: EnvironmentDefinition;
  previous?: string;
  previousDigest?: string;
  image?: string;
  contractSuite: boolean;
  repo?: RepoRef;
  json?: boolean;
}

const DIGEST = /^sha256:[0-9a-f]{64}$/;

/** --previous-digest and --image, when given, are image digests: anything else is bad usage before anything runs. */
function checkDigests(opts: CompatCliOptions): void {
  for (const [flag, v] of [
    ['--previous-digest', opts.previousDigest],
    ['--image', opts.image],
  ] as const)
    if (v !== undefined && !DIGEST.test(v)) throw new UsageError(`${flag} "${v}" is not sha256: and 64 hex digits`);
}

/** The check asked for: the chosen previous release, and the candidate as --image and this checkout's HEAD. */
function compatOptions(
  opts: CompatCliOptions,
  previous: Extract<PreviousChoice, { kind: 'check' }>,
  head: SourceFacts,
): CompatOptions {
  return {
    environment: opts.env,
    ...(previous.ref ? { previous: previous.ref } : {}),
    ...(previous.digest ? { previousDigest: previous.digest } : {}),
    ...(previous.version ? { previousVersion: previous.version } : {}),
    candidate: {
      ...(opts.image ? { digest: opts.image } : {}),
      ...(head.commit ? { commit: head.commit } : {}),
      ...(head.tree ? { tree: head.tree } : {}),
    },
    maxStaleMs: 1_000,
    contractSuite: opts.contractSuite,
  };
}

/** The record as JSON with --json; else the verdict, the migrations covered, the figures and each failure. */
function compatText(result: CompatResult, where: string, json: boolean): string {
  if (json) return JSON.stringify(result.payload, null, 2);
  const c = result.compat;
  return [
    `compatibility of ${result.payload.compat?.previous.version ?? c.previous.commit?.slice(0, 12)} with schema ${c.schemaHead}: ${isPass(result) ? 'PASSED' : 'FAILED'}`,
    `  migrations covered: ${c.migrations.join(', ') || 'none new'}`,
    ...Object.entries(c.figures ?? {}).map(([k, v]) => `  ${k}: ${v}`),
    ...(c.reasons ?? []).map((r) => `  FAIL ${r}`),
    `  recorded in ${where}`,
  ].join('\n');
}

async function runCompat(opts: CompatCliOptions, io: CliIo): Promise<void> {
  checkDigests(opts);
  const [{ checkCompatibility }, { gitSources }, { REPO_ROOT }, recorder] = await Promise.all([
    import('../../deliver/rollout/compat.js'),
    import('../../deliver/deploy/sources.js'),
    import('../../platform/repo-root.js'),
    import('../finding-record.js'),
  ]);
  const repo = opts.repo ? repositoryOf(opts.repo, io) : undefined;
  const previous = await previousOf(opts, io, repo);
  writeLine(io.stderr, `previous release: ${previous.why}`);
  if (previous.kind === 'refuse') throw new FailedError(previous.why);
  if (previous.kind === 'nothing') {
    writeLine(io.stdout, `${previous.why}: nothing checked, nothing recorded`);
    return;
  }
  const head = await gitSources(REPO_ROOT).describeHead!();
  const result = await checkCompatibility(compatOptions(opts, previous, head), {
    repoRoot: REPO_ROOT,
    log: (l) => writeLine(io.stderr, l),
  });
  const where = await recorder.recordCompat(result.payload, io, repo);
  writeLine(io.stdout, compatText(result, where, opts.json === true));
  if (!isPass(result))
    throw new FailedError(`the previous release is not compatible: ${result.compat.reasons?.join('; ') ?? ''}`);
}

/** `migrations compat`; `migrations` may already be registered by its own module (check), so it is found or made. */
export function register(program: Command, io: CliIo): void {
  const migrations =
    program.commands.find((c) => c.name() === 'migrations') ??
    program.command('migrations').description('Schema migrations (app/migrations) before they ship');
  migrations
    .command('compat')
    .description(
      "N-1 check: the previous release runs its own API suite on the candidate's schema, then serves one database beside the candidate (equal answers, writes both ways, caches coherent within 1 s); recorded in the ledger",
    )
    .addOption(envOption('environment whose running release is the previous one (the record is kept there)', 'prod'))
    .option(
      '--previous <ref>',
      'git ref of the previous release (default: the release running in --env by the ledger, else the newest v* tag)',
    )
    .option('--previous-digest <sha256:...>', "the previous release's image digest, recorded with its commit")
    .option('--image <sha256:...>', "the candidate's image digest, recorded with its commit and tree")
    .option('--no-contract-suite', "skip the previous release's own API suite (side by side only)")
    .addOption(repoOption('repository of the delivery ledger (default: GITHUB_REPOSITORY; needs GITHUB_TOKEN)'))
    .option('--json', 'print the record as JSON')
    .action((opts: CompatCliOptions) => runCompat(opts, io));
}

/** The ledger's view for choosePrevious: read only when no --previous names the release (GitHub's ledger). */
async function previousOf(opts: CompatCliOptions, io: CliIo, repo: RepoRef | undefined): Promise<PreviousChoice> {
  const given = {
    ...(opts.previous ? { previous: opts.previous } : {}),
    ...(opts.previousDigest ? { previousDigest: opts.previousDigest } : {}),
  };
  if (opts.previous) return choosePrevious(opts.env.name, given, { kind: 'none', why: 'given' });
  const [{ realDeps }, { ledgerEntries }] = await Promise.all([
    import('../delivery.js'),
    import('../../platform/ledger/entry.js'),
  ]);
  const deps = realDeps(io, repo ? { repo } : {});
  if (!deps.ledger)
    return choosePrevious(opts.env.name, given, { kind: 'none', why: deps.ledgerMissing ?? 'no ledger' });
  try {
    const entries = ledgerEntries(await deps.ledger.read({ environment: opts.env.name }));
    return choosePrevious(opts.env.name, given, { kind: 'read', entries });
  } catch (err) {
    return choosePrevious(opts.env.name, given, {
      kind: 'unreadable',
      why: `${deps.ledger.where}: ${(err as Error).message}`,
    });
  }
}
