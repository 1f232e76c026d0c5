import { Option, type Command } from 'commander';
import { ENVIRONMENT_NAMES, RELEASE_TRAIN } from '../../definitions/environments.js';
import type { RepoRef } from '../../platform/github/repository.js';
import { cutRelease, keepScheduleAlive } from '../../deliver/release/cut.js';
import { localDate, trainDecision, type TrainDay } from '../../deliver/release/train.js';
import { publishRelease } from '../../deliver/release/release.js';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { UsageError } from '../../definitions/errors.js';
import { writeLine, type CliIo } from '../io.js';
import { githubOf, repoOption, repositoryOf } from '../options.js';

interface ReleaseCliOptions {
  tag?: string;
  deployedTo?: string[];
  sbom?: string;
  repo?: RepoRef;
}

interface CutCliOptions {
  from: string;
  repo?: RepoRef;
  date?: string;
  force?: boolean;
  keepAlive: string;
}

/** The SBOM file must exist and be a CycloneDX JSON document before anything is published. */
async function readSbom(path: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    throw new UsageError(`--sbom ${path}: no such file`);
  }
  let doc: { bomFormat?: unknown };
  try {
    doc = JSON.parse(text) as { bomFormat?: unknown };
  } catch {
    throw new UsageError(`--sbom ${path}: not JSON`);
  }
  if (doc.bomFormat !== 'CycloneDX')
    throw new UsageError(`--sbom ${path}: not a CycloneDX SBOM (bomFormat is ${JSON.stringify(doc.bomFormat)})`);
  return text;
}

/** The release's assets: the SBOM as kgraph-mcp-<tag>.cdx.json when --sbom is given, else none. */
async function releaseAssets(tag: string, sbom: string | undefined, io: CliIo) {
  if (!sbom) return [];
  return [
    {
      name: `kgraph-mcp-${tag}.cdx.json`,
      contentType: 'application/vnd.cyclonedx+json',
      data: await readSbom(resolve(io.cwd, sbom)),
    },
  ];
}

async function runRelease(opts: ReleaseCliOptions, io: CliIo): Promise<void> {
  if (!opts.tag) throw new UsageError('release needs --tag vX.Y.Z (or the subcommand `release cut`)');
  const repo = repositoryOf(opts.repo, io);
  const assets = await releaseAssets(opts.tag, opts.sbom, io);
  const res = await publishRelease(await githubOf(io), repo, {
    tag: opts.tag,
    ...(opts.deployedTo ? { deployedTo: opts.deployedTo } : {}),
    assets,
    log: (l) => writeLine(io.stderr, l),
  });
  writeLine(io.stdout, `${res.action} ${res.url}`);
}

/** The train's word for --date (default: today in its time zone); a date it cannot read is bad usage. */
function trainSays(date: string | undefined): TrainDay {
  try {
    return trainDecision(RELEASE_TRAIN, 'staging', date ?? localDate(new Date(), RELEASE_TRAIN.timeZone));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

async function runCut(opts: CutCliOptions, io: CliIo): Promise<void> {
  const repo = repositoryOf(opts.repo, io);
  const log = (l: string) => writeLine(io.stderr, l);
  const octokit = await githubOf(io);
  // The scheduled workflow that runs this (inside Dagger it cannot see GITHUB_WORKFLOW_REF, so it is named).
  if (opts.keepAlive) await keepScheduleAlive(octokit, repo, opts.keepAlive, log);
  if (!opts.force) {
    const decision = trainSays(opts.date);
    if (!decision.runs) {
      writeLine(io.stdout, `no cut: ${decision.reason}`);
      return;
    }
    log(decision.reason);
  }
  const res = await cutRelease(octokit, repo, opts.from, log);
  if ('empty' in res) writeLine(io.stdout, `no cut: ${res.reason}`);
  else writeLine(io.stdout, `${res.created ? 'created' : 'exists'} ${res.branch} at ${res.sha}`);
}

export function register(program: Command, io: CliIo): void {
  const release = program
    .command('release')
    .description(
      'Create or update the GitHub release for a v* tag on main (generated notes); `release cut` starts the next one',
    )
    .option('--tag <vX.Y.Z>', 'the release tag')
    .addOption(
      new Option(
        '--deployed-to <env...>',
        'mark the tag deployed (GitHub deployment, success) in these environments',
      ).choices(ENVIRONMENT_NAMES),
    )
    .option(
      '--sbom <file>',
      'attach this CycloneDX JSON SBOM (of the promoted image) to the release as kgraph-mcp-<tag>.cdx.json',
    )
    .addOption(repoOption())
    .action((opts: ReleaseCliOptions) => runRelease(opts, io));
  release
    .command('cut')
    .description(
      "Cut release/<next minor> from develop on the staging train's days (the release train in environments.ts); nothing on other days or when develop has nothing new",
    )
    .option('--from <branch>', 'branch to cut from', 'develop')
    .option('--date <YYYY-MM-DD>', "decide for this date (default: today in the train's time zone)")
    .option('--force', 'cut whatever the train says (a manual run)')
    .option(
      '--keep-alive <workflow-file>',
      "re-enable this scheduled workflow (GitHub disables schedules after 60 idle days); '' for none",
      'release-cut.yml',
    )
    .addOption(repoOption())
    .action((opts: CutCliOptions) => runCut(opts, io));
}
