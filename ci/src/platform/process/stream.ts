/**
 * The line-streaming start of the process edge: a command whose stdout and stderr reach a callback line by line
 * as they arrive (step logs, image builds, the docker client), with a timeout, cancellation and kill. run.ts is
 * the captured start (zx); this one is plain node:child_process because its callers need what zx does not give
 * together: lines as they come, a process group stopped SIGTERM-then-SIGKILL, and "could not start" as a value.
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

export type StreamName = 'stdout' | 'stderr';

export interface StreamSpec {
  readonly argv: readonly string[];
  readonly cwd?: string;
  /** The whole environment of the process (not added to process.env). Default: process.env. */
  readonly env?: NodeJS.ProcessEnv;
  /** Each complete line of either stream as it arrives; a last line without a newline comes at the end. */
  readonly onLine?: (stream: StreamName, line: string) => void;
  /** Also keep each stream's whole text in the result (the docker client's answers are parsed). */
  readonly capture?: boolean;
  /** Stopped at this limit (the result then says timedOut). */
  readonly timeoutMs?: number;
  /** Stopped when this aborts (the result then says aborted). */
  readonly signal?: AbortSignal;
  /** In its own process group, and stopping it stops the group (npx -> npm -> node -> workers). */
  readonly detached?: boolean;
  /** Between SIGTERM and SIGKILL when stopping on timeout or abort; 0 sends SIGKILL at once. Default 5 s. */
  readonly killGraceMs?: number;
}

export interface StreamResult {
  /** null when the process was ended by a signal or could not start. */
  readonly exitCode: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly timedOut: boolean;
  readonly aborted: boolean;
  /** Set when the command could not start (for example ENOENT). */
  readonly spawnError?: string;
  /** The whole streams, when `capture` was asked for (empty otherwise). */
  readonly stdout: string;
  readonly stderr: string;
}

export interface StreamingProcess {
  /** undefined when the process could not start. */
  readonly pid: number | undefined;
  /** Resolves once the process ended and both streams' last lines were delivered; never rejects. */
  readonly done: Promise<StreamResult>;
  /** A signal to the process (or its group, when detached); nothing when it has already ended. */
  kill(signal?: NodeJS.Signals): void;
}

function signalProcess(pid: number | undefined, detached: boolean, sig: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(detached ? -pid : pid, sig);
  } catch {
    try {
      if (detached) process.kill(pid, sig); // the group is gone but the leader may not be
    } catch {
      /* already gone */
    }
  }
}

const notStarted = (why: string): StreamResult => ({
  exitCode: null,
  signal: null,
  timedOut: false,
  aborted: false,
  spawnError: why,
  stdout: '',
  stderr: '',
});

/** Starts the command; its lines go to `onLine` while it runs, its result comes in `done`. */
export function streamProcess(spec: StreamSpec): StreamingProcess {
  const [file, ...args] = spec.argv;
  if (!file) return { pid: undefined, done: Promise.resolve(notStarted('empty command')), kill: () => undefined };
  const detached = spec.detached ?? false;
  const child = spawn(file, args, {
    ...(spec.cwd !== undefined ? { cwd: spec.cwd } : {}),
    env: spec.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached,
  });
  const ended = () => child.exitCode !== null || child.signalCode !== null;
  const kill = (sig: NodeJS.Signals = 'SIGTERM') => {
    if (!ended()) signalProcess(child.pid, detached, sig);
  };
  const stopper = stopOnLimits(spec, (sig) => signalProcess(child.pid, detached, sig));
  const streams = readStreams(child, spec);
  const done = new Promise<StreamResult>((resolve) => {
    let spawnError: string | undefined;
    child.once('error', (err) => (spawnError = err.message));
    child.once('close', (exitCode, signal) => {
      const { timedOut, aborted } = stopper.finish();
      // The group may outlive its leader (a background grandchild): nothing is left running after a stop.
      if (detached && (timedOut || aborted)) signalProcess(child.pid, true, 'SIGKILL');
      // A command that could not start closes with a negative errno as its "code": that is no exit code.
      const code = spawnError ? null : exitCode;
      void streams.then(({ stdout, stderr }) =>
        resolve({ exitCode: code, signal, timedOut, aborted, ...(spawnError ? { spawnError } : {}), stdout, stderr }),
      );
    });
  });
  return { pid: child.pid, done, kill };
}

/** The timeout and the abort signal: each stops the process (SIGTERM, then SIGKILL after the grace). */
function stopOnLimits(spec: StreamSpec, send: (sig: NodeJS.Signals) => void) {
  let timedOut = false;
  let aborted = false;
  let escalation: NodeJS.Timeout | undefined;
  const grace = spec.killGraceMs ?? 5_000;
  const stop = () => {
    if (grace <= 0) return send('SIGKILL');
    send('SIGTERM');
    escalation ??= setTimeout(() => send('SIGKILL'), grace);
    escalation.unref();
  };
  const timer =
    spec.timeoutMs !== undefined
      ? setTimeout(() => {
          timedOut = true;
          stop();
        }, spec.timeoutMs)
      : undefined;
  const onAbort = () => {
    aborted = true;
    stop();
  };
  if (spec.signal?.aborted) onAbort();
  else spec.signal?.addEventListener('abort', onAbort, { once: true });
  return {
    finish() {
      clearTimeout(timer);
      clearTimeout(escalation);
      spec.signal?.removeEventListener('abort', onAbort);
      return { timedOut, aborted };
    },
  };
}

/** Both streams split into lines for `onLine` (and kept whole when captured); resolves when both have closed. */
function readStreams(child: ReturnType<typeof spawn>, spec: StreamSpec): Promise<{ stdout: string; stderr: string }> {
  const text = { stdout: '', stderr: '' };
  const closed = (['stdout', 'stderr'] as const).map((name) => {
    const stream = child[name]!;
    stream.setEncoding('utf8');
    if (spec.capture) stream.on('data', (d: string) => (text[name] += d));
    const lines = createInterface({ input: stream, crlfDelay: Infinity });
    if (spec.onLine) lines.on('line', (line) => spec.onLine!(name, line));
    return new Promise<void>((r) => lines.once('close', () => r()));
  });
  return Promise.all(closed).then(() => text);
}
