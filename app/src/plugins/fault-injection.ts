/** Fault mode (dev only, see faults.ts) for the scope it is registered in: added latency and injected 503s. */
import fp from 'fastify-plugin';
import { spinFor, type FaultState } from '../faults.js';

export const faultInjection = fp<{ faults: FaultState }>(
  async (scope, { faults }) => {
    scope.addHook('preHandler', async (req, reply) => {
      const { delayMs, cpu, fail, crash } = faults.decide(req.url);
      if (delayMs > 0 && cpu) spinFor(delayMs);
      else if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs));
      if (fail) return reply.status(503).send({ error: 'injected fault' });
      if (crash) throw new Error('injected crash');
      return undefined;
    });
  },
  { name: 'kgraph-fault-injection' },
);
