/**
 * A run's lifecycle around the scheduler: one AbortController fed by the caller's signal and (when
 * asked) SIGINT/SIGTERM, where a second signal exits at once, and a heartbeat naming what still runs.
 */
export interface LifecycleOptions {
  readonly runId: string;
  readonly signal?: AbortSignal;
  readonly handleSignals?: boolean;
  /** 0 disables. */
  readonly heartbeatMs: number;
  readonly say: (line: string) => void;
  /** The heartbeat line, or undefined when there is nothing to say. */
  readonly status: () => string | undefined;
}

export interface Lifecycle {
  readonly signal: AbortSignal;
  /** Removes the handlers and the timer. */
  close(): void;
}

export function startLifecycle(opts: LifecycleOptions): Lifecycle {
  const controller = new AbortController();
  const abort = (reason: string) => {
    if (!controller.signal.aborted) controller.abort(reason);
  };
  const onOuterAbort = () => abort(String(opts.signal?.reason ?? 'aborted'));
  if (opts.signal?.aborted) onOuterAbort();
  opts.signal?.addEventListener('abort', onOuterAbort, { once: true });
  const handlers: [NodeJS.Signals, () => void][] = [];
  if (opts.handleSignals) {
    for (const sig of ['SIGINT', 'SIGTERM'] as const) {
      const handler = () => {
        if (controller.signal.aborted) {
          opts.say(
            `kgraph-ci: second ${sig}: exiting now; remove leftovers with \`kgraph-ci run --sweep ${opts.runId}\``,
          );
          process.exit(130);
        }
        opts.say(`kgraph-ci: received ${sig}: stopping running steps and removing services (again to force)`);
        abort(sig);
      };
      process.on(sig, handler);
      handlers.push([sig, handler]);
    }
  }
  const heartbeat =
    opts.heartbeatMs > 0
      ? setInterval(() => {
          const line = opts.status();
          if (line) opts.say(line);
        }, opts.heartbeatMs)
      : undefined;
  heartbeat?.unref();
  return {
    signal: controller.signal,
    close() {
      if (heartbeat) clearInterval(heartbeat);
      for (const [sig, h] of handlers) process.off(sig, h);
      opts.signal?.removeEventListener('abort', onOuterAbort);
    },
  };
}
