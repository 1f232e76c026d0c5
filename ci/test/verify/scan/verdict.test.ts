/** The scan's verdict over its checks: a failing check fails it, a skipped one is no judgement either way. */
import { describe, expect, it } from 'vitest';
import { failed, inconclusive, passed } from '../../../src/definitions/verdict.js';
import { skipped, type CheckAnswer, type ScanCheck } from '../../../src/verify/scan/check.js';
import { scanVerdict } from '../../../src/verify/scan/index.js';

const check = (name: string, answer: CheckAnswer): ScanCheck => ({ name, ...answer });

describe('scanVerdict', () => {
  it('fails naming each failing check and why', () => {
    const v = scanVerdict([
      check('secrets', failed('1 finding(s): a.ts:1 github-token')),
      check('audit', skipped('offline allowed')),
      check('dockerfile:pinned-base', passed('1 FROM line(s) pinned')),
    ]);
    expect(v).toEqual({ outcome: 'failed', reasons: ['secrets: 1 finding(s): a.ts:1 github-token'] });
  });
  it('passes with what was skipped said, and fails closed on a check that could not tell', () => {
    expect(scanVerdict([check('secrets', passed('ok')), check('audit', skipped('offline allowed'))])).toEqual({
      outcome: 'passed',
      reasons: ['1 check(s) passed; skipped: audit'],
    });
    expect(scanVerdict([check('image', inconclusive('no answer'))]).outcome).toBe('failed');
  });
});
