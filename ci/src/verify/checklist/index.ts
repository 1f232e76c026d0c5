/**
 * `runChecklist(opts)`: the pre-deploy checklist, used by `kgraph-ci checklist` and by deploy. The edges
 * (GitHub, the database, the process environment, files) are injectable; the defaults are the real ones.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import pg from 'pg';
import { RequestError } from '@octokit/request-error';
import { getEnvironment, type EnvironmentDefinition } from '../../definitions/environments.js';
import { failed, type Verdict } from '../../definitions/verdict.js';
import { githubClient } from '../../platform/github/client.js';
import { parseRepository } from '../../platform/github/repository.js';
import { REPO_ROOT } from '../../platform/repo-root.js';
import { headCommit as gitHead } from '../policy/git.js';
import { DEFAULT_RUN_REPORT } from '../runner/report.js';
import { historyDir, readCommitHistory } from '../runner/history.js';
import { DEFAULT_SCAN_REPORT } from '../scan/index.js';
import { redactUrl } from '../../platform/services/ephemeral.js';
import { scanFromCheckRuns, testsFromCheckRuns, type CommitChecks } from './check-runs.js';
import { commitChecksIfConfigured, type ChecksApi } from './github-checks.js';
import { CONTAINER_NAME, DEPLOYMENT_NAME } from '../../platform/kube/overlays.js';
import type { CommandRunner } from '../../platform/kube/runner.js';
import type { KubeObject } from '../../platform/kube/validate.js';
import { clusterSecretsItem, secretKeysIn, secretRefsIn, serviceWiring, wiredEnvItem } from './cluster.js';
import {
  approvers,
  checklistVerdict,
  migrationsItem,
  presenceItem,
  reviewItem,
  scanItem,
  testsFromHistory,
  testsItem,
  type ChecklistItem,
  type MigrationFacts,
  type ReviewFacts,
} from './items.js';

export type { ChecklistItem } from './items.js';

/** The checklist's verdict (its required items'), and every item with its own. */
export interface ChecklistResult extends Verdict {
  readonly environment: string;
  readonly items: readonly ChecklistItem[];
}

/** The part of Octokit the checklist uses, so tests can pass a real client on a local server or a stub. */
export interface ReviewsApi {
  readonly rest: {
    readonly repos: {
      listPullRequestsAssociatedWithCommit(p: {
        owner: string;
        repo: string;
        commit_sha: string;
      }): Promise<{ data: { number: number; merged_at?: string | null; state?: string }[] }>;
    };
    readonly pulls: {
      listReviews(p: {
        owner: string;
        repo: string;
        pull_number: number;
        per_page?: number;
      }): Promise<{ data: { user?: { login?: string } | null; state: string }[] }>;
    };
  };
}

export interface MigrationsDb {
  /** Names in the pgmigrations table, in the order they ran; [] when the table does not exist yet. */
  appliedMigrations(): Promise<string[]>;
}

export interface ChecklistOptions {
  /** Environment name (dev, staging, prod). */
  readonly env: string;
  readonly environment?: EnvironmentDefinition;
  /** Where variables and secret names are looked up (names only); default process.env. */
  readonly processEnv?: Readonly<Record<string, string | undefined>>;
  /** Repository root for relative paths; default process.cwd(). */
  readonly root?: string;
  readonly runReportPath?: string;
  readonly scanReportPath?: string;
  readonly migrationsDir?: string;
  /** null: no GitHub access. Default: an Octokit when GITHUB_TOKEN is set. */
  readonly octokit?: (ReviewsApi & ChecksApi) | null;
  /** owner/name; default GITHUB_REPOSITORY. */
  readonly repository?: string;
  /** The pull request whose reviews count; default: the PR associated with the commit. */
  readonly pullNumber?: number;
  /** The commit being deployed; default GITHUB_SHA, else git HEAD. */
  readonly commit?: string;
  /** The commit's check runs as the caller already reads them (a deploy reads them once); default: read here. */
  readonly commitChecks?: () => Promise<CommitChecks | undefined>;
  /** null: no database. Default: DATABASE_URL from processEnv. */
  readonly db?: MigrationsDb | null;
  /**
   * A deploy: variables from the manifests it applies, secrets from the cluster, the database's schema from
   * what the deploy knows of it (the ledger). Without it (`kgraph-ci checklist`), the local process
   * environment and DATABASE_URL stand for them.
   */
  readonly deployment?: DeploymentFacts;
}

export interface DeploymentFacts {
  /** The rendered objects the deploy applies. */
  readonly manifests: readonly KubeObject[];
  readonly namespace: string;
  /** kubectl, for the Secrets' key names. */
  readonly runner: CommandRunner;
  /** What the database has applied, as the deploy knows it; absent = read through DATABASE_URL as without a deploy. */
  readonly schema?: MigrationFacts;
}

async function readJson(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return { invalid: true };
  }
}

export function pgMigrationsDb(databaseUrl: string, table = 'pgmigrations'): MigrationsDb {
  return {
    async appliedMigrations() {
      const client = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 5_000 });
      client.on('error', () => undefined);
      await client.connect();
      try {
        const exists = await client.query<{ t: string | null }>('SELECT to_regclass($1) AS t', [table]);
        if (!exists.rows[0]?.t) return [];
        const res = await client.query<{ name: string }>(`SELECT name FROM "${table}" ORDER BY run_on, id`);
        return res.rows.map((r) => r.name);
      } finally {
        await client.end().catch(() => undefined);
      }
    },
  };
}

async function defaultMigrationsDir(): Promise<string> {
  // The app owns where its migrations live; read it from there rather than copying the path.
  try {
    const mod = (await import(pathToFileURL(join(REPO_ROOT, 'app/src/migrate.js')).href)) as {
      MIGRATIONS_DIR?: string;
    };
    if (mod.MIGRATIONS_DIR) return mod.MIGRATIONS_DIR;
  } catch {
    /* app not present (a ci-only checkout): fall back to the conventional path */
  }
  return join(REPO_ROOT, 'app/migrations');
}

async function reviewFacts(
  opts: ChecklistOptions,
  penv: Readonly<Record<string, string | undefined>>,
  commit: string | undefined,
): Promise<ReviewFacts> {
  const octokit = opts.octokit !== undefined ? opts.octokit : penv.GITHUB_TOKEN ? githubClient(penv) : null;
  if (!octokit) return { known: false, reason: 'no GITHUB_TOKEN: review status unknown' };
  let owner: string, repo: string;
  try {
    ({ owner, repo } = parseRepository(opts.repository ?? penv.GITHUB_REPOSITORY));
  } catch {
    return { known: false, reason: 'no GITHUB_REPOSITORY (owner/name): review status unknown' };
  }
  try {
    let pullNumber = opts.pullNumber;
    if (pullNumber === undefined) {
      if (!commit) return { known: false, reason: 'no commit to look up its pull request' };
      const prs = (await octokit.rest.repos.listPullRequestsAssociatedWithCommit({ owner, repo, commit_sha: commit }))
        .data;
      const pr = prs.find((p) => p.merged_at) ?? prs[0];
      if (!pr) return { known: false, reason: `no pull request contains ${commit.slice(0, 12)}` };
      pullNumber = pr.number;
    }
    const reviews = (await octokit.rest.pulls.listReviews({ owner, repo, pull_number: pullNumber, per_page: 100 }))
      .data;
    return { known: true, approvals: approvers(reviews), pullNumber };
  } catch (err) {
    const status = err instanceof RequestError ? err.status : undefined;
    return {
      known: false,
      reason: `GitHub API error${status ? ` ${status}` : ''}: ${(err as Error).message.split('\n')[0]}`,
    };
  }
}

async function migrationFacts(
  opts: ChecklistOptions,
  penv: Readonly<Record<string, string | undefined>>,
): Promise<MigrationFacts> {
  const db = opts.db !== undefined ? opts.db : penv.DATABASE_URL ? pgMigrationsDb(penv.DATABASE_URL) : null;
  if (!db) return { known: false, reason: 'no DATABASE_URL: cannot compare with the pgmigrations table' };
  try {
    return { known: true, applied: await db.appliedMigrations() };
  } catch (err) {
    // Connection errors can quote the URL; never let a password through.
    const msg = (err as Error).message.replace(/\b[a-z]+:\/\/\S+/gi, (u) => redactUrl(u));
    return { known: false, reason: `database unreachable: ${msg}` };
  }
}

/** "env vars present" and "secrets present" for a deploy: the service container in its manifests, the cluster's Secrets. */
async function deploymentItems(env: EnvironmentDefinition, d: DeploymentFacts): Promise<ChecklistItem[]> {
  const where = `Deployment/${DEPLOYMENT_NAME} container ${CONTAINER_NAME}`;
  const wiring = serviceWiring(d.manifests, { kind: 'Deployment', name: DEPLOYMENT_NAME, container: CONTAINER_NAME });
  const refs = secretRefsIn(d.manifests);
  const names = [...refs.map((r) => r.secret), ...(wiring?.wholeSecrets ?? [])];
  const keys = await secretKeysIn(d.runner, d.namespace, names);
  return [
    wiredEnvItem(env.requiredEnv, wiring, where),
    clusterSecretsItem(env.requiredSecrets, wiring, refs, keys, where),
  ];
}

export async function runChecklist(opts: ChecklistOptions): Promise<ChecklistResult> {
  const environment = opts.environment ?? getEnvironment(opts.env);
  const penv = opts.processEnv ?? process.env;
  const root = opts.root ?? process.cwd();
  const runReportPath = resolve(root, opts.runReportPath ?? DEFAULT_RUN_REPORT);
  const scanReportPath = resolve(root, opts.scanReportPath ?? DEFAULT_SCAN_REPORT);
  const commit = opts.commit ?? penv.GITHUB_SHA ?? (await gitHead(root));
  const migrationsDir = opts.migrationsDir ? resolve(root, opts.migrationsDir) : await defaultMigrationsDir();
  let files: string[] | undefined;
  try {
    files = await readdir(migrationsDir);
  } catch {
    files = undefined;
  }
  const [review, migrations, runReport, scanReport, history] = await Promise.all([
    reviewFacts(opts, penv, commit),
    opts.deployment?.schema ?? migrationFacts(opts, penv),
    readJson(runReportPath),
    readJson(scanReportPath),
    commit ? readCommitHistory(root, commit, historyDir(penv as NodeJS.ProcessEnv)) : Promise.resolve(new Map()),
  ]);
  // Local results first; in CI (none in the deploying container) the commit's check runs on GitHub.
  const localTests = testsFromHistory(history, commit);
  const checks =
    localTests && scanReport !== undefined
      ? undefined
      : opts.commitChecks
        ? await opts.commitChecks()
        : await commitChecksIfConfigured({
            api: opts.octokit !== undefined ? opts.octokit : penv.GITHUB_TOKEN ? githubClient(penv) : null,
            repository: opts.repository ?? penv.GITHUB_REPOSITORY,
            commit,
            pullHead: !localTests,
          });
  const items: ChecklistItem[] = [
    localTests ??
      (checks
        ? testsFromCheckRuns(checks)
        : testsItem(runReport, { path: opts.runReportPath ?? DEFAULT_RUN_REPORT, headCommit: commit })),
    reviewItem(environment, review),
    files === undefined
      ? { name: 'migrations prepared', required: true, ...failed(`migrations directory ${migrationsDir} not found`) }
      : migrationsItem(files, migrations),
    ...(opts.deployment
      ? await deploymentItems(environment, opts.deployment)
      : [
          presenceItem('env vars present', environment.requiredEnv, penv),
          presenceItem('secrets present', environment.requiredSecrets, penv),
        ]),
    scanReport === undefined && checks
      ? scanFromCheckRuns(checks, { strict: !environment.release.skippedAuditAcceptable })
      : scanItem(scanReport, opts.scanReportPath ?? DEFAULT_SCAN_REPORT, {
          strict: !environment.release.skippedAuditAcceptable,
        }),
  ];
  return { ...checklistVerdict(items), environment: environment.name, items };
}
