/**
 * A test file's own Postgres database and Redis prefix, created before its tests and removed after.
 * Use in integration tests (`*.int.test.ts`): `const svc = useEphemeralServices();` then read `svc.env`.
 */
import { afterAll, beforeAll, inject } from 'vitest';
import { createEphemeralServices, type EphemeralServices } from '../ci/src/platform/services/ephemeral.js';
import type { ServiceName } from '../ci/src/definitions/steps.js';

export function useEphemeralServices(services: readonly ServiceName[] = ['postgres', 'redis']): {
  readonly current: EphemeralServices;
} {
  const holder = {} as { current: EphemeralServices };
  beforeAll(async () => {
    holder.current = await createEphemeralServices({ services, runId: inject('kgraphRunId') });
  });
  afterAll(async () => {
    await holder.current?.dispose();
  });
  return holder;
}
