/**
 * Configuration from the environment, validated once at start. `parseConfig` is pure: it returns every
 * problem at once so an operator fixes them in one go; main.ts prints them and exits 2.
 */
export const ENVIRONMENTS = ['dev', 'staging', 'prod'] as const;
export type Environment = (typeof ENVIRONMENTS)[number];
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** API keys shorter than this are refused: they would be guessable. */
export const MIN_API_KEY_LENGTH = 16;

export interface AppConfig {
  readonly appName: string;
  readonly environment: Environment;
  readonly logLevel: LogLevel;
  readonly databaseUrl: string;
  readonly redisUrl: string;
  readonly redisPrefix: string;
  readonly debug: boolean;
  readonly sentryDsn: string | undefined;
  /** The release this process runs (APP_VERSION, set by the deploy): Sentry's `release`. */
  readonly appVersion: string | undefined;
  readonly apiKeys: readonly string[];
  readonly port: number;
  readonly host: string;
  /** Requests per minute per API key. */
  readonly rateLimitMax: number;
  readonly faultInjection: boolean;
  /** Time between readiness turning 503 and the listener closing, so load balancers stop sending. */
  readonly shutdownDelayMs: number;
  /** Hard limit for the whole shutdown; past it the process exits 1. */
  readonly shutdownTimeoutMs: number;
  /** Cache entry lifetime (writes also invalidate). */
  readonly cacheTtlSeconds: number;
  /** In-process layer in front of Redis (keyed by the cache generation like Redis); 0 turns it off. */
  readonly cacheLocalTtlMs: number;
  /** Also invalidate the previous release's cache keys on every write (legacy-invalidation.ts). */
  readonly cacheLegacyInvalidation: boolean;
  readonly dbPoolMax: number;
}

export type ConfigResult = { ok: true; config: AppConfig } | { ok: false; errors: string[] };

type Env = Readonly<Record<string, string | undefined>>;

const BOOL_TRUE = new Set(['true', '1', 'yes']);
const BOOL_FALSE = new Set(['false', '0', 'no', '']);

/**
 * Reads variables one at a time; a bad value is noted (by the variable's name) and its fallback returned, so
 * every problem is found in one pass.
 */
class Reader {
  readonly errors: string[] = [];
  constructor(private readonly env: Env) {}

  str(name: string): string | undefined {
    return this.env[name]?.trim();
  }
  required(name: string): string {
    const v = this.str(name);
    if (!v) this.errors.push(`${name}: missing (required)`);
    return v ?? '';
  }
  oneOf<T extends string>(name: string, allowed: readonly T[], fallback: T): T {
    const v = this.str(name);
    if (v === undefined || v === '') return fallback;
    if ((allowed as readonly string[]).includes(v)) return v as T;
    this.errors.push(`${name}: "${v}" is not one of ${allowed.join(', ')}`);
    return fallback;
  }
  bool(name: string, fallback: boolean): boolean {
    const v = this.str(name)?.toLowerCase();
    if (v === undefined) return fallback;
    if (BOOL_TRUE.has(v)) return true;
    if (BOOL_FALSE.has(v)) return false;
    this.errors.push(`${name}: "${v}" is not a boolean (true/false)`);
    return fallback;
  }
  int(name: string, fallback: number, min: number, max: number): number {
    const v = this.str(name);
    if (v === undefined || v === '') return fallback;
    if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max) {
      this.errors.push(`${name}: "${v}" is not an integer between ${min} and ${max}`);
      return fallback;
    }
    return Number(v);
  }
  /** Checked for shape only: the value itself is a secret and never echoed. */
  url(name: string, protocols: readonly string[], isRequired: boolean): string | undefined {
    const v = isRequired ? this.required(name) : this.str(name);
    if (!v) return undefined;
    let parsed: URL;
    try {
      parsed = new URL(v);
    } catch {
      this.errors.push(`${name}: not a valid URL`);
      return undefined;
    }
    if (!protocols.includes(parsed.protocol)) {
      this.errors.push(`${name}: scheme must be ${protocols.map((p) => p.replace(/:$/, '')).join(' or ')}`);
      return undefined;
    }
    return v;
  }
  /** Notes a problem when the rule does not hold for a value already read. */
  check(holds: boolean, problem: string): void {
    if (!holds) this.errors.push(problem);
  }
}

// The readers run in the order of the variables' documentation, which is the order the errors are listed in.
export function parseConfig(env: Env): ConfigResult {
  const r = new Reader(env);
  const identity = readIdentity(r);
  const config: AppConfig = {
    ...identity,
    ...readStores(r),
    ...readDiagnostics(r, identity.environment),
    apiKeys: readApiKeys(r),
    ...readListener(r),
    faultInjection: readFaultInjection(r),
    ...readTimings(r, identity.environment),
  };
  return r.errors.length > 0 ? { ok: false, errors: r.errors } : { ok: true, config };
}

/** Which service, in which environment, and how loud. */
function readIdentity(r: Reader) {
  const appName = r.str('APP_NAME') || 'kgraph-mcp';
  r.check(/^[a-z0-9][a-z0-9-]{0,62}$/.test(appName), 'APP_NAME: must be lowercase letters, digits and dashes (max 63)');
  const environment = r.oneOf('ENVIRONMENT', ENVIRONMENTS, 'dev');
  r.check(r.str('ENVIRONMENT') !== undefined, `ENVIRONMENT: missing (required, one of ${ENVIRONMENTS.join(', ')})`);
  const logLevel = r.oneOf('LOG_LEVEL', LOG_LEVELS, environment === 'dev' ? 'debug' : 'info');
  return { appName, environment, logLevel };
}

/** PostgreSQL and Redis. */
function readStores(r: Reader) {
  const databaseUrl = r.url('DATABASE_URL', ['postgres:', 'postgresql:'], true) ?? '';
  const redisUrl = r.url('REDIS_URL', ['redis:', 'rediss:'], true) ?? '';
  const redisPrefix = r.str('REDIS_PREFIX') ?? 'kgraph:';
  r.check(
    /^[A-Za-z0-9:_.-]{1,100}$/.test(redisPrefix),
    'REDIS_PREFIX: must be 1-100 characters of letters, digits and :_.-',
  );
  return { databaseUrl, redisUrl, redisPrefix };
}

/** Debug output (never in prod), Sentry, and the release Sentry reports. */
function readDiagnostics(r: Reader, environment: Environment) {
  const debug = r.bool('DEBUG', false);
  r.check(!(debug && environment === 'prod'), 'DEBUG: must not be true when ENVIRONMENT=prod');
  const sentryDsn = r.url('SENTRY_DSN', ['https:', 'http:'], false);
  const appVersion = r.str('APP_VERSION');
  r.check(
    appVersion === undefined || /^[A-Za-z0-9][A-Za-z0-9._:@+-]{0,199}$/.test(appVersion),
    'APP_VERSION: must be a version or image reference (letters, digits, . _ : @ + -)',
  );
  return { debug, sentryDsn, appVersion };
}

/** The comma-separated API keys: at least one, none guessably short (counted, never shown). */
function readApiKeys(r: Reader): string[] {
  const raw = r.required('API_KEYS');
  const keys = raw
    .split(',')
    .map((k) => k.trim())
    .filter((k) => k.length > 0);
  r.check(!raw || keys.length > 0, 'API_KEYS: no key given (comma-separated list)');
  const short = keys.filter((k) => k.length < MIN_API_KEY_LENGTH).length;
  r.check(short === 0, `API_KEYS: ${short} key(s) shorter than ${MIN_API_KEY_LENGTH} characters`);
  return keys;
}

function readListener(r: Reader) {
  return {
    port: r.int('PORT', 8000, 0, 65535),
    host: r.str('HOST') || '0.0.0.0',
    rateLimitMax: r.int('RATE_LIMIT_MAX', 600, 1, 100_000_000),
  };
}

/**
 * Judged on the raw ENVIRONMENT: an invalid one must not fall back to "dev" and allow faults. Nothing else
 * unlocks it (NODE_ENV included): tests that inject faults run the service as dev.
 */
function readFaultInjection(r: Reader): boolean {
  const on = r.bool('FAULT_INJECTION', false);
  const environment = r.str('ENVIRONMENT');
  r.check(
    !on || environment === 'dev',
    `FAULT_INJECTION: may only be true when ENVIRONMENT=dev (ENVIRONMENT=${environment ?? 'missing'})`,
  );
  return on;
}

/** Shutdown timing, cache lifetimes and the database pool. */
function readTimings(r: Reader, environment: Environment) {
  return {
    shutdownDelayMs: r.int('SHUTDOWN_DELAY_MS', environment === 'dev' ? 0 : 5_000, 0, 120_000),
    shutdownTimeoutMs: r.int('SHUTDOWN_TIMEOUT_MS', 25_000, 1_000, 600_000),
    cacheTtlSeconds: r.int('CACHE_TTL_SECONDS', 60, 1, 86_400),
    cacheLocalTtlMs: r.int('CACHE_LOCAL_TTL_MS', 5_000, 0, 600_000),
    cacheLegacyInvalidation: r.bool('CACHE_LEGACY_INVALIDATION', true),
    dbPoolMax: r.int('DB_POOL_MAX', 10, 1, 200),
  };
}

export function formatConfigErrors(errors: readonly string[]): string {
  return `invalid configuration (${errors.length} problem${errors.length === 1 ? '' : 's'}):\n${errors.map((e) => `  - ${e}`).join('\n')}`;
}
