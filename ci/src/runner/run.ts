/**
 * The host runner: runs a selected, ordered list of steps, independent ones in parallel up to a bound,
 * with prefixed streamed output, progress lines, a per-step timeout, services per step, and dependents
 * of a failed step skipped. Interruption (AbortSignal, or SIGINT/SIGTERM when handleSignals) stops the
 * running process groups and still removes every service.
 */
import { UsageError } from '../errors.js';
import { resolveCommands } from '../steps.js';
import { criticalPathOrder, type RunnableStep } from './graph.js';
import { runCommand } from './process.js';
import type { ServiceLease, ServicesProvider } from './services.js';
import { newRunId } from '../services/ephemeral.js';
import { formatDuration, formatRunTable } from './report.js';

export type StepStatus = 'passed' | 'failed' | 'timedOut' | 'skipped' | 'cancelled';

export interface StepResult {
  readonly name: string;
  readonly status: StepStatus;
  readonly durationMs: number;
  readonly exitCode?: number | null;
  /** Why it did not pass, in one line. */
  readonly reason?: string;
}

export interface RunReport {
  readonly version: 1;
  readonly runId: string;
  readonly startedAt: string;
  readonly durationMs: number;
  readonly ok: boolean;
  readonly interrupted?: string;
  readonly concurrency: number;
  readonly servicesMode: ServicesProvider['mode'];
  readonly params: Readonly<Record<string, string>>;
  readonly commit?: string;
  readonly steps: readonly StepResult[];
  /** Connection lines of services kept with --keep. */
  readonly keptServices?: readonly string[];
}

export interface RunOptions {
  /** Selected steps in dependency order (see selectSteps). */
  readonly steps: readonly RunnableStep[];
  readonly params?: Readonly<Record<string, string>>;
  readonly concurrency: number;
  readonly cwd: string;
  readonly env: NodeJS.ProcessEnv;
  readonly out: NodeJS.WritableStream;
  readonly services: ServicesProvider;
  readonly keep?: boolean;
  readonly runId?: string;
  readonly commit?: string;
  readonly signal?: AbortSignal;
  /** Install SIGINT/SIGTERM handlers for the duration of the run (the CLI does; library callers may not). */
  readonly handleSignals?: boolean;
  /** How often to print which steps are still running; 0 disables. */
  readonly heartbeatMs?: number;
  readonly killGraceMs?: number;
  /** Expected duration per step (e.g. from the previous report) to start the longest chains first. */
  readonly expectedMs?: (step: RunnableStep) => number;
}

const FAILED: readonly StepStatus[] = ['failed', 'timedOut', 'skipped', 'cancelled'];

export async function runPipeline(opts: RunOptions): Promise<RunReport> {
  const params = opts.params ?? {};
  const runId = opts.runId ?? newRunId();
  const concurrency = Math.max(1, Math.floor(opts.concurrency));
  // Resolve every command first: a missing parameter is a usage error before anything starts.
  const commands = new Map<string, string[][]>();
  for (const step of opts.steps) {
    try {
      commands.set(step.name, resolveCommands(step, params));
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
  }
  const selected = new Set(opts.steps.map((s) => s.name));
  const width = Math.max(...opts.steps.map((s) => s.name.length), 4);
  const say = (line: string) => opts.out.write(`${line}\n`);
  const startedAt = Date.now();
  const results = new Map<string, StepResult>();
  const running = new Map<string, { started: number; done: Promise<void> }>();
  const kept: string[] = [];
  const leases: ServiceLease[] = [];
  let leasedAny = false;

  const controller = new AbortController();
  const abort = (reason: string) => {
    if (!controller.signal.aborted) controller.abort(reason);
  };
  const onOuterAbort = () => abort(String(opts.signal?.reason ?? 'aborted'));
  if (opts.signal?.aborted) onOuterAbort();
  opts.signal?.addEventListener('abort', onOuterAbort, { once: true });
  const signalHandlers: [NodeJS.Signals, () => void][] = [];
  if (opts.handleSignals) {
    for (const sig of ['SIGINT', 'SIGTERM'] as const) {
      const handler = () => {
        if (controller.signal.aborted) {
          say(`kgraph-ci: second ${sig}: exiting now; remove leftovers with \`kgraph-ci run --sweep ${runId}\``);
          process.exit(130);
        }
        say(`kgraph-ci: received ${sig}: stopping running steps and removing services (again to force)`);
        abort(sig);
      };
      process.on(sig, handler);
      signalHandlers.push([sig, handler]);
    }
  }
  const heartbeat =
    (opts.heartbeatMs ?? 30_000) > 0
      ? setInterval(() => {
          if (running.size === 0) return;
          const now = Date.now();
          const list = [...running].map(([n, r]) => `${n} (${formatDuration(now - r.started)})`).join(', ');
          say(`… running: ${list} · ${results.size}/${opts.steps.length} done`);
        }, opts.heartbeatMs ?? 30_000)
      : undefined;
  heartbeat?.unref();

  const finish = (r: StepResult) => {
    results.set(r.name, r);
    const mark = r.status === 'passed' ? '✔' : r.status === 'skipped' ? '○' : '✘';
    const why = r.reason ? `: ${r.reason}` : '';
    say(`${mark} ${r.name} ${r.status} in ${formatDuration(r.durationMs)}${why} [${results.size}/${opts.steps.length}]`);
  };

  const runStep = async (step: RunnableStep): Promise<void> => {
    const started = Date.now();
    const stepRunId = stepRunIdFor(runId, opts.steps.indexOf(step));
    const deadline = started + step.timeoutSeconds * 1000;
    const prefix = `${step.name.padEnd(width)} │ `;
    let lease: ServiceLease | undefined;
    try {
      if (step.services.length > 0) {
        try {
          leasedAny ||= opts.services.mode === 'ephemeral';
          lease = await opts.services.lease(step.services, stepRunId);
          leases.push(lease);
        } catch (err) {
          finish({ name: step.name, status: 'failed', durationMs: Date.now() - started, reason: `services: ${(err as Error).message}` });
          return;
        }
        for (const d of lease.describe) say(`${prefix}service ${d}`);
      }
      // Test suites inside the step name their own databases after the step's id (see testkit/global-setup.ts),
      // so their end-of-suite sweep cannot touch another step's services, and ours catches what they leave.
      const env: NodeJS.ProcessEnv = { ...opts.env, ...step.env, ...lease?.env, KGRAPH_RUN_ID: runId, KGRAPH_TEST_RUN_ID: stepRunId };
      for (const argv of commands.get(step.name)!) {
        if (controller.signal.aborted) {
          finish({ name: step.name, status: 'cancelled', durationMs: Date.now() - started, reason: `interrupted (${String(controller.signal.reason)})` });
          return;
        }
        say(`${prefix}$ ${formatArgv(argv)}`);
        const res = await runCommand(argv, {
          cwd: opts.cwd,
          env,
          timeoutMs: Math.max(1, deadline - Date.now()),
          signal: controller.signal,
          onLine: (_stream, line) => say(prefix + line),
          ...(opts.killGraceMs !== undefined ? { killGraceMs: opts.killGraceMs } : {}),
        });
        const durationMs = Date.now() - started;
        if (res.timedOut) {
          finish({ name: step.name, status: 'timedOut', durationMs, exitCode: res.exitCode, reason: `timed out after ${step.timeoutSeconds}s` });
          return;
        }
        if (res.aborted) {
          finish({ name: step.name, status: 'cancelled', durationMs, exitCode: res.exitCode, reason: `interrupted (${String(controller.signal.reason)})` });
          return;
        }
        if (res.spawnError) {
          finish({ name: step.name, status: 'failed', durationMs, reason: `could not start ${argv[0]}: ${res.spawnError}` });
          return;
        }
        if (res.exitCode !== 0) {
          const how = res.signal ? `killed by ${res.signal}` : `exit code ${res.exitCode}`;
          finish({ name: step.name, status: 'failed', durationMs, exitCode: res.exitCode, reason: `${shortCommand(argv)}: ${how}` });
          return;
        }
      }
      finish({ name: step.name, status: 'passed', durationMs: Date.now() - started, exitCode: 0 });
    } finally {
      if (lease) {
        if (opts.keep) kept.push(...lease.describe.map((d) => `${step.name}: ${d}`));
        else {
          leases.splice(leases.indexOf(lease), 1);
          await lease.dispose().catch((e: unknown) => say(`${prefix}warning: removing services failed: ${(e as Error).message}`));
        }
      }
    }
  };

  try {
    // Ready steps start heaviest chain first; without estimates, table order.
    const pending = opts.expectedMs ? criticalPathOrder(opts.steps, opts.expectedMs) : [...opts.steps];
    while (pending.length > 0 || running.size > 0) {
      for (let i = 0; i < pending.length; ) {
        const step = pending[i]!;
        const deps = step.dependsOn.filter((d) => selected.has(d));
        const broken = deps.find((d) => FAILED.includes(results.get(d)?.status ?? 'passed') && results.has(d));
        if (controller.signal.aborted) {
          pending.splice(i, 1);
          finish({ name: step.name, status: 'skipped', durationMs: 0, reason: `interrupted (${String(controller.signal.reason)})` });
        } else if (broken) {
          pending.splice(i, 1);
          finish({ name: step.name, status: 'skipped', durationMs: 0, reason: `${broken} ${results.get(broken)!.status}` });
        } else if (running.size < concurrency && deps.every((d) => results.get(d)?.status === 'passed')) {
          pending.splice(i, 1);
          say(`▶ ${step.name}${step.description ? ` — ${step.description}` : ''}`);
          const entry = { started: Date.now(), done: Promise.resolve() };
          entry.done = runStep(step).finally(() => running.delete(step.name));
          running.set(step.name, entry);
        } else i++;
      }
      if (running.size > 0) await Promise.race([...running.values()].map((r) => r.done));
      else if (pending.length > 0) throw new Error(`cannot schedule ${pending.map((s) => s.name).join(', ')}: dependencies never ran`);
    }
  } finally {
    if (heartbeat) clearInterval(heartbeat);
    // Whatever is still leased (an error above) goes, then anything the run's processes left behind.
    if (!opts.keep) {
      for (const l of leases.splice(0)) await l.dispose().catch(() => undefined);
      if (leasedAny) await opts.services.sweep(runId).catch((e: unknown) => say(`warning: sweeping run ${runId} failed: ${(e as Error).message}`));
    }
    for (const [sig, h] of signalHandlers) process.off(sig, h);
    opts.signal?.removeEventListener('abort', onOuterAbort);
  }

  const steps = opts.steps.map((s) => results.get(s.name)!);
  const report: RunReport = {
    version: 1,
    runId,
    startedAt: new Date(startedAt).toISOString(),
    durationMs: Date.now() - startedAt,
    ok: steps.every((s) => s.status === 'passed'),
    ...(controller.signal.aborted ? { interrupted: String(controller.signal.reason) } : {}),
    concurrency,
    servicesMode: opts.services.mode,
    params,
    ...(opts.commit ? { commit: opts.commit } : {}),
    steps,
    ...(opts.keep && kept.length > 0 ? { keptServices: kept } : {}),
  };
  say('');
  say(formatRunTable(report));
  if (report.keptServices) {
    say(`\nServices kept (--keep); remove them with \`kgraph-ci run --sweep ${runId}\`:`);
    for (const k of report.keptServices) say(`  ${k}`);
  }
  return report;
}

/** The command as one readable line: quoted where needed, whitespace collapsed, long arguments cut. */
export function formatArgv(argv: readonly string[]): string {
  return argv
    .map((a) => {
      const flat = a.replace(/\s+/g, ' ').trim();
      const short = flat.length > 80 ? `${flat.slice(0, 77)}...` : flat;
      return /^[\w@%+=:,./-]+$/.test(short) ? short : `'${short.replace(/'/g, `'\\''`)}'`;
    })
    .join(' ');
}

/** The first words of a command, for one-line reasons in the final table. */
export function shortCommand(argv: readonly string[], max = 48): string {
  const text = formatArgv(argv.filter((a) => a !== '--no-install'));
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** One id per step of a run: `<runId>x<index>`. Sweeping the run id also covers every step's id. */
export function stepRunIdFor(runId: string, index: number): string {
  return `${runId}x${index}`;
}
