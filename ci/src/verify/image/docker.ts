/**
 * The one edge to a container engine: the docker CLI as a child process (started by the process edge). Everything else in
 * ci/src/verify/image takes a `Docker` function, so tests can hand in a fake.
 *
 * Which client: $KGRAPH_DOCKER, else Debian's /usr/bin/docker when present (a client that builds with
 * BuildKit without buildx; some machines put a buildx-less newer client first on PATH), else `docker`.
 */
import { existsSync } from 'node:fs';
import { streamProcess } from '../../platform/process/stream.js';

export interface DockerCall {
  readonly timeoutMs?: number;
  /** Each line of stdout and stderr as it arrives (build progress). */
  readonly onLine?: (line: string) => void;
  readonly env?: Readonly<Record<string, string>>;
  readonly cwd?: string;
}

export interface DockerResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly timedOut: boolean;
  /** The client could not be started at all (not installed). */
  readonly spawnError?: string;
}

export type Docker = (args: readonly string[], call?: DockerCall) => Promise<DockerResult>;

export function dockerClientPath(env: NodeJS.ProcessEnv = process.env): string {
  if (env.KGRAPH_DOCKER) return env.KGRAPH_DOCKER;
  return existsSync('/usr/bin/docker') ? '/usr/bin/docker' : 'docker';
}

/** The real client. BuildKit is on: the Dockerfile's own .dockerignore (app/Dockerfile.dockerignore) needs it. */
export function dockerCli(env: NodeJS.ProcessEnv = process.env): Docker {
  const bin = dockerClientPath(env);
  return async (args, call = {}) => {
    const onLine = call.onLine;
    const r = await streamProcess({
      argv: [bin, ...args],
      ...(call.cwd ? { cwd: call.cwd } : {}),
      env: { ...env, DOCKER_BUILDKIT: '1', ...call.env },
      capture: true,
      ...(onLine ? { onLine: (_stream: string, line: string) => onLine(line) } : {}),
      // A client that does not answer in time is killed outright: it holds nothing that needs a clean stop.
      ...(call.timeoutMs ? { timeoutMs: call.timeoutMs, killGraceMs: 0 } : {}),
    }).done;
    return {
      code: r.exitCode,
      stdout: r.stdout,
      stderr: r.stderr,
      timedOut: r.timedOut,
      ...(r.spawnError ? { spawnError: r.spawnError } : {}),
    };
  };
}

export type EngineStatus =
  { readonly available: true; readonly version: string } | { readonly available: false; readonly reason: string };

/** Whether an engine answers: the client must exist and the daemon must reply within the timeout. */
export async function engineStatus(docker: Docker, timeoutMs = 10_000): Promise<EngineStatus> {
  const res = await docker(['version', '--format', '{{.Server.Version}}'], { timeoutMs });
  if (res.spawnError) return { available: false, reason: `no docker client (${res.spawnError})` };
  if (res.timedOut) return { available: false, reason: `the docker engine did not answer within ${timeoutMs / 1000}s` };
  const version = res.stdout.trim();
  if (res.code !== 0 || !version) {
    const why = firstLine(res.stderr) || `docker version exited ${res.code}`;
    return { available: false, reason: `no docker engine answers (${why})` };
  }
  return { available: true, version };
}

/** A failed docker call as one line for an error message (stderr's last meaningful line). */
export function dockerFailure(what: string, res: DockerResult): string {
  if (res.spawnError) return `${what}: could not start docker (${res.spawnError})`;
  if (res.timedOut) return `${what}: timed out`;
  const lines = res.stderr
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  return `${what}: exit ${res.code}${lines.length ? `: ${lines.at(-1)}` : ''}`;
}

export function firstLine(text: string): string {
  return (
    text
      .split('\n')
      .map((l) => l.trim())
      .find(Boolean) ?? ''
  );
}
