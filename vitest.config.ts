import { defineConfig } from 'vitest/config';

// Two projects, one per pipeline step: `unit` needs nothing, `integration` needs Postgres and Redis
// (the step table in ci/src/definitions/steps.ts says so; the runner and the Dagger module provide them).
const integration = ['**/*.int.test.ts'];
const globalSetup = ['testkit/global-setup.ts'];
const exclude = ['**/node_modules/**', '**/dist/**', 'dagger/sdk/**'];

/** `--project NAME` on the command line names the JUnit file, so the runner's two test steps never share one. */
const projectArg = process.argv[process.argv.indexOf('--project') + 1];
const junitName = process.argv.includes('--project') && projectArg ? projectArg : 'all';

export default defineConfig({
  test: {
    // The terminal, JUnit XML for CI viewers, and the run history per commit that the checklist and
    // `kgraph-ci run --affected` read (testkit/history-reporter.ts).
    reporters: [
      'default',
      ['junit', { outputFile: `.reports/junit/vitest-${junitName}.xml` }],
      './testkit/history-reporter.ts',
    ],
    projects: [
      {
        test: {
          name: 'unit',
          globalSetup,
          include: ['**/*.test.ts'],
          exclude: [...exclude, ...integration],
          // Vitest's 5 s default fails tests that start a process or hash the tree on a busy machine (a second
          // copy of the suite beside this one): a hang still fails, at 30 s.
          testTimeout: 30_000,
        },
      },
      {
        test: {
          name: 'integration',
          globalSetup,
          include: integration,
          exclude,
          // Generous on purpose: these start real services and processes, and a busy machine (a second copy of
          // the suite beside this one) makes that take minutes. A hang still fails; a slow machine does not.
          testTimeout: 180_000,
          hookTimeout: 180_000,
          // Each file gets its own database; two workers keep the 2-core machines busy without thrashing.
          maxWorkers: 2,
          // Vitest 4 refuses projects with different maxWorkers in one sequence group.
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
