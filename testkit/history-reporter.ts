/**
 * A vitest reporter that records `npm test`'s results in the run history per commit (ci/src/verify/runner/history.ts),
 * as the steps they are: project "unit" is step `test`, project "integration" is step `integrationTest`. Only a
 * whole project counts: a run of some files (`vitest run path`) or some names (`-t`) proves nothing about the
 * step and records nothing.
 */
import type { Reporter, TestModule, TestRunEndReason, Vitest } from 'vitest/node';
import { headCommit } from '../ci/src/verify/policy/git.js';
import { historyDir, recordResult, treeState } from '../ci/src/verify/runner/history.js';

const STEP_OF_PROJECT: Readonly<Record<string, string>> = { unit: 'test', integration: 'integrationTest' };

export default class HistoryReporter implements Reporter {
  private vitest: Vitest | undefined;
  private started = Date.now();

  onInit(vitest: Vitest): void {
    this.vitest = vitest;
    this.started = Date.now();
  }

  async onTestRunEnd(
    modules: readonly TestModule[],
    errors: readonly unknown[],
    reason: TestRunEndReason,
  ): Promise<void> {
    const vitest = this.vitest;
    if (!vitest || reason === 'interrupted' || vitest.config.testNamePattern) return;
    const root = vitest.config.root;
    const [commit, tree] = await Promise.all([headCommit(root), treeState(root)]);
    if (!commit || !tree) return;
    for (const project of vitest.projects) {
      const step = STEP_OF_PROJECT[project.name];
      if (!step) continue;
      const ran = modules.filter((m) => m.project.name === project.name);
      const { testFiles } = await project.globTestFiles();
      if (ran.length === 0 || ran.length < testFiles.length) continue;
      const failed = ran.filter((m) => !['passed', 'skipped'].includes(m.state()));
      const status = failed.length === 0 && errors.length === 0 ? 'passed' : 'failed';
      await recordResult(
        root,
        {
          version: 1,
          commit,
          step,
          status,
          finishedAt: new Date().toISOString(),
          durationMs: Date.now() - this.started,
          source: 'npm test',
          tree,
          ...(status === 'failed'
            ? {
                reason:
                  failed.length > 0
                    ? `${failed.length} file(s) failed: ${failed
                        .slice(0, 3)
                        .map((m) => m.moduleId.replace(`${root}/`, ''))
                        .join(', ')}`
                    : `${errors.length} error(s) outside tests`,
              }
            : {}),
        },
        historyDir(process.env),
      ).catch((err: unknown) => console.warn(`run history not written: ${(err as Error).message}`));
    }
  }
}
