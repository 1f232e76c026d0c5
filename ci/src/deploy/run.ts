/**
 * `kgraph-ci deploy` and `rollback` end to end: check the input, gather the facts and ask the release
 * policy (before any kubectl call), render and check manifests, plan, print (--dry-run) or execute,
 * and record every operation in the delivery ledger. All I/O comes in through DeliveryDeps.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { getEnvironment, type EnvironmentDefinition } from '../environments.js';
import { FailedError, UsageError } from '../errors.js';
import { parseHttpUrl } from '../http-url.js';
import type { CommandRunner } from '../kube/runner.js';
import { formatArgv } from '../process/argv.js';
import { parseManifests, policyViolations } from '../kube/validate.js';
import { PAYLOAD_SCHEMA, ledgerEntries, type LedgerPayload } from '../ledger/entry.js';
import type { Ledger } from '../ledger/github.js';
import { localLedger, RECORDS_DIR } from '../ledger/local.js';
import { LedgerWriteError, openRecord, writeRecord, type RecordTarget } from '../ledger/recorder.js';
import {
  decideEligibility,
  parseImageRef,
  RELEASE_TAG,
  type Eligibility,
  type LedgerFacts,
} from '../release-policy.js';
import { parseVersionTag } from '../release/semver.js';
import { table } from '../report/markdown.js';
import {
  executePlan,
  type ChecklistOutcome,
  type ExecutionResult,
  type GateOutcome,
  type SmokeOutcome,
} from './execute.js';
import { imageForVersion } from './image.js';
import { formatPlan, planDeploy, planRollback, renderArgv, withImage, type Plan } from './plan.js';
import type { ReleaseSources, SourceFacts } from './sources.js';

export interface DeliveryDeps {
  readonly runner: CommandRunner;
  readonly checklist: (env: EnvironmentDefinition) => Promise<ChecklistOutcome>;
  readonly gate: (env: EnvironmentDefinition, baseUrl: string) => Promise<GateOutcome>;
  readonly smoke: (baseUrl: string) => Promise<SmokeOutcome>;
  /** The delivery ledger on GitHub; absent when no token and repository are given. */
  readonly ledger?: Ledger;
  /** Why there is no GitHub ledger, for the policy's "ledger" rule. */
  readonly ledgerMissing?: string;
  /** Commit, tree and on-main facts (GitHub or local git); absent = unknown. */
  readonly sources?: ReleaseSources;
  /** Whether the scan report's dependency audit was skipped (undefined = no report). */
  readonly auditSkipped?: () => Promise<boolean | undefined>;
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
  readonly summary?: (markdown: string) => Promise<unknown>;
  readonly now?: () => number;
  /** Where local ledger records go; relative paths are against cwd. */
  readonly recordsDir?: string;
  readonly cwd: string;
  readonly env: NodeJS.ProcessEnv;
}

export interface DeployOptions {
  readonly env: string;
  readonly image?: string;
  /** The release vX.Y.Z the deploy stands for; alone, its image is looked up (by digest where the policy wants one). */
  readonly version?: string;
  /** The commit and git tree the image was built from (else GITHUB_SHA / git HEAD and its tree). */
  readonly commit?: string;
  readonly tree?: string;
  readonly dryRun?: boolean;
  readonly url?: string;
  readonly skipGate?: boolean;
}

export interface RollbackOptions {
  readonly env: string;
  readonly to?: string;
  readonly dryRun?: boolean;
  readonly url?: string;
}

export function resolveEnvironment(name: string | undefined): EnvironmentDefinition {
  if (!name) throw new UsageError('--env is required');
  try {
    return getEnvironment(name);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

/** A well-formed reference or exit 2; whether it may run where it is going is the policy's call. */
export function checkImageRef(ref: string): string {
  const parsed = parseImageRef(ref);
  if (!parsed.ok) throw new UsageError(`--image: ${parsed.problem}`);
  return ref;
}

const GIT_OBJECT = /^[0-9a-f]{40}$/;
function checkGitObject(value: string | undefined, flag: string): string | undefined {
  if (value !== undefined && !GIT_OBJECT.test(value))
    throw new UsageError(`${flag} "${value}" is not a 40-character git object id`);
  return value;
}

/** kubectl reads KUBECONFIG itself; we only check the path so a typo fails before anything runs. */
function checkKubeconfig(env: NodeJS.ProcessEnv): void {
  const path = env.KUBECONFIG;
  if (path && path.split(':').every((p) => p && !existsSync(p)))
    throw new UsageError('KUBECONFIG points at a file that does not exist');
}

async function render(env: EnvironmentDefinition, image: string, deps: DeliveryDeps) {
  const argv = renderArgv(env.name);
  deps.err(`rendering: ${formatArgv(argv)}`);
  const res = await deps.runner({ argv });
  if (res.exitCode !== 0)
    throw new FailedError(
      `${formatArgv(argv)} failed (exit ${res.exitCode}): ${res.stderr.trim().split('\n').slice(-3).join(' | ')}`,
    );
  const manifests = parseManifests(res.stdout);
  // Refuse to ship manifests that break the schema or policy, checked with the image about to go out.
  const shipped = withImage(manifests, image, 'validation');
  const { schemaErrors } = await import('../kube/schema.js');
  const problems = [...schemaErrors(shipped), ...policyViolations(shipped)];
  if (problems.length) throw new FailedError(`manifests for ${env.name} fail validation:\n  ${problems.join('\n  ')}`);
  return manifests;
}

async function readLedger(deps: DeliveryDeps, environment: string | undefined): Promise<LedgerFacts> {
  if (!deps.ledger)
    return {
      reachable: false,
      reason: deps.ledgerMissing ?? 'no GitHub ledger configured (GITHUB_TOKEN and --repo/GITHUB_REPOSITORY)',
    };
  try {
    return { reachable: true, entries: ledgerEntries(await deps.ledger.read(environment ? { environment } : {})) };
  } catch (err) {
    return { reachable: false, reason: `${deps.ledger.where}: ${(err as Error).message}` };
  }
}

async function describe(deps: DeliveryDeps, what: () => Promise<SourceFacts> | undefined): Promise<SourceFacts> {
  try {
    return (await what()) ?? {};
  } catch (err) {
    deps.err(`warning: ${deps.sources?.where ?? 'sources'}: ${(err as Error).message}`);
    return {};
  }
}

/** The eligibility decision as lines people read (dry-run output, logs). */
export function formatEligibility(d: Eligibility, image: string): string {
  const head = `release policy for ${d.environment}: ${d.eligible ? 'ELIGIBLE' : `REFUSED by rule "${d.refusedBy?.rule}"`}: ${image}`;
  const width = Math.max(...d.rules.map((r) => r.rule.length));
  return [head, ...d.rules.map((r) => `  ${r.ok ? 'ok  ' : 'FAIL'} ${r.rule.padEnd(width)}  ${r.detail}`)].join('\n');
}

const recordTarget = (env: EnvironmentDefinition, deps: DeliveryDeps, ref: string | undefined): RecordTarget => ({
  local: localLedger(join(deps.cwd, deps.recordsDir ?? RECORDS_DIR), deps.now ?? Date.now),
  ...(deps.ledger ? { remote: deps.ledger } : {}),
  required: env.release.ledgerRequired,
  ...(ref ? { ref } : {}),
  production: env.release.production,
  environmentUrl: env.url,
  warn: deps.err,
});

/**
 * The digest a release would promote: the newest pass in the policy's previous environment, built from
 * the tag's source tree, that the promotion rule accepts (not failed or rolled back since). Soak and the
 * other rules are left to the deploy itself, which decides with all of them.
 */
function pickCandidate(
  env: EnvironmentDefinition,
  tag: string,
  source: SourceFacts,
  ledger: LedgerFacts,
  now: number,
): { image?: string; reason: string } {
  const promo = env.release.promotion;
  if (!promo) return { reason: `${env.name} does not promote from another environment` };
  if (!ledger.reachable) return { reason: ledger.reason };
  if (!source.tree) return { reason: `the source tree of ${tag} is unknown` };
  const passes = ledger.entries
    .filter(
      (e) =>
        e.environment === promo.from &&
        e.state === 'success' &&
        e.operation !== 'rollback' &&
        e.digest &&
        e.tree === source.tree,
    )
    .reverse();
  for (const pass of passes) {
    const image = `${env.release.imageRepository}@${pass.digest}`;
    const d = decideEligibility(env.name, env.release, {
      image,
      release: { tag, onMain: true },
      source: { tree: source.tree },
      ledger,
      now,
    });
    if (d.rules.find((r) => r.rule === 'promotion')?.ok) return { image, reason: `passed ${promo.from} at ${pass.at}` };
  }
  return {
    reason: `nothing passed ${promo.from} for tree ${source.tree}${passes.length ? ' that still stands (failed or rolled back since)' : ''}`,
  };
}

export interface CandidateOptions {
  readonly env: string;
  readonly version: string;
}

/**
 * `kgraph-ci promotion candidate`: the digest reference a release tag would promote, or undefined (the
 * workflow then builds the tag, runs the previous environment's gates on it, and promotes that).
 * A ledger or source that cannot be read is an error, never "none": that would rebuild for no reason.
 */
export async function promotionCandidate(
  opts: CandidateOptions,
  deps: DeliveryDeps,
): Promise<{ image?: string; reason: string }> {
  const env = resolveEnvironment(opts.env);
  parseVersionTag(opts.version);
  if (!env.release.promotion)
    throw new UsageError(`${env.name} does not promote from another environment: its release policy has no promotion`);
  const source = await describe(deps, () => deps.sources?.describeTag(opts.version));
  if (!source.tree)
    throw new FailedError(`cannot tell the source tree of ${opts.version} from ${deps.sources?.where ?? 'anywhere'}`);
  const ledger = await readLedger(deps, env.release.promotion.from);
  if (!ledger.reachable) throw new FailedError(`the delivery ledger is unreachable: ${ledger.reason}`);
  return pickCandidate(env, opts.version, source, ledger, (deps.now ?? Date.now)());
}

export async function runDeploy(opts: DeployOptions, deps: DeliveryDeps): Promise<ExecutionResult | Plan> {
  const now = deps.now ?? Date.now;
  const env = resolveEnvironment(opts.env);
  const baseUrl = opts.url ? parseHttpUrl(opts.url, '--url') : undefined;
  const policy = env.release;
  if (opts.version) parseVersionTag(opts.version);
  const given = opts.image ? parseImageRef(checkImageRef(opts.image)) : undefined;
  if (!opts.image && !opts.version) throw new UsageError('deploy needs --image REF or --version vX.Y.Z');
  const commitOpt = checkGitObject(opts.commit, '--commit');
  const treeOpt = checkGitObject(opts.tree, '--tree');
  if (!opts.dryRun) checkKubeconfig(deps.env);

  // Facts: what the deploy stands for (a release tag's commit and tree, or the build's), and the ledger.
  const imageTag = given?.ok ? given.ref.tag : undefined;
  const tag = opts.version ?? (imageTag && RELEASE_TAG.test(imageTag) ? imageTag : undefined);
  const byTag = tag !== undefined && (policy.reference.includes('release-tag') || policy.promotion !== undefined);
  const commit = commitOpt ?? deps.env.GITHUB_SHA;
  const described = byTag
    ? await describe(deps, () => deps.sources?.describeTag(tag))
    : treeOpt
      ? {}
      : await describe(deps, () =>
          commit && GIT_OBJECT.test(commit) ? deps.sources?.describeCommit(commit) : deps.sources?.describeHead?.(),
        );
  const source: SourceFacts = byTag
    ? described
    : { ...described, ...(commit ? { commit } : {}), ...(treeOpt ? { tree: treeOpt } : {}) };
  const needsLedger = policy.ledgerRequired || policy.promotion !== undefined;
  const ledger = needsLedger
    ? await readLedger(deps, policy.promotion?.from ?? env.name)
    : ({ reachable: false, reason: 'not read: this environment does not need it' } as const);

  // --version alone: the image it names. Where the policy wants a digest, the one that passed the
  // previous environment for the tag's source tree; otherwise the release tag in the registry.
  let image = opts.image;
  if (!image) {
    if (policy.reference.includes('digest')) {
      const found = pickCandidate(env, tag!, source, ledger, now());
      if (found.image) image = found.image;
      else deps.err(`no digest to promote for ${opts.version}: ${found.reason}`);
    }
    image ??= imageForVersion(opts.version!, policy.imageRepository);
  }

  const decision = decideEligibility(env.name, policy, {
    image,
    ...(tag ? { release: { tag, ...(source.onMain !== undefined ? { onMain: source.onMain } : {}) } } : {}),
    source: { ...(source.commit ? { commit: source.commit } : {}), ...(source.tree ? { tree: source.tree } : {}) },
    ledger,
    now: now(),
  });
  const verdict = formatEligibility(decision, image);
  if (!decision.eligible) {
    deps.err(verdict);
    throw new FailedError(
      `release policy refuses ${image} for ${env.name}: rule "${decision.refusedBy!.rule}": ${decision.refusedBy!.detail}`,
    );
  }

  // Said before anything else runs, so the output reads in the order things happen.
  (opts.dryRun ? deps.out : deps.err)(verdict);
  const version = tag ?? opts.version ?? imageTag ?? image.slice(image.indexOf('@') + 1);
  const manifests = await render(env, image, deps);
  const plan = planDeploy({
    environment: env,
    image,
    version,
    manifests,
    ...(baseUrl ? { baseUrl } : {}),
    ...(opts.skipGate ? { skipGate: true } : {}),
  });
  if (opts.dryRun) {
    deps.out(formatPlan(plan, formatArgv));
    return plan;
  }

  const parsed = parseImageRef(image);
  const digest = parsed.ok ? parsed.ref.digest : undefined;
  const auditSkipped = await deps.auditSkipped?.();
  const payload: LedgerPayload = {
    schema: PAYLOAD_SCHEMA,
    operation: decision.promotedFrom ? 'promotion' : 'deploy',
    environment: env.name,
    image,
    ...(digest ? { digest } : {}),
    version,
    ...(source.commit ? { commit: source.commit } : {}),
    ...(source.tree ? { tree: source.tree } : {}),
    ...(source.mergedAt ? { mergedAt: source.mergedAt } : {}),
    startedAt: new Date(now()).toISOString(),
    ...(auditSkipped !== undefined ? { auditSkipped } : {}),
    ...(decision.promotedFrom
      ? { promotedFrom: { environment: decision.promotedFrom.environment, at: decision.promotedFrom.at } }
      : {}),
  };
  return run(plan, env, deps, payload, source.commit ?? tag);
}

async function run(
  plan: Plan,
  env: EnvironmentDefinition,
  deps: DeliveryDeps,
  payload: LedgerPayload,
  ref: string | undefined,
): Promise<ExecutionResult> {
  const now = deps.now ?? Date.now;
  const startedAt = now();
  const target = recordTarget(env, deps, ref);
  let record;
  try {
    record = await openRecord(payload, `kgraph-ci ${payload.operation} ${plan.version} to ${env.name}`, target);
  } catch (err) {
    // Fail closed where the ledger is required: nothing has changed yet, and nothing will.
    if (err instanceof LedgerWriteError)
      throw new FailedError(`${err.message}; ${env.name} is never deployed unrecorded, nothing was changed`);
    throw err;
  }
  let gateOutcome: GateOutcome | undefined;
  const result = await executePlan(plan, {
    runner: deps.runner,
    checklist: () => deps.checklist(env),
    smoke: deps.smoke,
    gate: async (url) => (gateOutcome = await deps.gate(env, url)),
    log: deps.err,
    now,
  });
  const durationMs = now() - startedAt;
  const verdict = result.ok
    ? `${plan.operation} of ${plan.version} to ${env.name} succeeded in ${(durationMs / 1000).toFixed(1)}s`
    : `${plan.operation} of ${plan.version} to ${env.name} failed at ${result.failedStep}: ${result.reason}` +
      (result.rolledBack
        ? `; rolled back to the previous revision${result.rollbackOk ? '' : ' BUT THE ROLLBACK FAILED'}`
        : '');
  const problems = await record.finish(result.ok ? 'success' : 'failure', verdict);
  const base = {
    schema: PAYLOAD_SCHEMA,
    environment: env.name,
    ...(payload.digest ? { digest: payload.digest } : {}),
    ...(payload.tree ? { tree: payload.tree } : {}),
    ...(payload.commit ? { commit: payload.commit } : {}),
    version: plan.version,
  } as const;
  if (gateOutcome) {
    const gate = {
      passed: gateOutcome.passed,
      ...(gateOutcome.baselineCompared !== undefined ? { baselineCompared: gateOutcome.baselineCompared } : {}),
      reasons: gateOutcome.reasons.slice(0, 10),
    };
    const timings = { durationMs, steps: result.steps.map((s) => ({ name: s.name, ms: s.durationMs })) };
    const g = await writeRecord(
      {
        ...base,
        operation: 'gate',
        startedAt: new Date(now()).toISOString(),
        of: record.id,
        gate,
        timings,
        ...(payload.auditSkipped !== undefined ? { auditSkipped: payload.auditSkipped } : {}),
      },
      gateOutcome.passed ? 'success' : 'failure',
      `gate ${gateOutcome.passed ? 'passed' : 'failed'} for ${plan.version}`,
      target,
    ).catch((e: Error) => ({ id: '', problems: [e.message] }));
    problems.push(...g.problems);
  }
  if (result.rolledBack) {
    // The digest field of a rollback is where it went back to; `undone` is what it rolled back from.
    const { digest: undone, ...rest } = base as typeof base & { digest?: string };
    const back = result.previousImage ? parseImageRef(result.previousImage) : undefined;
    const r = await writeRecord(
      {
        ...rest,
        operation: 'rollback',
        automatic: true,
        startedAt: new Date(now()).toISOString(),
        ...(undone ? { undone } : {}),
        ...(result.previousImage ? { image: result.previousImage } : {}),
        ...(back?.ok && back.ref.digest ? { digest: back.ref.digest } : {}),
      },
      result.rollbackOk ? 'success' : 'failure',
      `automatic rollback after ${plan.version} failed`,
      target,
    ).catch((e: Error) => ({ id: '', problems: [e.message] }));
    problems.push(...r.problems);
  }
  await deps.summary?.(
    [
      `## ${plan.operation} ${plan.version} → ${env.name}: ${result.ok ? '✅' : '❌'}`,
      table(
        ['step', 'ok', 'seconds', 'detail'],
        result.steps.map((s) => [s.name, s.ok ? '✅' : '❌', (s.durationMs / 1000).toFixed(1), s.detail]),
      ),
    ].join('\n\n'),
  );
  if (!result.ok) throw new FailedError([verdict, ...problems].join('; '));
  if (problems.length && env.release.ledgerRequired) {
    // The rollout is done and healthy; undoing it for a bookkeeping failure would be worse. Say so loudly.
    throw new FailedError(
      `${verdict}, but it is NOT recorded: ${problems.join('; ')}; the local record is in ${target.local.where}`,
    );
  }
  for (const p of problems) deps.err(`warning: ${p}`);
  deps.out(verdict);
  return result;
}

export async function runRollback(opts: RollbackOptions, deps: DeliveryDeps): Promise<ExecutionResult | Plan> {
  const now = deps.now ?? Date.now;
  const env = resolveEnvironment(opts.env);
  const baseUrl = opts.url ? parseHttpUrl(opts.url, '--url') : undefined;
  if (opts.to) parseVersionTag(opts.to);
  if (!opts.dryRun) checkKubeconfig(deps.env);
  let target: { image: string; version: string } | undefined;
  if (opts.to) {
    // A version goes back by what it ran as here: the ledger's digest where the policy wants digests.
    const policy = env.release;
    let image = imageForVersion(opts.to, policy.imageRepository);
    const ledger = await readLedger(deps, env.name);
    if (policy.reference.includes('digest') && ledger.reachable) {
      const ran = ledger.entries
        .filter(
          (e) =>
            e.environment === env.name &&
            e.version === opts.to &&
            e.state === 'success' &&
            e.operation !== 'rollback' &&
            e.digest,
        )
        .at(-1);
      if (ran) image = `${policy.imageRepository}@${ran.digest}`;
    }
    const source = policy.reference.includes('release-tag')
      ? await describe(deps, () => deps.sources?.describeTag(opts.to!))
      : {};
    const release = { tag: opts.to, ...(source.onMain !== undefined ? { onMain: source.onMain } : {}) };
    const decision = decideEligibility(env.name, policy, { image, release, ledger, now: now(), operation: 'rollback' });
    const verdict = formatEligibility(decision, image);
    deps.err(verdict);
    if (!decision.eligible)
      throw new FailedError(
        `release policy refuses rolling ${env.name} back to ${image}: rule "${decision.refusedBy!.rule}": ${decision.refusedBy!.detail}`,
      );
    target = { image, version: opts.to };
  }
  const plan = planRollback({ environment: env, ...(target ?? {}), ...(baseUrl ? { baseUrl } : {}) });
  if (opts.dryRun) {
    deps.out(formatPlan(plan, formatArgv));
    return plan;
  }
  const parsed = target ? parseImageRef(target.image) : undefined;
  const payload: LedgerPayload = {
    schema: PAYLOAD_SCHEMA,
    operation: 'rollback',
    environment: env.name,
    version: plan.version,
    ...(target ? { image: target.image } : {}),
    ...(parsed?.ok && parsed.ref.digest ? { digest: parsed.ref.digest } : {}),
    startedAt: new Date(now()).toISOString(),
  };
  // Going back to the previous revision is the emergency exit: it is never blocked on the ledger.
  const rollbackEnv = {
    ...env,
    release: { ...env.release, ledgerRequired: env.release.ledgerRequired && target !== undefined },
  };
  return run(plan, rollbackEnv, deps, payload, deps.env.GITHUB_SHA ?? opts.to);
}
