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
    for (const name of [
      'ENVIRONMENT',
      'LOG_LEVEL',
      'DATABASE_URL',
      'REDIS_URL',
      'API_KEYS',
      'PORT',
      'DEBUG',
      'FAULT_INJECTION',
      'SENTRY_DSN',
    ]) {
      expect(text).toContain(`${name}:`);
    }
    expect(text).not.toContain('hunter2');
    expect(text).not.toContain('tiny9');
  });

  it('allows fault injection in dev only, and refuses DEBUG in prod', () => {
    expect(parseConfig({ ...GOOD, FAULT_INJECTION: 'true' }).ok).toBe(false);
    const dev = parseConfig({ ...GOOD, FAULT_INJECTION: 'true', ENVIRONMENT: 'dev' });
    expect(dev.ok && dev.config.faultInjection).toBe(true);
    expect(parseConfig({ ...GOOD, DEBUG: 'true', ENVIRONMENT: 'prod' })).toEqual({
      ok: false,
      errors: ['DEBUG: must not be true when ENVIRONMENT=prod'],
    });
  });

  // NODE_ENV is set by test runners, bundlers and images alike; it must not open a door in a deployment.
  it.each(['staging', 'prod'])('refuses fault injection in %s whatever NODE_ENV says', (environment) => {
    for (const nodeEnv of [undefined, '', 'test', 'development', 'production', 'dev']) {
      for (const on of ['true', 'TRUE', '1', 'yes', ' true ']) {
        const res = parseConfig({ ...GOOD, ENVIRONMENT: environment, FAULT_INJECTION: on, NODE_ENV: nodeEnv });
        expect(res, `ENVIRONMENT=${environment} NODE_ENV=${String(nodeEnv)} FAULT_INJECTION=${on}`).toEqual({
          ok: false,
          errors: [`FAULT_INJECTION: may only be true when ENVIRONMENT=dev (ENVIRONMENT=${environment})`],
        });
      }
    }
    const off = parseConfig({ ...GOOD, ENVIRONMENT: environment, FAULT_INJECTION: 'false', NODE_ENV: 'test' });
    expect(off.ok && off.config.faultInjection).toBe(false);
  });

  it('does not let an unknown or missing ENVIRONMENT fall back to dev and allow faults', () => {
    for (const environment of ['qa', 'test', 'Dev', 'development', undefined]) {
      const res = parseConfig({ ...GOOD, ENVIRONMENT: environment, FAULT_INJECTION: 'true', NODE_ENV: 'test' });
      expect(res.ok, `ENVIRONMENT=${String(environment)}`).toBe(false);
      if (res.ok) continue;
      expect(res.errors.some((e) => e.startsWith('FAULT_INJECTION: may only be true when ENVIRONMENT=dev'))).toBe(true);
    }
  });
});

describe('main with a bad configuration', () => {
  it('exits 2 with one message listing every problem and no stack trace', { timeout: 120_000 }, () => {
    const main = fileURLToPath(new URL('../src/main.ts', import.meta.url));
    const res = spawnSync(process.execPath, ['--import', 'tsx', main], {
      env: { PATH: process.env.PATH, ENVIRONMENT: 'prod', DATABASE_URL: 'postgres://u:topsecret@h/db', API_KEYS: 'x' },
      encoding: 'utf8',
      // tsx compiles main.ts first: slow on a busy machine; a hang still ends here.
      timeout: 90_000,
    });
    expect(res.status).toBe(2);
    expect(res.stderr).toContain('invalid configuration (2 problems)');
    expect(res.stderr).toContain('REDIS_URL: missing');
    expect(res.stderr).toContain('API_KEYS: 1 key(s) shorter than 16');
    expect(res.stderr).not.toMatch(/\n\s+at /);
    expect(res.stderr + res.stdout).not.toContain('topsecret');
  });

  it('refuses to start prod with fault injection even under NODE_ENV=test', { timeout: 120_000 }, () => {
    const main = fileURLToPath(new URL('../src/main.ts', import.meta.url));
    const res = spawnSync(process.execPath, ['--import', 'tsx', main], {
      env: {
        PATH: process.env.PATH,
        NODE_ENV: 'test',
        ENVIRONMENT: 'prod',
        FAULT_INJECTION: 'true',
        DATABASE_URL: 'postgres://u:topsecret@h/db',
        REDIS_URL: 'redis://h:6379/0',
        API_KEYS: 'aaaaaaaaaaaaaaaa',
      },
      encoding: 'utf8',
      // tsx compiles main.ts first: slow on a busy machine; a hang still ends here.
      timeout: 90_000,
    });
    expect(res.status).toBe(2);
    expect(res.stderr).toContain('invalid configuration (1 problem)');
    expect(res.stderr).toContain('FAULT_INJECTION: may only be true when ENVIRONMENT=dev (ENVIRONMENT=prod)');
    expect(res.stdout).not.toContain('service ready');
  });
});
