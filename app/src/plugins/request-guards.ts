/**
 * Guards for the API scope: a schema this code cannot use answers 503 with the reason (never 500), and a
 * NUL byte anywhere in params, query or body is a 400 naming the field (before schema validation, so it is
 * named whatever else is wrong).
 */
import fp from 'fastify-plugin';
import { badRequest } from '../errors.js';
import { NUL_REASON, nulField } from '../input-guard.js';
import type { SchemaWatch } from '../schema-watch.js';

export const schemaGate = fp<{ schema: Pick<SchemaWatch, 'blocked'> }>(
  async (scope, { schema }) => {
    scope.addHook('onRequest', (_req, reply, done) => {
      const blocked = schema.blocked();
      if (blocked) {
        reply.status(503).send({ error: 'service unavailable', message: blocked });
        return;
      }
      done();
    });
  },
  { name: 'kgraph-schema-gate' },
);

export const nulGuard = fp(
  async (scope) => {
    scope.addHook('preValidation', (req, _reply, done) => {
      const field = nulField(req.params, 'params') ?? nulField(req.query, 'query') ?? nulField(req.body, 'body');
      done(field ? badRequest(field, NUL_REASON) : undefined);
    });
  },
  { name: 'kgraph-nul-guard' },
);
