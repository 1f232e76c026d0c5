/** The one verdict shape: worst wins, and not knowing never passes. */
import { describe, expect, it } from 'vitest';
import {
  combine,
  failed,
  inconclusive,
  isPass,
  isVerdictOutcome,
  passed,
  VERDICT_OUTCOMES,
  worstOutcome,
} from '../../../src/definitions/verdict.js';

describe('verdict', () => {
  it('worst wins: failed over inconclusive over passed, in any order', () => {
    expect(worstOutcome(['passed', 'inconclusive', 'passed'])).toBe('inconclusive');
    expect(worstOutcome(['failed', 'inconclusive'])).toBe('failed');
    expect(worstOutcome(['inconclusive', 'failed', 'passed'])).toBe('failed');
    expect(worstOutcome(['passed', 'passed'])).toBe('passed');
  });

  it('nothing judged cannot tell', () => {
    expect(worstOutcome([])).toBe('inconclusive');
    expect(combine([], 'no rule applies')).toEqual({ outcome: 'inconclusive', reasons: ['no rule applies'] });
  });

  it('only a pass may go', () => {
    expect(VERDICT_OUTCOMES.filter((o) => isPass({ outcome: o }))).toEqual(['passed']);
  });

  it('a value read from outside is an outcome only if it is one of the three', () => {
    expect(VERDICT_OUTCOMES.every(isVerdictOutcome)).toBe(true);
    for (const v of ['PASSED', 'skipped', 'met', true, null, undefined, 0, ['passed']])
      expect(isVerdictOutcome(v)).toBe(false);
  });

  it('combined reasons are those of the worst verdicts', () => {
    const v = combine([passed('a ok'), inconclusive('b unknown'), failed('c broke', 'c again'), failed('d broke')]);
    expect(v).toEqual({ outcome: 'failed', reasons: ['c broke', 'c again', 'd broke'] });
    expect(combine([passed('a ok'), passed('b ok')])).toEqual({ outcome: 'passed', reasons: ['a ok', 'b ok'] });
  });
});
