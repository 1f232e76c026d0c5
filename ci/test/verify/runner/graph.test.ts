import { describe, expect, it } from 'vitest';
import {
  criticalPathOrder,
  expectedDurations,
  findCycle,
  selectSteps,
  SelectionError,
  topoOrder,
  validateTable,
} from '../../../src/verify/runner/graph.js';
import { fixtureStep } from './fixtures/steps.js';

const s = (name: string, dependsOn: string[] = [], extra = {}) => fixtureStep(name, '0', { dependsOn, ...extra });

describe('validateTable', () => {
  it('accepts a sound table', () => {
    expect(validateTable([s('a'), s('b', ['a']), s('c', ['a', 'b'])])).toEqual([]);
  });
  it.each([
    ['unknown dependency', [s('a', ['zz'])], /depends on unknown step zz/],
    ['self dependency', [s('a', ['a'])], /depends on itself/],
    ['cycle', [s('a', ['c']), s('b', ['a']), s('c', ['b'])], /dependency cycle: a → c → b → a/],
    ['duplicate', [s('a'), s('a')], /defined 2 times/],
    ['cliName not kebab', [s('fooBar', [], { cliName: 'fooBar' })], /not kebab-case/],
    ['empty command', [{ ...s('a'), commands: [[]] }], /empty command/],
    ['zero timeout', [s('a', [], { timeoutSeconds: 0 })], /timeoutSeconds/],
    ['undeclared param', [{ ...s('a'), commands: [['x', '${env}']] }], /does not declare/],
  ])('reports %s', (_label, table, re) => {
    expect(validateTable(table).join('\n')).toMatch(re);
  });
});

describe('selectSteps', () => {
  const table = [
    s('lint'),
    s('typecheck'),
    s('build', ['typecheck']),
    s('scan', ['build']),
    s('deploy', [], { inAll: false, cliName: 'deploy-it' }),
  ];
  it('pulls in dependencies in order', () => {
    expect(selectSteps(table, ['scan']).map((x) => x.name)).toEqual(['typecheck', 'build', 'scan']);
  });
  it('runs only the named steps with withDependencies false', () => {
    expect(selectSteps(table, ['scan'], { withDependencies: false }).map((x) => x.name)).toEqual(['scan']);
  });
  it('all means inAll steps, in table order', () => {
    expect(selectSteps(table, ['all']).map((x) => x.name)).toEqual(['lint', 'typecheck', 'build', 'scan']);
  });
  it('accepts cliNames and ignores repeats', () => {
    expect(selectSteps(table, ['deploy-it', 'deploy']).map((x) => x.name)).toEqual(['deploy']);
  });
  it('names the valid steps when one is unknown', () => {
    expect(() => selectSteps(table, ['lnt'])).toThrow(/unknown step "lnt": expected all or one of lint, typecheck/);
    expect(() => selectSteps(table, [])).toThrow(SelectionError);
  });
  it('orders dependencies before dependents whatever the table order', () => {
    const order = topoOrder([s('c', ['b']), s('b', ['a']), s('a')]).map((x) => x.name);
    expect(order).toEqual(['a', 'b', 'c']);
    expect(findCycle([s('a', ['b']), s('b', ['a'])])).toEqual(['a', 'b', 'a']);
    expect(() => topoOrder([s('a', ['b']), s('b', ['a'])])).toThrow(/cycle/);
  });
});

describe('criticalPathOrder', () => {
  const table = [
    s('lint'),
    s('typecheck'),
    s('test'),
    s('integrationTest'),
    s('build', ['typecheck']),
    s('gate', ['build']),
  ];
  const ms: Record<string, number> = { lint: 5, typecheck: 30, test: 60, integrationTest: 90, build: 20, gate: 60 };
  it('starts the heaviest chain first and stays topological', () => {
    const order = criticalPathOrder(table, (x) => ms[x.name]!).map((x) => x.name);
    expect(order).toEqual(['typecheck', 'integrationTest', 'build', 'test', 'gate', 'lint']);
    expect(topoOrder(criticalPathOrder(table, (x) => ms[x.name]!)).map((x) => x.name)).toEqual(order);
  });
  it('keeps table order among equals', () => {
    expect(criticalPathOrder([s('a'), s('b'), s('c')], () => 1).map((x) => x.name)).toEqual(['a', 'b', 'c']);
  });
  it('estimates from the last passed run, else the timeout', () => {
    const est = expectedDurations({
      steps: [
        { name: 'lint', status: 'passed', durationMs: 1234 },
        { name: 'test', status: 'failed', durationMs: 5 },
      ],
    });
    expect(est(s('lint'))).toBe(1234);
    expect(est(s('test'))).toBe(30_000);
    expect(expectedDurations(undefined)(s('x', [], { timeoutSeconds: 7 }))).toBe(7000);
    expect(expectedDurations('garbage')(s('x'))).toBe(30_000);
  });
});
