/**
 * `kgraph-ci gate latency`: hold a running (or locally served) service to its environment's latency
 * limits and, with a baseline, to the release it replaces. Every flag is checked, and a baseline ref
 * resolved, before any load is sent; pass exits 0, fail and inconclusive exit 1.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { Command } from 'commander';
import type { EnvironmentDefinition } from '../../environments.js';
import { FailedError, UsageError } from '../../errors.js';
import type { GateTarget, LatencyGateReport } from '../../gate/latency.js';
import { gateMarkdown } from '../../gate/report.js';
import { appendJobSummary } from '../../report/summary.js';
import { REPO_ROOT } from '../../repo-root.js';
import { writeLine, type CliIo } from '../io.js';
import { envOption, urlOption } from '../options.js';

interface GateCliOptions {
  url?: string;
  serve?: boolean | string;
  env: EnvironmentDefinition;
  report?: string;
  baselineUrl?: string;
  baselineRef?: string;
  /** false with --no-baseline */
  baseline: boolean;
}

export type BaselinePlan =
  | { readonly kind: 'none'; readonly why: string }
  | { readonly kind: 'url'; readonly url: string }
  | { readonly kind: 'ref'; readonly ref?: string };

/** The flags' meaning, or a usage error naming the contradiction. Pure. */
export function planGate(o: Omit<GateCliOptions, 'env'>): { candidateUrl?: string; baseline: BaselinePlan } {
  if (Boolean(o.url) === Boolean(o.serve)) throw new UsageError('give exactly one of --url <url> or --serve');
  if (o.baselineUrl !== undefined && o.baselineRef !== undefined)
    throw new UsageError('give at most one of --baseline-url and --baseline-ref');
  if (!o.baseline && (o.baselineUrl !== undefined || o.baselineRef !== undefined))
    throw new UsageError('--no-baseline contradicts --baseline-url / --baseline-ref');
  if (o.baselineRef !== undefined && !o.serve)
    throw new UsageError(
      '--baseline-ref serves that release locally: it needs --serve (with --url, give --baseline-url)',
    );
  // Both URLs arrive parsed (http(s), no credentials) by the option kit.
  const candidateUrl = o.url;
  if (o.baselineUrl !== undefined) {
    const url = o.baselineUrl;
    if (candidateUrl !== undefined && url === candidateUrl)
      throw new UsageError('--baseline-url is the same as --url: a service compared with itself shows nothing');
    return { ...(candidateUrl ? { candidateUrl } : {}), baseline: { kind: 'url', url } };
  }
  if (!o.baseline)
    return { ...(candidateUrl ? { candidateUrl } : {}), baseline: { kind: 'none', why: '--no-baseline' } };
  // With --serve the default baseline is the last release (v* tag); with --url there is none unless given.
  if (o.serve) return { baseline: { kind: 'ref', ...(o.baselineRef === undefined ? {} : { ref: o.baselineRef }) } };
  return { ...(candidateUrl ? { candidateUrl } : {}), baseline: { kind: 'none', why: 'no --baseline-url given' } };
}

const VERDICT_WORD = { passed: 'PASSED', failed: 'FAILED', inconclusive: 'INCONCLUSIVE' } as const;

export function register(program: Command, io: CliIo): void {
  const gate = program.command('gate').description('Promotion gates');
  gate
    .command('latency')
    .description(
      "Open-model load on each route at the environment's rate: absolute limits, and with a baseline the allowed regression (exit 1 on fail or inconclusive)",
    )
    .addOption(urlOption('--url <url>', 'base URL of a running service (API key from $API_KEY)'))
    .option(
      '--serve [what]',
      'start the service locally on fresh Postgres/Redis, seeded, and gate that: the dev build (default) or "image", the built image in the local engine',
    )
    .addOption(envOption('environment whose gate applies'))
    .addOption(
      urlOption(
        '--baseline-url <url>',
        'compare with this running service (the release it replaces; key from $BASELINE_API_KEY, else $API_KEY)',
      ),
    )
    .option(
      '--baseline-ref <ref>',
      'with --serve: serve this git ref from a worktree on its own fresh database, same seed (default: the last v* tag)',
    )
    .option('--no-baseline', 'absolute limits only, no comparison')
    .option('--report <file>', 'JSON report path (a .md summary is written next to it)')
    .action(async (o: GateCliOptions) => {
      const env = o.env;
      const plan = planGate(o);
      if (typeof o.serve === 'string' && o.serve !== 'image')
        throw new UsageError(`--serve takes nothing or "image", got "${o.serve}"`);
      const apiKey = io.env.API_KEY;
      if (plan.candidateUrl && !apiKey)
        throw new UsageError(
          'API_KEY is not set: the gate needs an API key for /api/v1 (set API_KEY in the environment)',
        );
      const log = (line: string) => writeLine(io.stderr, `gate: ${line}`);
      // The load client, git and the local service launcher load only when a gate actually runs.
      const [{ runLatencyGate }, { withServedApp, defaultEntry }, { resolveBaselineRef, withRefWorktree }] =
        await Promise.all([
          import('../../gate/latency.js'),
          import('../../gate/serve.js'),
          import('../../gate/baseline.js'),
        ]);
      // A bad ref is bad usage: found out here, before any service starts or any load is sent.
      const ref = plan.baseline.kind === 'ref' ? await resolveBaselineRef(plan.baseline.ref, REPO_ROOT) : undefined;
      if (ref && 'none' in ref) log(`no baseline: ${ref.none}; absolute limits only`);
      const reportPath = resolve(io.cwd, o.report ?? `.reports/latency-gate-${env.name}.json`);
      const gateWith = (candidate: GateTarget, baseline?: GateTarget | { unavailable: string }) =>
        runLatencyGate({ candidate, ...(baseline ? { baseline } : {}), environment: env, log });

      let report: LatencyGateReport;
      try {
        if (plan.candidateUrl) {
          const baseline =
            plan.baseline.kind === 'url'
              ? { baseUrl: plan.baseline.url, apiKey: io.env.BASELINE_API_KEY ?? apiKey }
              : undefined;
          report = await gateWith({ baseUrl: plan.candidateUrl, apiKey }, baseline);
        } else if (o.serve === 'image') {
          // The built image (what will be deployed). A baseline only from --baseline-url: a ref would be
          // served as a host process, which is not the same kind of thing to compare with.
          const { withServedImage } = await import('../../image/serve.js');
          if (plan.baseline.kind === 'ref')
            log('no baseline for --serve image without --baseline-url; absolute limits only');
          report = await withServedImage(
            env,
            (c) => {
              const candidate = { baseUrl: c.url, apiKey: c.apiKey, served: `image ${c.image.slice(0, 19)}` };
              return plan.baseline.kind === 'url'
                ? gateWith(candidate, { baseUrl: plan.baseline.url, apiKey: io.env.BASELINE_API_KEY ?? apiKey })
                : gateWith(candidate);
            },
            { log },
          );
        } else {
          report = await withServedApp(
            env,
            async (c) => {
              const candidate = { baseUrl: c.app.url, apiKey: c.apiKey, served: c.served };
              if (plan.baseline.kind === 'url')
                return gateWith(candidate, { baseUrl: plan.baseline.url, apiKey: io.env.BASELINE_API_KEY ?? apiKey });
              if (!ref || 'none' in ref) return gateWith(candidate);
              return serveBaseline(env, ref, candidate, defaultEntry() === 'dist');
            },
            { log, label: 'candidate' },
          );
        }
      } catch (err) {
        // Could not measure: never a pass.
        throw new FailedError(`latency gate could not run: ${(err as Error).message.split('\n')[0]}`);
      }

      async function serveBaseline(
        e: EnvironmentDefinition,
        r: { ref: string; sha: string },
        candidate: GateTarget,
        build: boolean,
      ): Promise<LatencyGateReport> {
        let baseline: GateTarget | { unavailable: string } | undefined;
        try {
          return await withRefWorktree(
            REPO_ROOT,
            r.sha,
            (root) =>
              withServedApp(
                e,
                (b) => gateWith(candidate, (baseline = { baseUrl: b.app.url, apiKey: b.apiKey, served: b.served })),
                {
                  log,
                  root,
                  entry: build ? 'dist' : 'source',
                  label: `baseline ${r.ref}`,
                },
              ),
            { log: (l) => log(`baseline ${r.ref}: ${l}`), build },
          );
        } catch (err) {
          // The baseline failed to start: the candidate is still measured, and the verdict says why it cannot pass.
          if (baseline) throw err;
          const why = `baseline ${r.ref} (${r.sha.slice(0, 12)}) could not be served: ${(err as Error).message.split('\n')[0]}`;
          log(why);
          return gateWith(candidate, { unavailable: why });
        }
      }

      const markdown = gateMarkdown(report);
      await mkdir(dirname(reportPath), { recursive: true });
      await writeFile(reportPath, `${JSON.stringify(report, null, 2)}\n`, 'utf8');
      await writeFile(reportPath.replace(/\.json$/, '') + '.md', `${markdown}\n`, 'utf8');
      await appendJobSummary(markdown, io.env);
      writeLine(io.stdout, `latency gate ${env.name}: ${VERDICT_WORD[report.outcome]}`);
      for (const r of report.reasons) writeLine(io.stdout, `  ${r}`);
      writeLine(io.stdout, `report: ${reportPath}`);
      if (report.outcome === 'failed') throw new FailedError(`latency gate failed for ${env.name}`);
      if (report.outcome === 'inconclusive')
        throw new FailedError(
          `latency gate inconclusive for ${env.name}: the measurement cannot support a pass (reasons above)`,
        );
    });
}
