/**
 * The process edge of the runner: one command in its own process group, its output split into lines,
 * a timeout, and cancellation that takes the whole group down (npx → npm → node → workers).
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

export interface CommandOptions {
  readonly cwd: string;
  readonly env: NodeJS.ProcessEnv;
  readonly onLine: (stream: 'stdout' | 'stderr', line: string) => void;
  readonly timeoutMs: number;
  readonly signal?: AbortSignal;
  /** Between SIGTERM and SIGKILL when stopping the group. */
  readonly killGraceMs?: number;
}

export interface CommandResult {
  readonly exitCode: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly timedOut: boolean;
  readonly aborted: boolean;
  /** Set when the command could not start (for example ENOENT). */
  readonly spawnError?: string;
}

function killGroup(pid: number | undefined, sig: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, sig);
  } catch {
    try {
      process.kill(pid, sig);
    } catch {
      /* already gone */
    }
  }
}

export function runCommand(argv: readonly string[], opts: CommandOptions): Promise<CommandResult> {
  const [cmd, ...args] = argv;
  if (!cmd)
    return Promise.resolve({
      exitCode: null,
      signal: null,
      timedOut: false,
      aborted: false,
      spawnError: 'empty command',
    });
  return new Promise((resolve) => {
    let timedOut = false;
    let aborted = false;
    let spawnError: string | undefined;
    let killTimer: NodeJS.Timeout | undefined;
    // detached: its own process group, so a timeout or Ctrl-C can stop the whole tree it starts.
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const stop = () => {
      killGroup(child.pid, 'SIGTERM');
      killTimer ??= setTimeout(() => killGroup(child.pid, 'SIGKILL'), opts.killGraceMs ?? 5_000);
      killTimer.unref();
    };
    const timer = setTimeout(() => {
      timedOut = true;
      stop();
    }, opts.timeoutMs);
    const onAbort = () => {
      aborted = true;
      stop();
    };
    if (opts.signal?.aborted) onAbort();
    else opts.signal?.addEventListener('abort', onAbort, { once: true });
    const pending: Promise<void>[] = [];
    for (const name of ['stdout', 'stderr'] as const) {
      const stream = child[name];
      const rl = createInterface({ input: stream, crlfDelay: Infinity });
      rl.on('line', (line) => opts.onLine(name, line));
      pending.push(new Promise((r) => rl.once('close', () => r())));
    }
    child.once('error', (err) => {
      spawnError = err.message;
    });
    child.once('close', (exitCode, signal) => {
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      // The group may outlive its leader (a background grandchild); make sure nothing is left running.
      if (timedOut || aborted) killGroup(child.pid, 'SIGKILL');
      if (killTimer) clearTimeout(killTimer);
      void Promise.all(pending).then(() =>
        resolve({ exitCode, signal, timedOut, aborted, ...(spawnError ? { spawnError } : {}) }),
      );
    });
  });
}
