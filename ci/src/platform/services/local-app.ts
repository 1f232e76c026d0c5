/**
 * Runs the KGraph-MCP service on this machine as child processes: migrate, seed, then the server, and
 * waits until /readyz says "ready" (Postgres and Redis both up). Used by the latency gate (`--serve`), fault-injection tests and benches.
 *
 * The caller's env is passed through on top of a minimal base (PATH, HOME); give DATABASE_URL,
 * REDIS_URL, REDIS_PREFIX and API_KEYS (keys of 16+ characters). Defaults: ENVIRONMENT=dev,
 * HOST=127.0.0.1, LOG_LEVEL=info. Load tests should raise RATE_LIMIT_MAX (default 600 per minute per key).
 */
import { createServer } from 'node:net';
import { join } from 'node:path';
import { startProcess, type RunningProcess } from '../process/run.js';
import { REPO_ROOT } from '../repo-root.js';

/** How long a started service has to answer /readyz (see LocalAppOptions.readyTimeoutMs). */
const READY_TIMEOUT_MS = 90_000;

export interface LocalAppOptions {
  readonly env: Readonly<Record<string, string>>;
  /** 0 (default) picks a free port. */
  readonly port?: number;
  /** Tools to seed after migrating; 0 or undefined seeds nothing. */
  readonly seedCount?: number;
  readonly migrate?: boolean;
  /** 'source' runs the TypeScript through tsx; 'dist' runs the build (npm run build -w app first). */
  readonly entry?: 'source' | 'dist';
  /**
   * Default 90 s: on a 2-core machine shared with a second suite (load 16-19), migrate + seed + listen took
   * over 30 s in the Dagger module's containers (chaos, pg-failover and shutdown drills timed out). A hang
   * still fails, at this bound.
   */
  readonly readyTimeoutMs?: number;
  /** Log lines are kept in memory (the last this many characters). */
  readonly maxLogChars?: number;
  /** Checkout to run the service from (e.g. a git worktree of an older release); default this repository. */
  readonly root?: string;
  /** The node binary that runs it (a bench measures on the image's Node); default this process's. */
  readonly node?: string;
}

export interface LocalApp {
  readonly url: string;
  readonly port: number;
  readonly pid: number;
  /** Sends the signal (SIGTERM by default), waits for exit, returns the exit code (null if killed by a signal). */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  logs(): string;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** The whole argv of one of the app's scripts, node first. */
function command(root: string, entry: 'source' | 'dist', script: 'main' | 'migrate' | 'seed', node: string): string[] {
  const appDir = join(root, 'app');
  return entry === 'dist'
    ? [node, join(appDir, 'dist', `${script}.js`)]
    : [node, '--import', 'tsx', join(appDir, 'src', `${script}.ts`)];
}

class LogBuffer {
  private text = '';
  constructor(private readonly max: number) {}
  append(chunk: string): void {
    this.text += chunk;
    if (this.text.length > this.max) this.text = this.text.slice(this.text.length - this.max);
  }
  toString(): string {
    return this.text;
  }
}

function attach(child: RunningProcess, buf: LogBuffer): void {
  child.stdout.setEncoding('utf8').on('data', (d: string) => buf.append(d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => buf.append(d));
}

/** Output kept by the process edge per stream; the LogBuffer holds what callers read. */
const EDGE_OUTPUT_CHARS = 64 * 1024;

/** One of the app's scripts started in `root` through the process edge, its output into `buf`. */
async function startScript(root: string, argv: string[], env: NodeJS.ProcessEnv, buf: LogBuffer) {
  const child = await startProcess({ argv, cwd: root, env, input: '', maxOutputChars: EDGE_OUTPUT_CHARS });
  attach(child, buf);
  return child;
}

async function runToEnd(
  root: string,
  argv: string[],
  env: NodeJS.ProcessEnv,
  buf: LogBuffer,
  label: string,
): Promise<void> {
  const child = await startScript(root, argv, env, buf);
  const { exitCode, signal } = await child.done;
  if (exitCode !== 0) throw new Error(`${label} failed (exit ${exitCode ?? signal}):\n${buf.toString().slice(-2_000)}`);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A minimal base (PATH, HOME) and the defaults, under the caller's env; PORT always the chosen port. */
function serviceEnv(opts: LocalAppOptions, port: number): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    ENVIRONMENT: 'dev',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'info',
    ...opts.env,
    PORT: String(port),
  };
}

/** The running server: its exit code once it has exited, and a stop that waits for the exit. */
interface ServerProcess {
  readonly pid: number;
  exitCode(): number | null | undefined;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

async function startServer(
  root: string,
  argv: string[],
  env: NodeJS.ProcessEnv,
  buf: LogBuffer,
): Promise<ServerProcess> {
  const child = await startScript(root, argv, env, buf);
  let exitCode: number | null | undefined;
  // If this process ends without stop() (a crash, Ctrl-C), do not leave an orphaned server behind.
  // Synchronous on purpose: 'exit' listeners cannot wait.
  const killOnExit = () => {
    try {
      if (child.pid) process.kill(child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  };
  process.once('exit', killOnExit);
  const exited = child.done.then(({ exitCode: code }) => {
    exitCode = code;
    process.removeListener('exit', killOnExit);
    return code;
  });
  return {
    pid: child.pid!,
    exitCode: () => exitCode,
    stop: async (signal: NodeJS.Signals = 'SIGTERM') => {
      if (exitCode === undefined) child.kill(signal);
      return exited;
    },
  };
}

/** "ready", not merely "degraded": callers measure the service with its cache and shared limits. */
async function isReady(url: string): Promise<boolean> {
  try {
    const res = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(2_000) });
    return res.ok && ((await res.json()) as { status?: string }).status === 'ready';
  } catch {
    return false; // not listening yet
  }
}

/** Polls /readyz until ready; a server that exits first, or is not ready in time (then killed), is an error. */
async function waitUntilReady(url: string, server: ServerProcess, buf: LogBuffer, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const exitCode = server.exitCode();
    if (exitCode !== undefined)
      throw new Error(`service exited (code ${exitCode}) before it was ready:\n${buf.toString().slice(-2_000)}`);
    if (await isReady(url)) return;
    if (Date.now() > deadline) {
      await server.stop('SIGKILL');
      throw new Error(`service not ready at ${url} within ${timeoutMs} ms:\n${buf.toString().slice(-2_000)}`);
    }
    await sleep(100);
  }
}

export async function startLocalApp(opts: LocalAppOptions): Promise<LocalApp> {
  const entry = opts.entry ?? 'source';
  const port = opts.port && opts.port > 0 ? opts.port : await freePort();
  const buf = new LogBuffer(opts.maxLogChars ?? 1_000_000);
  const root = opts.root ?? REPO_ROOT;
  const env = serviceEnv(opts, port);
  const node = opts.node ?? process.execPath;
  if (opts.migrate ?? true) await runToEnd(root, command(root, entry, 'migrate', node), env, buf, 'migrate');
  if (opts.seedCount && opts.seedCount > 0)
    await runToEnd(root, [...command(root, entry, 'seed', node), '--count', String(opts.seedCount)], env, buf, 'seed');
  const server = await startServer(root, command(root, entry, 'main', node), env, buf);
  const url = `http://127.0.0.1:${port}`;
  await waitUntilReady(url, server, buf, opts.readyTimeoutMs ?? READY_TIMEOUT_MS);
  return { url, port, pid: server.pid, stop: (signal) => server.stop(signal), logs: () => buf.toString() };
}
