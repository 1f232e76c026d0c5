/**
 * A test file's own Postgres database and Redis prefix, created before its tests and removed after.
 * Use in integration tests (`*.int.test.ts`): `const svc = useEphemeralServices();` then read `svc.env`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, inject } from 'vitest';
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

export interface Scratch {
  /** A new empty Postgres database of its own, dropped after the test. */
  freshDatabase(): Promise<string>;
  /** A new temporary directory, removed after the test. */
  tempDir(prefix: string): string;
  /** Runs `fn` after the test, before what was made earlier (last in, first out). */
  defer(fn: () => Promise<unknown> | unknown): void;
}

/** Per-test scratch resources, all removed after each test (in reverse order of creation). */
export function useScratch(): Scratch {
  const cleanups: (() => Promise<unknown> | unknown)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });
  return {
    async freshDatabase() {
      const svc = await createEphemeralServices({ services: ['postgres'], runId: inject('kgraphRunId') });
      cleanups.push(() => svc.dispose());
      return svc.env.DATABASE_URL!;
    },
    tempDir(prefix) {
      const dir = mkdtempSync(join(tmpdir(), prefix));
      cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
      return dir;
    },
    defer(fn) {
      cleanups.push(fn);
    },
  };
}
