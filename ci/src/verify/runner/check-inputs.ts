/**
 * `run --check-inputs`: each selected cached step alone in a sandbox of its declared inputs (see
 * cache/sandbox.ts). A failure there means the step reads something it does not declare.
 */
import { isSuccess } from '../../platform/outcome.js';
import { inputsOf } from './cache/key.js';
import { sandboxFor } from './cache/sandbox.js';
import { snapshotTree } from './cache/tree.js';
import { runPipeline, type RunOptions } from './run.js';
import type { StepResult } from './types.js';

export interface InputCheck {
  readonly name: string;
  /** Undefined when the step is not cached, so there is nothing to check. */
  readonly result?: StepResult;
  readonly files?: number;
}

export async function checkInputs(opts: Omit<RunOptions, 'cache' | 'expectedMs'>): Promise<InputCheck[]> {
  const say = (line: string) => opts.out.write(`${line}\n`);
  const tree = await snapshotTree(opts.cwd);
  if (!tree) throw new Error('--check-inputs needs a git work tree to list the inputs from');
  const checks: InputCheck[] = [];
  for (const step of opts.steps) {
    if (!inputsOf(step)) {
      say(`check-inputs: ${step.name} is never cached, nothing to check`);
      checks.push({ name: step.name });
      continue;
    }
    const box = await sandboxFor(step, opts.cwd, tree, opts.env);
    try {
      say(`check-inputs: ${step.name} in ${box.dir} with only its ${box.files} declared input file(s)`);
      const report = await runPipeline({
        ...opts,
        steps: [step],
        cwd: box.dir,
        env: box.env,
        concurrency: 1,
        cache: { off: '--check-inputs' },
      });
      checks.push({ name: step.name, result: report.steps[0]!, files: box.files });
    } finally {
      await box.dispose();
    }
  }
  say('');
  for (const c of checks) {
    if (!c.result) say(`  ${c.name}: never cached`);
    else if (isSuccess(c.result.status)) say(`  ${c.name}: passes with only its declared inputs (${c.files} files)`);
    else
      say(
        `  ${c.name}: ${c.result.status} with only its declared inputs: it reads something it does not declare (${c.result.reason ?? 'see its output above'})`,
      );
  }
  return checks;
}
