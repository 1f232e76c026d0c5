import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UsageError } from '../../../src/definitions/errors.js';
import { runPipeline, type RunOptions } from '../../../src/verify/runner/run.js';
import type { RunnableStep } from '../../../src/verify/runner/graph.js';
import { alive, captureStream, fixtureStep, noServices, sleepScript } from './fixtures/steps.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kgraph-runner-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function run(steps: RunnableStep[], extra: Partial<RunOptions> = {}) {
  const out = captureStream();
  const report = await runPipeline({
    steps,
    concurrency: 2,
    cwd: dir,
    env: process.env,
    out: out.stream,
    services: noServices,
    heartbeatMs: 0,
    ...extra,
  });
  return { report, text: out.text() };
}

describe('runPipeline on fixture pipelines', () => {
  it('runs independent steps in parallel and prefixes their output', async () => {
    // Each process reports its own start and end, so the overlap is measured, not inferred from the schedule.
    const timed = (text: string) =>
      `console.log('start=' + Date.now()); setTimeout(() => console.log(${JSON.stringify(text)} + ' end=' + Date.now()), 1000)`;
    const steps = [fixtureStep('alpha', timed('alpha says hi')), fixtureStep('b', timed('b says hi'))];
    const { report, text } = await run(steps);
    expect(report.ok).toBe(true);
    expect(report.steps.map((s) => s.status)).toEqual(['passed', 'passed']);
    expect(text).toMatch(/^alpha │ alpha says hi end=\d+$/m);
    expect(text).toMatch(/^b {5}│ b says hi end=\d+$/m);
    const at = (name: string, what: 'start' | 'end') =>
      Number(new RegExp(`^${name}\\s+│ .*${what}=(\\d+)$`, 'm').exec(text)![1]);
    expect(at('alpha', 'start')).toBeLessThan(at('b', 'end'));
    expect(at('b', 'start')).toBeLessThan(at('alpha', 'end'));
    expect(text).toMatch(/step\s+result\s+duration/);
  });

  it('runs one at a time with concurrency 1', async () => {
    const steps = [fixtureStep('a', sleepScript(300)), fixtureStep('b', sleepScript(300))];
    const { report, text } = await run(steps, { concurrency: 1 });
    expect(report.ok).toBe(true);
    expect(text.indexOf('✔ a')).toBeLessThan(text.indexOf('▶ b'));
    expect(report.durationMs).toBeGreaterThanOrEqual(600);
  });

  it('starts the longest expected chain first', async () => {
    const steps = [fixtureStep('short', '0'), fixtureStep('long', '0')];
    const { text } = await run(steps, { concurrency: 1, expectedMs: (st) => (st.name === 'long' ? 60_000 : 1_000) });
    expect(text.indexOf('▶ long')).toBeLessThan(text.indexOf('▶ short'));
    expect(text.indexOf('✔ long')).toBeLessThan(text.indexOf('▶ short'));
  });

  it('runs dependents after their dependencies, with the step env', async () => {
    const file = join(dir, 'dep.txt');
    const steps = [
      fixtureStep('write', `require('fs').writeFileSync(${JSON.stringify(file)}, process.env.WHO)`, {
        env: { WHO: 'writer' },
      }),
      fixtureStep(
        'read',
        `process.stdout.write('read:' + require('fs').readFileSync(${JSON.stringify(file)}, 'utf8') + '\\n')`,
        { dependsOn: ['write'] },
      ),
    ];
    const { report, text } = await run(steps);
    expect(report.ok).toBe(true);
    expect(text).toMatch(/^read\s+│ read:writer$/m);
  });

  it('skips the dependents of a failed step and still runs the rest', async () => {
    const steps = [
      fixtureStep('bad', 'console.error("boom"); process.exit(3)'),
      fixtureStep('child', 'console.log("never")', { dependsOn: ['bad'] }),
      fixtureStep('grandchild', 'console.log("never")', { dependsOn: ['child'] }),
      fixtureStep('other', 'console.log("fine")'),
    ];
    const { report, text } = await run(steps);
    expect(report.ok).toBe(false);
    const by = Object.fromEntries(report.steps.map((s) => [s.name, s]));
    expect(by.bad).toMatchObject({ status: 'failed', exitCode: 3 });
    expect(by.bad!.reason).toMatch(/^\S*node -e 'console.error.*: exit code 3$/);
    expect(by.child).toMatchObject({ status: 'skipped', reason: 'bad failed' });
    expect(by.grandchild).toMatchObject({ status: 'skipped', reason: 'child skipped' });
    expect(by.other!.status).toBe('passed');
    expect(text).not.toMatch(/never/);
    expect(text).toMatch(/bad\s+│ boom/);
  });

  it('times a step out and kills its whole process group', async () => {
    const pidFile = join(dir, 'grandchild.pid');
    // The step starts a grandchild that would outlive it, then hangs.
    const script = `const c = require('child_process').spawn(process.execPath, ['-e', 'setTimeout(()=>{}, 60000)'], { stdio: 'ignore' });
      require('fs').writeFileSync(${JSON.stringify(pidFile)}, String(c.pid)); setTimeout(() => {}, 60000);`;
    const t0 = Date.now();
    const { report } = await run(
      [fixtureStep('slow', script, { timeoutSeconds: 1 }), fixtureStep('after', '0', { dependsOn: ['slow'] })],
      { killGraceMs: 500 },
    );
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(report.steps[0]).toMatchObject({ status: 'timedOut', reason: 'timed out after 1s' });
    expect(report.steps[1]).toMatchObject({ status: 'skipped', reason: 'slow timedOut' });
    const pid = Number(await readFile(pidFile, 'utf8'));
    await new Promise((r) => setTimeout(r, 200));
    expect(alive(pid)).toBe(false);
  });

  it('reports a command that cannot start', async () => {
    const { report } = await run([{ ...fixtureStep('ghost', '0'), commands: [['/nonexistent/kgraph-tool']] }]);
    expect(report.steps[0]).toMatchObject({ status: 'failed' });
    expect(report.steps[0]!.reason).toMatch(/could not start \/nonexistent\/kgraph-tool: .*ENOENT/);
  });

  it('fills parameters and rejects a missing one before starting anything', async () => {
    const step = {
      ...fixtureStep('p', '0'),
      params: ['env'],
      commands: [[process.execPath, '-e', 'console.log("env=" + process.argv[1])', '${env}']],
    };
    const { text } = await run([step], { params: { env: 'staging' } });
    expect(text).toMatch(/p {4}│ env=staging/);
    await expect(run([step])).rejects.toThrow(UsageError);
    await expect(run([step])).rejects.toThrow(/step p needs --env/);
  });

  it('stops running steps and skips pending ones when aborted', async () => {
    const ac = new AbortController();
    setTimeout(() => ac.abort('test'), 300);
    const steps = [fixtureStep('long', sleepScript(20_000)), fixtureStep('next', '0', { dependsOn: ['long'] })];
    const t0 = Date.now();
    const { report } = await run(steps, { signal: ac.signal, killGraceMs: 500 });
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(report.interrupted).toBe('test');
    expect(report.steps.map((s) => s.status)).toEqual(['cancelled', 'skipped']);
  });

  it('fails a step whose services cannot be provided, without running it', async () => {
    const { report, text } = await run([fixtureStep('needsdb', 'console.log("ran")', { services: ['postgres'] })]);
    expect(report.steps[0]).toMatchObject({ status: 'failed', reason: 'services: fixture has no services' });
    expect(text).not.toMatch(/ran/);
  });
});
