import { Writable } from 'node:stream';
import Fastify, { type FastifyInstance } from 'fastify';
import { pino, type Logger } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { REDACT_PATHS } from '../src/app.js';
import { lazyChildLogger } from '../src/request-logger.js';

/** A pino logger (the service's redaction) writing JSON lines into an array. */
function memoryLogger(level: string): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const out = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString('utf8').split('\n')) if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  const logger = pino({ level, redact: { paths: REDACT_PATHS, censor: '[redacted]' }, base: { app: 't' } }, out);
  return { logger, lines };
}

/** Routes that log nothing, warn (with a secret that must be redacted), throw, and log through a child. */
async function appWith(logger: Logger, lazy: boolean): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: logger,
    ...(lazy ? { childLoggerFactory: lazyChildLogger } : {}),
    genReqId: () => 'req-fixed',
  });
  app.get('/quiet', async (req) => {
    req.log.info('only at info');
    req.log.debug('only at debug');
    return { ok: true };
  });
  app.get('/warn', async (req) => {
    req.log.warn({ cfg: { apiKey: 'secret-key' }, n: 1 }, 'careful');
    return { ok: true };
  });
  app.get('/throw', async () => {
    throw new Error('boom');
  });
  app.get('/child', async (req) => {
    req.log.child({ step: 'inner' }).warn('from a child');
    return { ok: true };
  });
  await app.ready();
  return app as unknown as FastifyInstance;
}

/** A logged line without what differs between two runs (time, pid, hostname, the error's stack). */
const stable = (line: Record<string, unknown>) => {
  const { time: _t, pid: _p, hostname: _h, ...rest } = line;
  if (rest.err && typeof rest.err === 'object') delete (rest.err as Record<string, unknown>).stack;
  if (rest.res && typeof rest.res === 'object') rest.res = 'res';
  if (typeof rest.responseTime === 'number') rest.responseTime = 0;
  return rest;
};

const apps: FastifyInstance[] = [];
afterEach(async () => {
  for (const a of apps.splice(0)) await a.close();
});

describe('lazyChildLogger', () => {
  it('makes no child logger for a request that logs nothing at an enabled level', async () => {
    const { logger, lines } = memoryLogger('warn');
    const app = await appWith(logger, true);
    apps.push(app);
    let children = 0;
    const child = logger.child.bind(logger);
    logger.child = ((...a: Parameters<Logger['child']>) => (children++, child(...a))) as Logger['child'];
    for (let i = 0; i < 3; i++) expect((await app.inject('/quiet')).statusCode).toBe(200);
    expect(children).toBe(0);
    expect(lines).toEqual([]);
    await app.inject('/warn');
    expect(children).toBe(1);
  });

  it('writes exactly the lines the default child logger writes (request id bound, secrets redacted)', async () => {
    const runs = await Promise.all(
      [true, false].map(async (lazy) => {
        const { logger, lines } = memoryLogger('warn');
        const app = await appWith(logger, lazy);
        apps.push(app);
        for (const url of ['/quiet', '/warn', '/throw', '/child']) await app.inject(url);
        return lines.map(stable);
      }),
    );
    const [lazyLines, defaultLines] = runs;
    expect(lazyLines).toEqual(defaultLines);
    // What the comparison covers: the warn line, the error line of the thrown request, the child's line.
    expect(lazyLines).toContainEqual(
      expect.objectContaining({ reqId: 'req-fixed', cfg: { apiKey: '[redacted]' }, n: 1, msg: 'careful', level: 40 }),
    );
    expect(lazyLines).toContainEqual(expect.objectContaining({ reqId: 'req-fixed', level: 50 }));
    expect(lazyLines).toContainEqual(
      expect.objectContaining({ reqId: 'req-fixed', step: 'inner', msg: 'from a child' }),
    );
  });

  it('follows the parent level when it changes after the request logger was made', async () => {
    const { logger, lines } = memoryLogger('warn');
    const app = await appWith(logger, true);
    apps.push(app);
    logger.level = 'info';
    await app.inject('/quiet');
    expect(lines.map((l) => l.msg)).toContain('only at info');
    expect(lines.map((l) => l.msg)).not.toContain('only at debug');
    expect(lines.find((l) => l.msg === 'only at info')).toMatchObject({ reqId: 'req-fixed', app: 't' });
  });

  it('gives a real child at once when the route sets log options of its own', async () => {
    const { logger, lines } = memoryLogger('warn');
    const app = Fastify({ loggerInstance: logger, childLoggerFactory: lazyChildLogger, genReqId: () => 'r2' });
    app.get('/debug', { logLevel: 'debug' }, async (req) => {
      req.log.debug('route-level debug');
      return {};
    });
    apps.push(app as unknown as FastifyInstance);
    await app.inject('/debug');
    expect(lines).toContainEqual(expect.objectContaining({ reqId: 'r2', msg: 'route-level debug', level: 20 }));
  });
});
