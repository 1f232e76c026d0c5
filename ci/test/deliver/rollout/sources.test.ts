import { describe, expect, it } from 'vitest';
import { failureSources, failureSourcesText, warnLine } from '../../../src/deliver/rollout/sources.js';

const pino = (level: number, msg: string, extra: Record<string, unknown> = {}) =>
  JSON.stringify({ level, time: Date.UTC(2026, 0, 1, 12, 0, 0, 5), msg, ...extra });

describe('failureSources', () => {
  it('groups server errors by the instance that answered, with its warn-or-worse lines, and skips the rest', () => {
    const logs: Record<string, string> = {
      'previous-7': [
        pino(30, 'request completed'),
        pino(40, 'database unavailable', { err: { message: 'timeout exceeded when trying to connect' } }),
        'not json',
      ].join('\n'),
    };
    const got = failureSources(
      [
        { at: 10, status: 200, version: 'previous', instance: 'previous-7' },
        { at: 11, status: 503, version: 'previous', instance: 'previous-7' },
        { at: 15, status: 503, version: 'previous', instance: 'previous-7' },
        { at: 12, status: 429, version: 'candidate', instance: 'candidate-4' },
        { at: 13, status: 503, version: 'none', instance: 'none' },
      ],
      (id) => logs[id],
    );
    expect(got).toEqual([
      {
        instance: 'previous-7',
        version: 'previous',
        statuses: { 503: 2 },
        first: 11,
        last: 15,
        logLines: ['12:00:00.005 warn database unavailable: timeout exceeded when trying to connect'],
      },
      { instance: 'none', version: 'none', statuses: { 503: 1 }, first: 13, last: 13, logLines: [] },
    ]);
    const text = failureSourcesText(got);
    expect(text).toContain('previous-7 (previous): 2x 503');
    expect(text).toContain('the proxy (no instance in rotation): 1x 503');
    expect(text).toContain('(it logged nothing at warn or above)');
  });

  it('nothing failed: no section; info lines and non-JSON are not warn lines', () => {
    expect(failureSourcesText(failureSources([{ at: 1, status: 200, version: 'x', instance: 'a' }], () => ''))).toBe(
      '',
    );
    expect(warnLine(pino(30, 'fine'))).toBeUndefined();
    expect(warnLine('{oops')).toBeUndefined();
    expect(warnLine(pino(50, 'boom', { reason: 'why' }))).toBe('12:00:00.005 error boom: why');
  });
});
