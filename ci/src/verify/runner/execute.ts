/**
 * Running one step: its services leased (and removed after, unless kept), its commands in order
 * through the process edge with the step's deadline, and the outcome in one StepResult.
 */
import { CACHE_KEY_ENV } from './cache/origin.js';
import type { RunnableStep } from './graph.js';
import { streamProcess, type StreamResult } from '../../platform/process/stream.js';
import type { ServiceLease, ServicesProvider } from './services.js';
import type { StepResult } from './types.js';
import { formatArgv } from '../../platform/process/argv.js';

export interface ExecuteContext {
  readonly commands: readonly (readonly string[])[];
  readonly cwd: string;
  readonly env: NodeJS.ProcessEnv;
  readonly runId: string;
  /** Test suites inside the step name their own databases after it (see testkit/global-setup.ts). */
  readonly stepRunId: string;
  readonly services: ServicesProvider;
  readonly keep: boolean;
  readonly signal: AbortSignal;
  readonly killGraceMs?: number;
  /** A line the runner prints under the step's prefix. */
  readonly say: (line: string) => void;
  /** A line the step's processes wrote. */
  readonly onOutput: (stream: 'stdout' | 'stderr', line: string) => void;
  /** Each lease when taken (held), when kept (--keep) and before it is removed (released). */
  readonly onLease: (lease: ServiceLease, state: 'held' | 'kept' | 'released') => void;
}

export async function executeStep(step: RunnableStep, ctx: ExecuteContext): Promise<StepResult> {
  const started = Date.now();
  const deadline = started + step.timeoutSeconds * 1000;
  const done = (r: Omit<StepResult, 'name' | 'durationMs'>): StepResult => ({
    name: step.name,
    durationMs: Date.now() - started,
    ...r,
  });
  const interrupted = () => `interrupted (${String(ctx.signal.reason)})`;
  let lease: ServiceLease | undefined;
  try {
    if (step.services.length > 0) {
      try {
        lease = await ctx.services.lease(step.services, ctx.stepRunId);
        ctx.onLease(lease, 'held');
      } catch (err) {
        return done({ status: 'failed', reason: `services: ${(err as Error).message}` });
      }
      for (const d of lease.describe) ctx.say(`service ${d}`);
    }
    // The cache's signing key stays with the runner: a step that could sign could forge its own hits.
    const { [CACHE_KEY_ENV]: _cacheKey, ...runnerEnv } = ctx.env;
    const env: NodeJS.ProcessEnv = {
      ...runnerEnv,
      ...step.env,
      ...lease?.env,
      KGRAPH_RUN_ID: ctx.runId,
      KGRAPH_TEST_RUN_ID: ctx.stepRunId,
    };
    for (const argv of ctx.commands) {
      if (ctx.signal.aborted) return done({ status: 'cancelled', reason: interrupted() });
      ctx.say(`$ ${oneLine(argv)}`);
      // detached: its own process group, so a timeout or Ctrl-C stops the whole tree it starts.
      const res = await streamProcess({
        argv,
        cwd: ctx.cwd,
        env,
        timeoutMs: Math.max(1, deadline - Date.now()),
        signal: ctx.signal,
        onLine: ctx.onOutput,
        detached: true,
        ...(ctx.killGraceMs !== undefined ? { killGraceMs: ctx.killGraceMs } : {}),
      }).done;
      const stop = commandStop(res, argv, step.timeoutSeconds, interrupted);
      if (stop) return done(stop);
    }
    return done({ status: 'passed', exitCode: 0 });
  } finally {
    if (lease) {
      if (ctx.keep) ctx.onLease(lease, 'kept');
      else {
        ctx.onLease(lease, 'released');
        await lease
          .dispose()
          .catch((e: unknown) => ctx.say(`warning: removing services failed: ${(e as Error).message}`));
      }
    }
  }
}

/** Why the step stops after this command (timed out, interrupted, could not start, failed), or undefined: go on. */
function commandStop(
  res: StreamResult,
  argv: readonly string[],
  timeoutSeconds: number,
  interrupted: () => string,
): Omit<StepResult, 'name' | 'durationMs'> | undefined {
  if (res.timedOut) return { status: 'timedOut', exitCode: res.exitCode, reason: `timed out after ${timeoutSeconds}s` };
  if (res.aborted) return { status: 'cancelled', exitCode: res.exitCode, reason: interrupted() };
  if (res.spawnError) return { status: 'failed', reason: `could not start ${argv[0]}: ${res.spawnError}` };
  if (res.exitCode === 0) return undefined;
  const how = res.signal ? `killed by ${res.signal}` : `exit code ${res.exitCode}`;
  return { status: 'failed', exitCode: res.exitCode, reason: `${shortCommand(argv)}: ${how}` };
}

/** The command as one readable line: quoted where needed, whitespace folded, long arguments cut. */
const oneLine = (argv: readonly string[]): string => formatArgv(argv, { maxArgLength: 80 });

/** The first words of a command, for one-line reasons in the final table. */
export function shortCommand(argv: readonly string[], max = 48): string {
  const text = oneLine(argv.filter((a) => a !== '--no-install'));
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}
