/**
 * The one process edge of ci/ (this folder; lint forbids node:child_process elsewhere in ci/src): kubectl, git,
 * npm audit, the service's processes, watch's rollback action and the step shell run through here, on zx; the
 * pipeline's steps, image builds and the docker client through stream.ts, which hands their output over line by line. Each argument is quoted by zx (the command line is built from an
 * argv, never interpolated), output is captured unless inherited, and a failure carries exit code and stderr.
 * zx loads on first use, so commands that never start a process do not pay for it.
 *
 * Kill (timeouts, stop): the process itself, or its whole group when it was started detached. zx's default
 * kill walks the process tree with `ps`, which slim images do not ship.
 */
import type { Readable } from 'node:stream';
import type * as ZxCore from 'zx/core';
import type { ProcessOutput, ProcessPromise } from 'zx/core';

export interface ProcessSpec {
  readonly argv: readonly string[];
  readonly cwd?: string;
  /** The whole environment of the process (not added to process.env). Default: process.env. */
  readonly env?: NodeJS.ProcessEnv;
  /** Written to stdin (`kubectl apply -f -`). */
  readonly input?: string;
  /** Stopped with SIGTERM at this limit (the result then has signal SIGTERM). */
  readonly timeoutMs?: number;
  /** 'pipe' (default) captures stdout and stderr; 'inherit' gives the process this terminal. */
  readonly stdio?: 'pipe' | 'inherit';
  /** In its own process group: a signal to the caller's group does not reach it; kill() signals the group. */
  readonly detached?: boolean;
  /** Keep at most this many characters of each stream (the last ones), for long-running processes. */
  readonly maxOutputChars?: number;
}

export interface ProcessResult {
  /** null when the process was ended by a signal or could not start. */
  readonly exitCode: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** A process that ended other than with exit 0. */
export class ProcessError extends Error {
  override readonly name = 'ProcessError';
  constructor(
    readonly command: string,
    readonly result: ProcessResult,
  ) {
    const how =
      result.exitCode !== null
        ? `exit code ${result.exitCode}`
        : result.signal
          ? `signal ${result.signal}`
          : 'could not start';
    const tail = result.stderr.trim().split('\n').slice(-3).join(' | ');
    super(`${command} failed (${how})${tail ? `: ${tail}` : ''}`);
  }
  get exitCode(): number | null {
    return this.result.exitCode;
  }
  get stderr(): string {
    return this.result.stderr;
  }
}

/** A started process: its output streams while it runs, its result once it ends. */
export interface RunningProcess {
  readonly pid: number | undefined;
  readonly stdout: Readable;
  readonly stderr: Readable;
  readonly done: Promise<ProcessResult>;
  kill(signal?: NodeJS.Signals): void;
}

let zx: Promise<typeof ZxCore> | undefined;
const loadZx = () => (zx ??= import('zx/core'));

function killer(detached: boolean) {
  return async (pid: string | number, signal?: NodeJS.Signals): Promise<void> => {
    try {
      process.kill(detached ? -Number(pid) : Number(pid), signal ?? 'SIGTERM');
    } catch {
      // already gone
    }
  };
}

/** An array of chunks that keeps only the last `max` characters (zx stores every chunk otherwise). */
class TailChunks extends Array<string | Buffer> {
  private size = 0;
  constructor(private readonly max: number) {
    super();
  }
  override push(...items: (string | Buffer)[]): number {
    for (const item of items) {
      super.push(item);
      this.size += item.length;
    }
    while (this.size > this.max && this.length > 1) this.size -= this.shift()!.length;
    if (this.size > this.max) {
      // One chunk larger than the budget: keep its tail.
      this[0] = this[0]!.slice(this[0]!.length - this.max);
      this.size = this[0].length;
    }
    return this.length;
  }
  static override get [Symbol.species]() {
    return Array;
  }
}

const resultOf = (out: ProcessOutput): ProcessResult => ({
  exitCode: out.exitCode,
  signal: out.signal,
  stdout: out.stdout,
  stderr: out.stderr,
});

/** Boxed: an async function returning the ProcessPromise itself would wait for the process to end. */
async function launch(spec: ProcessSpec): Promise<{ process: ProcessPromise }> {
  const [file, ...args] = spec.argv;
  if (!file) throw new Error('empty command');
  const { $ } = await loadZx();
  const shell = $({
    ...(spec.cwd !== undefined ? { cwd: spec.cwd } : {}),
    env: spec.env ?? process.env,
    ...(spec.input !== undefined ? { input: spec.input } : {}),
    ...(spec.timeoutMs !== undefined ? { timeout: spec.timeoutMs, timeoutSignal: 'SIGTERM' } : {}),
    stdio: spec.stdio === 'inherit' ? 'inherit' : ['pipe', 'pipe', 'pipe'],
    detached: spec.detached ?? false,
    kill: killer(spec.detached ?? false),
    ...(spec.maxOutputChars !== undefined
      ? {
          store: {
            stdout: new TailChunks(spec.maxOutputChars),
            stderr: new TailChunks(spec.maxOutputChars),
            stdall: new TailChunks(spec.maxOutputChars),
          },
        }
      : {}),
    quiet: true,
    verbose: false,
    nothrow: true,
  });
  return { process: shell`${file} ${args}` };
}

/** Runs to the end; resolves with the result whatever the exit code (only an empty argv rejects). */
export async function runProcess(spec: ProcessSpec): Promise<ProcessResult> {
  return resultOf(await (await launch(spec)).process);
}

/** Runs to the end; anything but exit 0 rejects with a ProcessError carrying exit code and stderr. */
export async function runChecked(spec: ProcessSpec): Promise<ProcessResult> {
  const result = await runProcess(spec);
  if (result.exitCode !== 0) throw new ProcessError(spec.argv.join(' '), result);
  return result;
}

/** Starts a long-running process (a server): stream its output, stop it with kill(), await done. */
export async function startProcess(spec: ProcessSpec): Promise<RunningProcess> {
  const { process: p } = await launch(spec);
  // Started by now (zx runs on the next tick); pid is set once the child exists.
  await new Promise((r) => setImmediate(r));
  return {
    pid: p.pid,
    stdout: p.stdout,
    stderr: p.stderr,
    done: p.then(resultOf),
    // Our killer, not p.kill(): ProcessPromise.kill goes through zx's global $.kill, which lists the tree with
    // `ps` and throws an uncaught parse error where there is none (the module's slim Node containers).
    kill: (signal: NodeJS.Signals = 'SIGTERM') => {
      if (p.pid !== undefined && p.child?.exitCode === null && p.child.signalCode === null)
        void killer(spec.detached ?? false)(p.pid, signal);
    },
  };
}
