/**
 * What every response gets: the OWASP headers, its request id, `connection: close` while draining, and its
 * place in the request metrics. Callbacks, not async functions: no promise per hook per request.
 */
import fp from 'fastify-plugin';
import type { AppState } from '../app-state.js';
import type { Metrics } from '../metrics.js';
import { securityHeaders } from '../security-headers.js';

export const responseHooks = fp<{ state: AppState; metrics: Pick<Metrics, 'observeRequest'> }>(
  async (app, { state, metrics }) => {
    app.addHook('onSend', (req, reply, payload, done) => {
      reply.header('x-request-id', req.id);
      // While draining, close each connection after its response: a keep-alive socket that was busy when
      // the listener closed would otherwise hold the shutdown open until its idle timeout.
      if (state.shuttingDown) reply.header('connection', 'close');
      done(null, payload);
    });
    app.addHook('onResponse', (req, reply, done) => {
      metrics.observeRequest(
        req.routeOptions.url ?? 'unmatched',
        req.method,
        reply.statusCode,
        reply.elapsedTime / 1000,
      );
      done();
    });
    const owaspHeaders = securityHeaders();
    app.addHook('onRequest', (_req, reply, done) => {
      reply.headers(owaspHeaders);
      done();
    });
  },
  { name: 'kgraph-response-hooks' },
);
