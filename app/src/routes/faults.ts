/** /__faults: read, set and clear the fault mode (registered only when FAULT_INJECTION=true). */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FaultState } from '../faults.js';
import { faultsBody } from '../schemas.js';

export const faultRoutes: FastifyPluginAsyncTypebox<{ faults: FaultState }> = async (app, { faults }) => {
  app.get('/__faults', async () => faults.get());
  app.put('/__faults', { schema: { body: faultsBody } }, async (req) => {
    const now = faults.set(req.body);
    req.log.warn({ faults: now }, 'fault injection changed');
    return now;
  });
  app.delete('/__faults', async (req) => {
    faults.clear();
    req.log.warn('fault injection cleared');
    return faults.get();
  });
};
