/** `kgraph-ci watch`: the rollback watcher over a deployed service. */
import type { Command } from 'commander';
import type { EnvironmentDefinition, RollbackTriggers } from '../../definitions/environments.js';
import { FailedError, UsageError } from '../../definitions/errors.js';
import { runChecked } from '../../platform/process/run.js';
import { CLI_BIN } from '../../platform/repo-root.js';
import { compressTriggers, type Firing } from '../../operate/triggers/evaluator.js';
import { parseDuration } from '../../operate/watch/duration.js';
import { servicePoller } from '../../operate/watch/sources.js';
import { watch, type WatchResult } from '../../operate/watch/watcher.js';
import { writeLine, type CliIo } from '../io.js';
import { envOption, urlOption } from '../options.js';

/**
 * Runs argv (or `sh -c cmd`) with inherited output; resolves on exit 0. In its own process group, so the
 * SIGINT/SIGTERM that stops the watch (a cancelled job signals the whole group) does not cut a rollback short.
 */
async function runAction(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<void> {
  await runChecked({ argv, env, stdio: 'inherit', detached: true });
}

interface WatchCliOptions {
  env: EnvironmentDefinition;
  url: string;
  prometheus?: string;
  duration: string;
  timeScale?: string;
  minRequests?: string;
  rollbackCommand?: string;
}

/** The environment's triggers, compressed by --time-scale / --min-requests when given (demos and drills). */
function triggersFor(o: WatchCliOptions): RollbackTriggers {
  if (o.timeScale === undefined && o.minRequests === undefined) return o.env.rollback;
  const scale = o.timeScale === undefined ? 1 : Number(o.timeScale);
  const min = o.minRequests === undefined ? undefined : Number(o.minRequests);
  try {
    return compressTriggers(o.env.rollback, scale, { minRequestsPerWindow: min });
  } catch (err) {
    throw new UsageError(`--time-scale/--min-requests: ${(err as Error).message}`);
  }
}

const describeWatch = (o: WatchCliOptions, durationSeconds: number, t: RollbackTriggers): string =>
  `watching ${o.env.name} at ${o.url} for ${durationSeconds}s, polling every ${t.pollSeconds}s ` +
  `(traffic from ${o.prometheus ? 'Prometheus' : '/metrics'}); triggers: ${t.consecutiveHealthFailures} failed health checks, ` +
  `error rate > ${t.errorRate.above * 100}% for ${t.errorRate.sustainedSeconds}s, p95 > ${t.p95.aboveMs}ms for ${t.p95.sustainedSeconds}s`;

/** On a trigger: --rollback-command in a shell, else `kgraph-ci rollback --env E --trigger <the reasons>`. */
function rollbackAction(o: WatchCliOptions, io: CliIo): (firing: readonly Firing[]) => Promise<void> {
  if (o.rollbackCommand) {
    const command = o.rollbackCommand;
    return () => runAction(['sh', '-c', command], io.env);
  }
  return (firing) =>
    runAction(
      [
        process.execPath,
        CLI_BIN,
        'rollback',
        '--env',
        o.env.name,
        '--trigger',
        `watcher: ${firing.map((f) => f.reason).join('; ')}`,
      ],
      io.env,
    );
}

/**
 * SIGINT and SIGTERM abort the watch. Every signal is handled while the watch runs (not once): a second
 * SIGTERM during a rollback must not kill the process before the rollback it started has finished.
 */
function stopOnSignals(
  log: (line: string) => void,
  rollingBack: () => boolean,
): { signal: AbortSignal; release: () => void } {
  const ac = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    log(
      `${new Date().toISOString()} ${signal}: ${rollingBack() ? 'the rollback already started; stopping when it has finished' : 'stopping'}`,
    );
    ac.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    signal: ac.signal,
    release: () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}

/** Healthy is said and exits 0; a trigger, an interrupted watch and a watch without data exit 1. */
function concludeWatch(result: WatchResult, log: (line: string) => void): void {
  if (result.outcome === 'triggered') {
    throw new FailedError(
      `rollback triggered: ${result.reason}${result.rollbackError ? `; the rollback action failed or refused (kgraph-ci rollback refuses when the ledger cannot show the schema fits the release it would return to; its output above names the ways out): ${result.rollbackError}` : ''}`,
    );
  }
  if (result.outcome === 'aborted') throw new FailedError('watch interrupted before its duration ended');
  if (result.outcome === 'noData') throw new FailedError(result.reason);
  log(result.reason);
}

async function runWatch(o: WatchCliOptions, io: CliIo): Promise<void> {
  const { env, url, prometheus: prometheusUrl } = o;
  const durationSeconds = parseDuration(o.duration, '--duration');
  const triggers = triggersFor(o);
  const log = (line: string) => writeLine(io.stdout, line);
  const action = rollbackAction(o, io);
  log(describeWatch(o, durationSeconds, triggers));
  let rollingBack = false;
  const stop = stopOnSignals(log, () => rollingBack);
  try {
    const result = await watch({
      triggers,
      durationSeconds,
      log,
      heartbeatPolls: Math.max(1, Math.round(60 / triggers.pollSeconds)),
      signal: stop.signal,
      poll: servicePoller({
        url,
        prometheusUrl,
        env: { namespace: env.namespace, rollback: triggers },
        timeoutMs: Math.max(1000, Math.min(10_000, triggers.pollSeconds * 1000)),
        onHealthFailure: (d) => log(`${new Date().toISOString()} health check failed: ${d}`),
      }),
      rollback: async (firing: readonly Firing[]) => {
        rollingBack = true;
        await action(firing);
      },
    });
    concludeWatch(result, log);
  } finally {
    stop.release();
  }
}

export function register(program: Command, io: CliIo): void {
  program
    .command('watch')
    .description(
      "Watch a deployed service against its environment's rollback triggers; on a trigger, roll back and exit 1",
    )
    .addOption(envOption('environment whose triggers apply'))
    .addOption(
      urlOption('--url <url>', 'service base URL (health checks; /metrics unless --prometheus)').makeOptionMandatory(),
    )
    .addOption(
      urlOption('--prometheus <url>', 'read request counters and latency histograms from this Prometheus query API'),
    )
    .requiredOption('--duration <d>', 'how long to watch (e.g. 15m, 1h)')
    .option(
      '--time-scale <factor>',
      'multiply every window and the poll interval by this (0..1], e.g. 0.0167 for seconds instead of minutes',
    )
    .option('--min-requests <n>', 'override the minimum requests per window (with --time-scale)')
    .option('--rollback-command <cmd>', 'run this shell command on a trigger instead of `kgraph-ci rollback --env E`')
    .action((o: WatchCliOptions) => runWatch(o, io));
}
