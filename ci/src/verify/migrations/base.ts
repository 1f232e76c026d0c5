/**
 * What "new since the base" means: the base is --base REF, else the release running in the environment
 * (from the delivery ledger), else the newest v* tag reachable from HEAD, else nothing (no release has
 * shipped: every migration is new). A migration file that existed at the base and changed since, or a new
 * one that sorts before the base's newest, is refused: node-pg-migrate would skip or reject it.
 */
import { createHash } from 'node:crypto';
import type { LedgerEntry } from '../../definitions/release-policy.js';
import { gitOutput, resolveCommit } from '../policy/git.js';
import { runProcess } from '../../platform/process/run.js';
import { MIGRATION_FILE } from './parse.js';
import type { Finding } from './rules.js';

export interface RunningRelease {
  /** A git ref for it: the commit it was built from, else its version tag. */
  readonly ref: string;
  readonly label: string;
  /** What the ledger knows of it (the compatibility record names releases the same way). */
  readonly id: { readonly commit?: string; readonly version?: string; readonly digest?: string };
}

interface Shipped {
  readonly commit?: string;
  readonly version?: string;
  readonly digest?: string;
}

const refOf = (s: Shipped): RunningRelease | undefined => {
  const label = [s.version, s.commit?.slice(0, 12), s.digest?.slice(0, 19)].filter(Boolean).join(' ');
  if (s.commit) return { ref: s.commit, label, id: s };
  if (s.version && /^v\d/.test(s.version)) return { ref: `refs/tags/${s.version}`, label, id: s };
  return undefined;
};

/**
 * The release running in `environment` after the ledger's operations, oldest first: a successful deploy or
 * promotion puts its release on top; a rollback to a digest puts back the release that shipped it; a
 * rollback without one (`rollout undo`) goes back to the one before. Undefined: nothing, or not a git ref.
 */
export function runningRelease(entries: readonly LedgerEntry[], environment: string): RunningRelease | undefined {
  const shipped: Shipped[] = [];
  const ordered = entries
    .filter((e) => e.environment === environment && e.state === 'success')
    .sort((a, b) => a.at.localeCompare(b.at));
  for (const e of ordered) {
    const s: Shipped = {
      ...(e.commit ? { commit: e.commit } : {}),
      ...(e.version ? { version: e.version } : {}),
      ...(e.digest ? { digest: e.digest } : {}),
    };
    if (e.operation !== 'rollback') shipped.push(s);
    else if (e.digest) {
      const back = [...shipped].reverse().find((x) => x.digest === e.digest);
      shipped.push(back ?? s);
    } else shipped.pop();
  }
  const top = shipped.at(-1);
  return top && refOf(top);
}

/** A migration file's git blob id, as `git hash-object` computes it. */
export function blobId(content: Buffer): string {
  return createHash('sha1').update(`blob ${content.length}\0`).update(content).digest('hex');
}

export interface MigrationFileState {
  readonly name: string;
  readonly blob: string;
}

/** Which migrations are new, and the history problems (edited or out-of-order ones) as findings. */
export function compareWithBase(
  current: readonly MigrationFileState[],
  base: readonly MigrationFileState[] | undefined,
  baseLabel: string,
): { fresh: string[]; findings: Finding[] } {
  if (!base) return { fresh: current.map((c) => c.name).sort(), findings: [] };
  const byName = new Map(base.map((b) => [b.name, b.blob]));
  const newestAtBase = [...byName.keys()].sort().at(-1) ?? '';
  const findings: Finding[] = [];
  const fresh: string[] = [];
  for (const c of [...current].sort((a, b) => a.name.localeCompare(b.name))) {
    const before = byName.get(c.name);
    if (before === undefined) {
      fresh.push(c.name);
      if (c.name < newestAtBase)
        findings.push({
          migration: c.name,
          rule: 'history',
          severity: 'refuse',
          message: `sorts before ${newestAtBase}, already applied at ${baseLabel}: node-pg-migrate refuses to run it out of order`,
          fix: 'rename it with a timestamp after the newest migration',
        });
    } else if (before !== c.blob)
      findings.push({
        migration: c.name,
        rule: 'history',
        severity: 'refuse',
        message: `changed since ${baseLabel}: databases that ran it will never run the change`,
        fix: 'restore the file as it was and put the change in a new migration',
      });
  }
  for (const name of byName.keys())
    if (!current.some((c) => c.name === name))
      findings.push({
        migration: name,
        rule: 'history',
        severity: 'refuse',
        message: `exists at ${baseLabel} and was deleted: databases that ran it still record it`,
        fix: 'restore the file; undo its effect in a new migration',
      });
  return { fresh, findings };
}

/** The migration files (name without extension, blob id) a commit holds under `dir` (repository-relative). */
export async function migrationsAt(repo: string, commit: string, dir: string): Promise<MigrationFileState[]> {
  const r = await runProcess({ argv: ['git', 'ls-tree', '-z', commit, '--', `${dir}/`], cwd: repo });
  if (r.exitCode !== 0) throw new Error(`git ls-tree ${commit} ${dir}: ${r.stderr.trim()}`);
  return r.stdout
    .split('\0')
    .filter(Boolean)
    .map((line) => {
      const [meta, path] = line.split('\t') as [string, string];
      return { path, blob: meta.split(' ')[2]! };
    })
    .map(({ path, blob }) => ({ file: path.slice(path.lastIndexOf('/') + 1), blob }))
    .filter(({ file }) => MIGRATION_FILE.test(file))
    .map(({ file, blob }) => ({ name: file.replace(/\.sql$/, ''), blob }));
}

export type BaseChoice =
  | { readonly commit: string; readonly label: string; readonly how: string }
  | { readonly commit: undefined; readonly label: 'nothing'; readonly how: string };

export interface BaseInput {
  readonly repo: string;
  readonly base?: string;
  readonly environment?: string;
  /** The ledger's entries for the environment, or why they could not be read. */
  readonly ledger?: { readonly entries: readonly LedgerEntry[] } | { readonly unreadable: string };
  /** A ledger that cannot be read refuses (prod) instead of falling back to the newest tag. */
  readonly ledgerRequired?: boolean;
}

/** Resolves the base; throws with the reason when a base it was told to use cannot be found. */
export async function chooseBase(input: BaseInput): Promise<BaseChoice> {
  if (input.base !== undefined) {
    const commit = await resolveCommit(input.repo, input.base);
    if (!commit) throw new BaseError(`--base ${input.base} names no commit in this repository`, 'usage');
    return { commit, label: input.base, how: 'given with --base' };
  }
  let why = 'no --env';
  if (input.environment) {
    const ledger = input.ledger;
    if (ledger && 'entries' in ledger) {
      const running = runningRelease(ledger.entries, input.environment);
      if (running) {
        const commit = await resolveCommit(input.repo, running.ref);
        if (commit)
          return { commit, label: running.label, how: `the release running in ${input.environment} (ledger)` };
        throw new BaseError(
          `the release running in ${input.environment} (${running.label}) is not in this checkout: fetch its history or tags`,
          'failed',
        );
      }
      why = `the ledger shows nothing running in ${input.environment}`;
    } else {
      const reason = ledger && 'unreadable' in ledger ? ledger.unreadable : 'no ledger';
      if (input.ledgerRequired)
        throw new BaseError(
          `cannot tell which release runs in ${input.environment}: ${reason}; pass --base REF`,
          'failed',
        );
      why = `cannot read the ledger (${reason})`;
    }
  }
  const tag = await gitOutput(input.repo, ['describe', '--tags', '--abbrev=0', '--match', 'v*', 'HEAD']);
  if (tag) {
    const commit = await resolveCommit(input.repo, `refs/tags/${tag}`);
    if (commit) return { commit, label: tag, how: `the newest v* tag (${why})` };
  }
  return {
    commit: undefined,
    label: 'nothing',
    how: `no release has shipped (${why}; no v* tag reachable from HEAD): every migration is new`,
  };
}

export class BaseError extends Error {
  constructor(
    message: string,
    readonly kind: 'usage' | 'failed',
  ) {
    super(message);
  }
}
