import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { formatConfigErrors, parseConfig } from '../src/config.js';

const GOOD = {
  ENVIRONMENT: 'staging',
  DATABASE_URL: 'postgres://app:s3cret@db:5432/kgraph',
  REDIS_URL: 'redis://redis:6379/0',
  API_KEYS: 'aaaaaaaaaaaaaaaa,bbbbbbbbbbbbbbbbbbbb',
};

describe('parseConfig', () => {
  it('accepts a good environment and applies defaults', () => {
    const res = parseConfig(GOOD);
    expect(res.ok).toBe(true);
    if (!res.ok) return;
    expect(res.config).toMatchObject({
      appName: 'kgraph-mcp',
      environment: 'staging',
      logLevel: 'info',
      port: 8000,
      host: '0.0.0.0',
      redisPrefix: 'kgraph:',
      rateLimitMax: 600,
      faultInjection: false,
      debug: false,
      apiKeys: ['aaaaaaaaaaaaaaaa', 'bbbbbbbbbbbbbbbbbbbb'],
    });
  });

  it('lists every problem at once, without echoing secret values', () => {
    const res = parseConfig({
      ENVIRONMENT: 'qa',
      LOG_LEVEL: 'loud',
      DATABASE_URL: 'mysql://u:hunter2@db/x',
      API_KEYS: 'tiny9',
      PORT: '99999',
      DEBUG: 'maybe',
      FAULT_INJECTION: 'true',
      SENTRY_DSN: 'not a url',
    });
    expect(res.ok).toBe(false);
    if (res.ok) return;
    const text = formatConfigErrors(res.errors);
    for (const name of ['ENVIRONMENT', 'LOG_LEVEL', 'DATABASE_URL', 'REDIS_URL', 'API_KEYS', 'PORT', 'DEBUG', 'FAULT_INJECTION', 'SENTRY_DSN']) {
      expect(text).toContain(`${name}:`);
    }
    expect(text).not.toContain('hunter2');
    expect(text).not.toContain('tiny9');
  });

  it('refuses fault injection outside dev unless NODE_ENV=test, and DEBUG in prod', () => {
    expect(parseConfig({ ...GOOD, FAULT_INJECTION: 'true' }).ok).toBe(false);
    expect(parseConfig({ ...GOOD, FAULT_INJECTION: 'true', NODE_ENV: 'test' }).ok).toBe(true);
    expect(parseConfig({ ...GOOD, FAULT_INJECTION: 'true', ENVIRONMENT: 'dev' }).ok).toBe(true);
    expect(parseConfig({ ...GOOD, DEBUG: 'true', ENVIRONMENT: 'prod' })).toEqual({ ok: false, errors: ['DEBUG: must not be true when ENVIRONMENT=prod'] });
  });
});

describe('main with a bad configuration', () => {
  it('exits 2 with one message listing every problem and no stack trace', () => {
    const main = fileURLToPath(new URL('../src/main.ts', import.meta.url));
    const res = spawnSync(process.execPath, ['--import', 'tsx', main], {
      env: { PATH: process.env.PATH, ENVIRONMENT: 'prod', DATABASE_URL: 'postgres://u:topsecret@h/db', API_KEYS: 'x' },
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(res.status).toBe(2);
    expect(res.stderr).toContain('invalid configuration (2 problems)');
    expect(res.stderr).toContain('REDIS_URL: missing');
    expect(res.stderr).toContain('API_KEYS: 1 key(s) shorter than 16');
    expect(res.stderr).not.toMatch(/\n\s+at /);
    expect(res.stderr + res.stdout).not.toContain('topsecret');
  });
});
