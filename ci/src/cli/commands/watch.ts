/**
 * `kgraph-ci watch`: the rollback watcher, and `kgraph-ci alerts`: the PrometheusRule generated from the
 * same trigger definitions.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { getEnvironment, type EnvironmentDefinition } from '../../environments.js';
import { FailedError, UsageError } from '../../errors.js';
import { staleAlertFiles, writeAlertFiles } from '../../triggers/alert-rules.js';
import { compressTriggers, type Firing } from '../../triggers/evaluator.js';
import { parseDuration } from '../../watch/duration.js';
import { servicePoller } from '../../watch/sources.js';
import { watch } from '../../watch/watcher.js';
import { writeLine, type CliIo } from '../io.js';

const REPO_ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const CLI_BIN = fileURLToPath(new URL('../../../bin/kgraph-ci.js', import.meta.url));

export function environmentOption(name: string): EnvironmentDefinition {
  try {
    return getEnvironment(name);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

export function httpUrlOption(value: string, option: string): string {
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    throw new UsageError(`${option}: "${value}" is not a URL`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new UsageError(`${option}: expected an http(s) URL, got ${u.protocol}`);
  return u.toString();
}

/** Runs argv (or `sh -c cmd`) with inherited output; resolves on exit 0. */
function runAction(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { stdio: 'inherit', env });
    child.on('error', reject);
    child.on('exit', (code, signal) => (code === 0 ? resolve() : reject(new Error(`${argv.join(' ')} exited with ${code ?? signal}`))));
  });
}

interface WatchCliOptions {
  env: string;
  url: string;
  prometheus?: string;
  duration: string;
  timeScale?: string;
  minRequests?: string;
  rollbackCommand?: string;
}

export function register(program: Command, io: CliIo): void {
  program
    .command('watch')
    .description("Watch a deployed service against its environment's rollback triggers; on a trigger, roll back and exit 1")
    .requiredOption('--env <name>', 'environment whose triggers apply (dev, staging, prod)')
    .requiredOption('--url <url>', 'service base URL (health checks; /metrics unless --prometheus)')
    .option('--prometheus <url>', 'read request counters and latency histograms from this Prometheus query API')
    .requiredOption('--duration <d>', 'how long to watch (e.g. 15m, 1h)')
    .option('--time-scale <factor>', 'multiply every window and the poll interval by this (0..1], e.g. 0.0167 for seconds instead of minutes')
    .option('--min-requests <n>', 'override the minimum requests per window (with --time-scale)')
    .option('--rollback-command <cmd>', 'run this shell command on a trigger instead of `kgraph-ci rollback --env E`')
    .action(async (o: WatchCliOptions) => {
      const env = environmentOption(o.env);
      const url = httpUrlOption(o.url, '--url');
      const prometheusUrl = o.prometheus === undefined ? undefined : httpUrlOption(o.prometheus, '--prometheus');
      const durationSeconds = parseDuration(o.duration, '--duration');
      let triggers = env.rollback;
      if (o.timeScale !== undefined || o.minRequests !== undefined) {
        const scale = o.timeScale === undefined ? 1 : Number(o.timeScale);
        const min = o.minRequests === undefined ? undefined : Number(o.minRequests);
        try {
          triggers = compressTriggers(env.rollback, scale, { minRequestsPerWindow: min });
        } catch (err) {
          throw new UsageError(`--time-scale/--min-requests: ${(err as Error).message}`);
        }
      }
      const log = (line: string) => writeLine(io.stdout, line);
      const action = o.rollbackCommand
        ? () => runAction(['sh', '-c', o.rollbackCommand!], io.env)
        : () => runAction([process.execPath, CLI_BIN, 'rollback', '--env', env.name], io.env);
      log(
        `watching ${env.name} at ${url} for ${durationSeconds}s, polling every ${triggers.pollSeconds}s ` +
          `(traffic from ${prometheusUrl ? 'Prometheus' : '/metrics'}); triggers: ${triggers.consecutiveHealthFailures} failed health checks, ` +
          `error rate > ${triggers.errorRate.above * 100}% for ${triggers.errorRate.sustainedSeconds}s, p95 > ${triggers.p95.aboveMs}ms for ${triggers.p95.sustainedSeconds}s`,
      );
      const ac = new AbortController();
      const onSignal = () => ac.abort();
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      try {
        const result = await watch({
          triggers,
          durationSeconds,
          log,
          heartbeatPolls: Math.max(1, Math.round(60 / triggers.pollSeconds)),
          signal: ac.signal,
          poll: servicePoller({
            url,
            prometheusUrl,
            env: { namespace: env.namespace, rollback: triggers },
            timeoutMs: Math.max(1000, Math.min(10_000, triggers.pollSeconds * 1000)),
            onHealthFailure: (d) => log(`${new Date().toISOString()} health check failed: ${d}`),
          }),
          rollback: (_firing: readonly Firing[]) => action(),
        });
        if (result.outcome === 'triggered') {
          throw new FailedError(`rollback triggered: ${result.reason}${result.rollbackError ? `; the rollback action failed: ${result.rollbackError}` : ''}`);
        }
        if (result.outcome === 'aborted') throw new FailedError('watch interrupted before its duration ended');
        log(result.reason);
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
    });

  const alerts = program.command('alerts').description('Prometheus alert rules generated from the rollback triggers (k8s/components/alerts)');
  alerts
    .command('write')
    .description('Regenerate k8s/components/alerts/<env>/ from ci/src/environments.ts')
    .action(async () => {
      for (const f of await writeAlertFiles(REPO_ROOT)) writeLine(io.stdout, `wrote ${f}`);
    });
  alerts
    .command('check')
    .description('Exit 1 if the committed alert rules differ from what the trigger definitions generate')
    .action(async () => {
      const stale = await staleAlertFiles(REPO_ROOT);
      if (stale.length > 0) throw new FailedError(`alert rules out of date: ${stale.join(', ')}; run \`kgraph-ci alerts write\``);
      writeLine(io.stdout, 'alert rules match the trigger definitions');
    });
}
