/**
 * One id per test run. Every database and Redis prefix a test file makes carries it, so teardown can
 * sweep whatever a failed or interrupted file left behind.
 */
import type { TestProject } from 'vitest/node';
import { newRunId, sweepRun } from '../ci/src/platform/services/ephemeral.js';

export default function setup(project: TestProject) {
  const runId = process.env.KGRAPH_TEST_RUN_ID ?? newRunId();
  process.env.KGRAPH_TEST_RUN_ID = runId;
  project.provide('kgraphRunId', runId);
  return async () => {
    if (project.name === 'integration' || process.env.KGRAPH_SWEEP === '1')
      await sweepRun(runId).catch(() => undefined);
  };
}

declare module 'vitest' {
  export interface ProvidedContext {
    kgraphRunId: string;
  }
}
