/**
 * --check-inputs: a step that reads a file (or an env var) it does not declare fails in the sandbox of
 * its declared inputs; one that declares what it reads passes there, with git and node_modules working.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { checkInputs } from '../../../src/verify/runner/check-inputs.js';
import type { RunnableStep } from '../../../src/verify/runner/graph.js';
import { captureStream, fixtureStep, noServices } from './fixtures/steps.js';
import { makeRepo, writeTree } from './fixtures/repo.js';

let repo: { dir: string; dispose: () => void };
beforeEach(() => {
  repo = makeRepo({
    '.gitignore': 'node_modules/\n',
    'src/a.ts': 'a',
    'fixtures/data.json': '{"n":1}',
    'README.md': 'r',
  });
  writeTree(repo.dir, {
    'node_modules/fake-pkg/index.js': 'module.exports = 42;',
    'node_modules/fake-pkg/package.json': '{"name":"fake-pkg","main":"index.js"}',
  });
});
afterEach(() => repo.dispose());

const reads = (name: string, script: string, files: string[], env: string[] = []): RunnableStep =>
  fixtureStep(name, `const fs = require('fs'); ${script}`, { cache: { mode: 'inputs', files, env, outputs: [] } });

async function check(steps: RunnableStep[], env: NodeJS.ProcessEnv = process.env) {
  const out = captureStream();
  const checks = await checkInputs({
    steps,
    concurrency: 1,
    cwd: repo.dir,
    env,
    out: out.stream,
    services: noServices,
    heartbeatMs: 0,
  });
  return { by: Object.fromEntries(checks.map((c) => [c.name, c])), text: out.text() };
}

describe('checkInputs', { timeout: 120_000 }, () => {
  it('fails a step that reads a fixture outside its globs, and passes it once the fixture is declared', async () => {
    const script = `fs.readFileSync('src/a.ts'); console.log(JSON.parse(fs.readFileSync('fixtures/data.json', 'utf8')).n)`;
    const { by, text } = await check([
      reads('narrow', script, ['src/**']),
      reads('wide', script, ['src/**', 'fixtures/**']),
    ]);
    expect(by.narrow!.result!.status).toBe('failed');
    expect(by.wide!.result!.status).toBe('passed');
    expect(by.wide!.files).toBe(2);
    expect(text).toMatch(/narrow: failed with only its declared inputs: it reads something it does not declare/);
    expect(text).toMatch(/narrow +│ .*ENOENT.*fixtures\/data\.json/);
    expect(text).toMatch(/wide: passes with only its declared inputs \(2 files\)/);
  });

  it('fails a step that needs an env var it does not declare', async () => {
    const script = `if (process.env.KGRAPH_TEST_FLAVOUR !== 'x') { console.error('no flavour'); process.exit(1) }`;
    const env = { ...process.env, KGRAPH_TEST_FLAVOUR: 'x' };
    const { by } = await check(
      [reads('undeclared', script, ['src/**']), reads('declared', script, ['src/**'], ['KGRAPH_TEST_FLAVOUR'])],
      env,
    );
    expect(by.undeclared!.result!.status).toBe('failed');
    expect(by.declared!.result!.status).toBe('passed');
  });

  it('gives the step a git repository of exactly its inputs and the installed packages', async () => {
    const script = `const files = require('child_process').execFileSync('git', ['ls-files'], { encoding: 'utf8' }).trim().split('\\n');
      if (files.join(',') !== 'src/a.ts') { console.error('git sees ' + files.join(',')); process.exit(1) }
      if (require('fake-pkg') !== 42) process.exit(2);`;
    const { by, text } = await check([reads('gitty', script, ['src/**'])]);
    expect(text).not.toMatch(/git sees/);
    expect(by.gitty!.result!.status).toBe('passed');
  });

  it('says a never-cached step has nothing to check', async () => {
    const { by, text } = await check([fixtureStep('world', '0', { cache: { mode: 'never', reason: 'measures' } })]);
    expect(by.world!.result).toBeUndefined();
    expect(text).toMatch(/world is never cached, nothing to check/);
  });
});
