/**
 * How every bench starts the service it measures: no rate limit in the way (the bench is the only
 * client), warnings only in the log, staging's settings, no drain delay at shutdown.
 */
export const MEASURED_SERVICE_ENV = {
  RATE_LIMIT_MAX: '100000000',
  LOG_LEVEL: 'warn',
  ENVIRONMENT: 'staging',
  SHUTDOWN_DELAY_MS: '0',
} as const;
