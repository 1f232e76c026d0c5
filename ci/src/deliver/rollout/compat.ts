/**
 * `kgraph-ci migrations compat`: is the previous release (N-1) compatible with the candidate's schema?
 *
 *  1. its own API contract suite: the previous release's app/test/api.int.test.ts, run from its git
 *     worktree with the candidate's new migrations added to its migrations, so the database it tests
 *     against is migrated to the candidate's schema;
 *  2. side by side: one database migrated by the candidate, the previous release and the candidate each
 *     serving it (one Redis): equal answers, writes through each read back through the other, caches
 *     coherent across the two within 1 s (side-by-side.ts).
 *
 * The result is the ledger's compat record (digest pair, schema head, migrations covered).
 */
import { copyFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { EnvironmentDefinition } from '../../definitions/environments.js';
import { UsageError } from '../../definitions/errors.js';
import { failed, passed, type Verdict } from '../../definitions/verdict.js';
import { PAYLOAD_SCHEMA, type CompatPayload, type LedgerPayload, type ReleaseId } from '../../platform/ledger/entry.js';
import { runProcess } from '../../platform/process/run.js';
import { createEphemeralServices } from '../../platform/services/ephemeral.js';
import { startLocalApp } from '../../platform/services/local-app.js';
import { runAppScript } from './fleet.js';
import { resolvePreviousRef, withPreviousCheckout } from './previous.js';
import { sideBySide } from './side-by-side.js';

export interface CompatOptions {
  readonly environment: EnvironmentDefinition;
  readonly previous?: string;
  /** What the previous release and the candidate are, beyond their commits (image digests when known). */
  readonly previousDigest?: string;
  /** Its version tag when the ref is a commit (the ledger knows it): recorded beside the commit. */
  readonly previousVersion?: string;
  readonly candidate: ReleaseId;
  readonly maxStaleMs: number;
  /** Run the previous release's own contract suite (default true). */
  readonly contractSuite: boolean;
}

export interface CompatDeps {
  readonly repoRoot: string;
  readonly log: (line: string) => void;
  readonly now?: () => number;
}

/** The check's verdict, and the record it leaves (which persists it as `compat.passed` with the reasons). */
export interface CompatResult extends Verdict {
  readonly payload: LedgerPayload;
  readonly compat: CompatPayload;
}

const ESC = String.fromCharCode(27);
/** vitest's colours off its output (its own --no-color is not honoured by every reporter). */
const stripAnsi = (s: string) =>
  s
    .split(ESC)
    .map((part, i) => (i === 0 ? part : part.replace(/^\[[0-9;]*m/, '')))
    .join('');

const API_KEY = 'compat-check-api-key-0123456789abcdef';

const migrationNames = async (root: string) =>
  (await readdir(join(root, 'app', 'migrations'))).filter((f) => /^\d+_.+\.(sql|js|ts)$/.test(f)).sort();
const bare = (f: string) => f.replace(/\.(sql|js|ts)$/, '');

export async function checkCompatibility(o: CompatOptions, deps: CompatDeps): Promise<CompatResult> {
  const ref = await resolvePreviousRef(o.previous, deps.repoRoot);
  if ('none' in ref) throw new UsageError(`no previous release to check (${ref.none}): give --previous REF`);
  deps.log(`previous release ${ref.ref} (${ref.sha.slice(0, 12)}) against the candidate's schema`);
  const startedAt = (deps.now ?? Date.now)();
  return withPreviousCheckout(
    deps.repoRoot,
    ref.sha,
    async (previousRoot) => {
      const theirs = new Set(await migrationNames(previousRoot));
      const ours = await migrationNames(deps.repoRoot);
      const added = ours.filter((m) => !theirs.has(m));
      const reasons: string[] = [];
      const figures: Record<string, number> = { migrationsAdded: added.length };
      if (o.contractSuite) await ownSuite(previousRoot, deps, added, reasons, figures);
      const side = await sideBySideCheck(previousRoot, deps, o.maxStaleMs);
      reasons.push(...side.reasons);
      Object.assign(figures, side.figures);
      const previous: ReleaseId = {
        ...(o.previousDigest ? { digest: o.previousDigest } : {}),
        commit: ref.sha,
        ...(o.previousVersion ? { version: o.previousVersion } : /^v\d/.test(ref.ref) ? { version: ref.ref } : {}),
      };
      const compat: CompatPayload = {
        previous,
        candidate: o.candidate,
        schemaHead: bare(ours.at(-1) ?? ''),
        migrations: added.map(bare),
        passed: reasons.length === 0,
        ...(reasons.length ? { reasons: reasons.slice(0, 10) } : {}),
        figures,
      };
      const payload: LedgerPayload = {
        schema: PAYLOAD_SCHEMA,
        operation: 'compat',
        environment: o.environment.name,
        ...(o.candidate.digest ? { digest: o.candidate.digest } : {}),
        ...(o.candidate.commit ? { commit: o.candidate.commit } : {}),
        ...(o.candidate.tree ? { tree: o.candidate.tree } : {}),
        ...(o.candidate.version ? { version: o.candidate.version } : {}),
        startedAt: new Date(startedAt).toISOString(),
        compat,
      };
      return {
        ...(reasons.length ? failed(...reasons) : passed(`${added.length} new migration(s) covered`)),
        payload,
        compat,
      };
    },
    deps.log,
  );
}

/** The previous release's own API suite, on its code, against the candidate's schema. */
async function ownSuite(
  previousRoot: string,
  deps: CompatDeps,
  added: readonly string[],
  reasons: string[],
  figures: Record<string, number>,
): Promise<void> {
  const suite = 'app/test/api.int.test.ts';
  for (const m of added)
    await copyFile(join(deps.repoRoot, 'app', 'migrations', m), join(previousRoot, 'app', 'migrations', m));
  deps.log(`running ${suite} of the previous release with ${added.length} candidate migration(s) added`);
  const res = await runProcess({
    argv: [process.execPath, join(previousRoot, 'node_modules', 'vitest', 'vitest.mjs'), 'run', suite],
    cwd: previousRoot,
    env: { ...process.env, CI: 'true' },
    timeoutMs: 600_000,
    maxOutputChars: 200_000,
  });
  const plain = stripAnsi(res.stdout);
  const tally = /Tests\s+(?:(\d+) failed\s*\|\s*)?(\d+) passed/.exec(plain);
  figures.contractTestsPassed = Number(tally?.[2] ?? 0);
  figures.contractTestsFailed = Number(tally?.[1] ?? 0);
  if (res.exitCode !== 0) {
    const failed = [...plain.matchAll(/(?:FAIL|×)\s+(.+)/g)].map((m) => m[1]!.trim());
    reasons.push(
      `the previous release's own ${suite} fails on the candidate's schema (exit ${res.exitCode ?? res.signal}): ${failed.slice(0, 3).join('; ') || res.stderr.trim().split('\n').at(-1)}`,
    );
  } else if (!tally) reasons.push(`the previous release's ${suite} ran no test (fails closed)`);
}

async function sideBySideCheck(previousRoot: string, deps: CompatDeps, maxStaleMs: number) {
  const services = await createEphemeralServices({ services: ['postgres', 'redis'] });
  const env = { ...services.env, API_KEYS: API_KEY, RATE_LIMIT_MAX: '100000000', LOG_LEVEL: 'warn' };
  const started: { stop(): Promise<unknown> }[] = [];
  try {
    deps.log('migrating a database with the candidate, then serving it with both releases');
    await runAppScript(deps.repoRoot, 'migrate', [], env);
    await runAppScript(deps.repoRoot, 'seed', ['--count', '200'], env);
    const [previous, candidate] = await Promise.all([
      startLocalApp({ env, root: previousRoot, migrate: false, readyTimeoutMs: 120_000 }),
      startLocalApp({ env, root: deps.repoRoot, migrate: false, readyTimeoutMs: 120_000 }),
    ]);
    started.push(previous, candidate);
    return await sideBySide(
      { name: 'previous', url: previous.url },
      { name: 'candidate', url: candidate.url },
      { 'x-api-key': API_KEY },
      maxStaleMs,
    );
  } finally {
    await Promise.allSettled(started.map((s) => s.stop()));
    await services.dispose();
  }
}
