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

export function parseConfig(env: Env): ConfigResult {
  const errors: string[] = [];
  const str = (name: string): string | undefined => {
    const v = env[name];
    return v === undefined ? undefined : v.trim();
  };
  const required = (name: string): string => {
    const v = str(name);
    if (!v) errors.push(`${name}: missing (required)`);
    return v ?? '';
  };
  const oneOf = <T extends string>(name: string, allowed: readonly T[], fallback: T): T => {
    const v = str(name);
    if (v === undefined || v === '') return fallback;
    if ((allowed as readonly string[]).includes(v)) return v as T;
    errors.push(`${name}: "${v}" is not one of ${allowed.join(', ')}`);
    return fallback;
  };
  const bool = (name: string, fallback: boolean): boolean => {
    const v = str(name)?.toLowerCase();
    if (v === undefined) return fallback;
    if (BOOL_TRUE.has(v)) return true;
    if (BOOL_FALSE.has(v)) return false;
    errors.push(`${name}: "${v}" is not a boolean (true/false)`);
    return fallback;
  };
  const int = (name: string, fallback: number, min: number, max: number): number => {
    const v = str(name);
    if (v === undefined || v === '') return fallback;
    if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max) {
      errors.push(`${name}: "${v}" is not an integer between ${min} and ${max}`);
      return fallback;
    }
    return Number(v);
  };
  // URLs are checked for shape only; the value itself is a secret and never echoed.
  const url = (name: string, protocols: readonly string[], isRequired: boolean): string | undefined => {
    const v = isRequired ? required(name) : str(name);
    if (!v) return undefined;
    let parsed: URL;
    try {
      parsed = new URL(v);
    } catch {
      errors.push(`${name}: not a valid URL`);
      return undefined;
    }
    if (!protocols.includes(parsed.protocol)) {
      errors.push(`${name}: scheme must be ${protocols.map((p) => p.replace(/:$/, '')).join(' or ')}`);
      return undefined;
    }
    return v;
  };

  const appName = str('APP_NAME') || 'kgraph-mcp';
  if (!/^[a-z0-9][a-z0-9-]{0,62}$/.test(appName))
    errors.push('APP_NAME: must be lowercase letters, digits and dashes (max 63)');
  const environment = oneOf('ENVIRONMENT', ENVIRONMENTS, 'dev');
  if (str('ENVIRONMENT') === undefined)
    errors.push(`ENVIRONMENT: missing (required, one of ${ENVIRONMENTS.join(', ')})`);
  const logLevel = oneOf('LOG_LEVEL', LOG_LEVELS, environment === 'dev' ? 'debug' : 'info');
  const databaseUrl = url('DATABASE_URL', ['postgres:', 'postgresql:'], true) ?? '';
  const redisUrl = url('REDIS_URL', ['redis:', 'rediss:'], true) ?? '';
  const redisPrefix = str('REDIS_PREFIX') ?? 'kgraph:';
  if (!/^[A-Za-z0-9:_.-]{1,100}$/.test(redisPrefix))
    errors.push('REDIS_PREFIX: must be 1-100 characters of letters, digits and :_.-');
  const debug = bool('DEBUG', false);
  if (debug && environment === 'prod') errors.push('DEBUG: must not be true when ENVIRONMENT=prod');
  const sentryDsn = url('SENTRY_DSN', ['https:', 'http:'], false);
  const appVersion = str('APP_VERSION');
  if (appVersion !== undefined && !/^[A-Za-z0-9][A-Za-z0-9._:@+-]{0,199}$/.test(appVersion))
    errors.push('APP_VERSION: must be a version or image reference (letters, digits, . _ : @ + -)');

  const apiKeysRaw = required('API_KEYS');
  const apiKeys = apiKeysRaw
    .split(',')
    .map((k) => k.trim())
    .filter((k) => k.length > 0);
  if (apiKeysRaw && apiKeys.length === 0) errors.push('API_KEYS: no key given (comma-separated list)');
  const short = apiKeys.filter((k) => k.length < MIN_API_KEY_LENGTH).length;
  if (short > 0) errors.push(`API_KEYS: ${short} key(s) shorter than ${MIN_API_KEY_LENGTH} characters`);

  const port = int('PORT', 8000, 0, 65535);
  const host = str('HOST') || '0.0.0.0';
  const rateLimitMax = int('RATE_LIMIT_MAX', 600, 1, 100_000_000);
  const faultInjection = bool('FAULT_INJECTION', false);
  // Judged on the raw value: an invalid ENVIRONMENT must not fall back to "dev" and allow faults.
  // Nothing else unlocks it (NODE_ENV included): tests that inject faults run the service as dev.
  if (faultInjection && str('ENVIRONMENT') !== 'dev') {
    errors.push(
      `FAULT_INJECTION: may only be true when ENVIRONMENT=dev (ENVIRONMENT=${str('ENVIRONMENT') ?? 'missing'})`,
    );
  }
  const shutdownDelayMs = int('SHUTDOWN_DELAY_MS', environment === 'dev' ? 0 : 5_000, 0, 120_000);
  const shutdownTimeoutMs = int('SHUTDOWN_TIMEOUT_MS', 25_000, 1_000, 600_000);
  const cacheTtlSeconds = int('CACHE_TTL_SECONDS', 60, 1, 86_400);
  const cacheLocalTtlMs = int('CACHE_LOCAL_TTL_MS', 5_000, 0, 600_000);
  const cacheLegacyInvalidation = bool('CACHE_LEGACY_INVALIDATION', true);
  const dbPoolMax = int('DB_POOL_MAX', 10, 1, 200);

  if (errors.length > 0) return { ok: false, errors };
  return {
    ok: true,
    config: {
      appName,
      environment,
      logLevel,
      databaseUrl,
      redisUrl,
      redisPrefix,
      debug,
      sentryDsn,
      appVersion,
      apiKeys,
      port,
      host,
      rateLimitMax,
      faultInjection,
      shutdownDelayMs,
      shutdownTimeoutMs,
      cacheTtlSeconds,
      cacheLocalTtlMs,
      cacheLegacyInvalidation,
      dbPoolMax,
    },
  };
}

export function formatConfigErrors(errors: readonly string[]): string {
  return `invalid configuration (${errors.length} problem${errors.length === 1 ? '' : 's'}):\n${errors.map((e) => `  - ${e}`).join('\n')}`;
}
