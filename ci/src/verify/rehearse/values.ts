/**
 * What the rehearsal's objects are made of: a container is an image plus the config Dagger keeps beside
 * it (env, workdir, mounts, secrets, bound services, ports, healthcheck); directories and files are host
 * paths; a service is the container it runs and how it starts.
 */
export interface Secret {
  readonly t: 'Secret';
  readonly name: string;
  readonly value: string;
}
export interface Directory {
  readonly t: 'Directory';
  readonly path: string;
}
export interface File {
  readonly t: 'File';
  readonly path: string;
}
export interface CacheVolume {
  readonly t: 'CacheVolume';
  readonly volume: string;
}

export type Mount =
  | { readonly kind: 'cache'; readonly path: string; readonly volume: string }
  | { readonly kind: 'directory' | 'file'; readonly path: string; readonly host: string }
  | { readonly kind: 'secret'; readonly path: string; readonly secret: Secret };

export interface Healthcheck {
  readonly args: readonly string[];
  readonly intervalMs: number;
  readonly startPeriodMs: number;
  readonly retries: number;
}

export interface ExecResult {
  readonly argv: readonly string[];
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface Container {
  readonly t: 'Container';
  /** The filesystem so far; null before `from`. */
  readonly image: string | null;
  /** The pinned name `from` asked for (reports and stop rules). */
  readonly base: string | null;
  readonly env: readonly (readonly [string, string])[];
  readonly secretEnv: readonly (readonly [string, Secret])[];
  readonly workdir: string | undefined;
  readonly mounts: readonly Mount[];
  readonly services: readonly (readonly [string, Service])[];
  readonly ports: readonly number[];
  readonly healthcheck: Healthcheck | undefined;
  readonly labels: readonly (readonly [string, string])[];
  readonly terminalCmd: readonly string[] | undefined;
  readonly last: ExecResult | undefined;
}

export interface Service {
  readonly t: 'Service';
  /** Identifies the service within a session: the same definition is one running service, as in Dagger. */
  readonly key: string;
  readonly container: Container;
  readonly args: readonly string[] | undefined;
  readonly useEntrypoint: boolean;
}

export type Value = Container | Directory | File | Secret | CacheVolume | Service | { readonly t: 'Query' | 'Host' };

export const emptyContainer: Container = {
  t: 'Container',
  image: null,
  base: null,
  env: [],
  secretEnv: [],
  workdir: undefined,
  mounts: [],
  services: [],
  ports: [],
  healthcheck: undefined,
  labels: [],
  terminalCmd: undefined,
  last: undefined,
};

/** `container` with `name` set to `value` (a later set replaces an earlier one, as in a container). */
export function withPair<T>(list: readonly (readonly [string, T])[], name: string, value: T): (readonly [string, T])[] {
  return [...list.filter(([k]) => k !== name), [name, value] as const];
}

/** Go-style durations Dagger takes (`2s`, `120s`, `1m30s`) in milliseconds. */
export function durationMs(text: string | undefined, fallback: number): number {
  if (!text) return fallback;
  let total = 0;
  for (const m of text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)) {
    total += Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 'ms' | 's' | 'm' | 'h'];
  }
  return total || fallback;
}
