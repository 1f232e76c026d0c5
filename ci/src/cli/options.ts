/**
 * The flags several commands share, defined once: `--env` (choices from the environment table, parsed into its
 * definition), URLs (http(s) only, never with credentials), `--repo` (owner/name, else GITHUB_REPOSITORY) and the
 * GitHub client built from the CLI's io. A bad value is a UsageError (exit 2) thrown while commander parses, so
 * nothing of the command has run yet.
 */
import { Argument, Option } from 'commander';
import type { Octokit } from '@octokit/rest';
import { ENVIRONMENT_NAMES, getEnvironment, type EnvironmentDefinition } from '../definitions/environments.js';
import { parseRepository, type RepoRef } from '../platform/github/repository.js';
import { parseHttpUrl } from '../platform/http-url.js';
import type { CliIo } from './io.js';

/** The environment named on the command line (an unknown name is a UsageError from getEnvironment). */
export const parseEnvironment = (name: string): EnvironmentDefinition => getEnvironment(name);

/** `--env <name>`: `--help` lists the environment names; the action receives the definition. */
export function envOption(description: string, defaultName?: string): Option {
  const option = new Option('--env <name>', description).choices(ENVIRONMENT_NAMES).argParser(parseEnvironment);
  return defaultName === undefined
    ? option.makeOptionMandatory()
    : option.default(parseEnvironment(defaultName), defaultName);
}

/** `<name>` argument naming an environment, parsed into its definition. */
export function envArgument(description = 'environment name'): Argument {
  return new Argument('<name>', description).choices(ENVIRONMENT_NAMES).argParser(parseEnvironment);
}

/** `flags` (e.g. '--url <url>') parsed by parseHttpUrl. */
export function urlOption(flags: string, description: string): Option {
  const option = new Option(flags, description);
  return option.argParser((value: string) => parseHttpUrl(value, option.long ?? flags));
}

/** `--repo <owner/name>`; resolve with repositoryOf, which falls back to GITHUB_REPOSITORY. */
export function repoOption(description = 'repository (default: GITHUB_REPOSITORY)'): Option {
  return new Option('--repo <owner/name>', description).argParser((value: string) => parseRepository(value, '--repo'));
}

/** --repo when given, else GITHUB_REPOSITORY from the CLI's environment (a UsageError when neither is usable). */
export function repositoryOf(repo: RepoRef | undefined, io: CliIo): RepoRef {
  return repo ?? parseRepository(io.env.GITHUB_REPOSITORY);
}

/** The GitHub client for this CLI run (GITHUB_TOKEN, GITHUB_API_URL); Octokit loads only when a command needs it. */
export async function githubOf(io: CliIo): Promise<Octokit> {
  const { githubClient } = await import('../platform/github/client.js');
  return githubClient(io.env);
}
