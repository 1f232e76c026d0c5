/** API-key authentication for the scope it is registered in: 401 without a known key, else req.apiKeyId. */
import fp from 'fastify-plugin';
import { apiKeyChecker, presentedKey } from '../auth.js';

declare module 'fastify' {
  interface FastifyRequest {
    apiKeyId?: string;
  }
}

export const apiKeyAuth = fp<{ keys: readonly string[] }>(
  async (scope, { keys }) => {
    const checkKey = apiKeyChecker(keys);
    scope.addHook('onRequest', (req, reply, done) => {
      const id = checkKey(presentedKey(req.headers));
      if (!id) {
        reply.header('www-authenticate', 'Bearer');
        reply.status(401).send({
          error: 'unauthorized',
          message: 'missing or invalid API key (x-api-key header or Authorization: Bearer)',
        });
        return;
      }
      req.apiKeyId = id;
      done();
    });
  },
  { name: 'kgraph-api-key-auth' },
);
