import { describe, expect, it } from 'vitest';
import { getEnvironment } from '../../src/definitions/environments.js';
import { exitCodeOf, FailedError, UsageError } from '../../src/definitions/errors.js';
import { classifyBranch } from '../../src/verify/policy/gitflow.js';
import { servicesModeFromEnv } from '../../src/verify/runner/services.js';
import { AllowlistError, parseAllowlist } from '../../src/verify/scan/secrets.js';
import { histogramQuantile } from '../../src/platform/metrics/histogram.js';
import { runCli } from '../../src/cli/program.js';
import { captureIo } from './io.js';

describe('exit codes: only a UsageError is bad usage', () => {
  it('a UsageError (and its kinds) is 2; a failed check is 1; an internal error, RangeError included, is 1', () => {
    expect(exitCodeOf(new UsageError('--env is required'))).toBe(2);
    expect(exitCodeOf(new AllowlistError('allowlist line 1: ...'))).toBe(2);
    expect(exitCodeOf(new FailedError('gate failed'))).toBe(1);
    expect(exitCodeOf(new RangeError('quantile must be within 0..1'))).toBe(1);
    expect(exitCodeOf(new TypeError('x is undefined'))).toBe(1);
    expect(exitCodeOf('a string')).toBe(1);
  });

  it('what a user typed or set is refused as a UsageError at its source', () => {
    expect(() => getEnvironment('qa')).toThrow(UsageError);
    expect(() => classifyBranch('feat/../x')).toThrow(UsageError);
    expect(() => servicesModeFromEnv({ KGRAPH_SERVICES: 'docker' })).toThrow(UsageError);
    expect(() => parseAllowlist('a b c')).toThrow(AllowlistError);
  });

  it('a malformed backup id is bad usage (2) before any store or database is touched', async () => {
    for (const argv of [
      ['backup', 'restore', '--from', '', '--to', 'postgres://127.0.0.1:1/none'],
      ['backup', 'verify', '--from', '../../etc/passwd', '--store', '/nonexistent'],
    ]) {
      const io = captureIo({});
      expect(await runCli(argv, io)).toBe(2);
      expect(io.err()).toMatch(/--from: ".*" is not a backup id/);
    }
  });

  it('an internal invariant stays an internal error (exit 1 with its message)', () => {
    let caught: unknown;
    try {
      histogramQuantile(1.5, []);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(RangeError);
    expect(caught).not.toBeInstanceOf(UsageError);
    expect(exitCodeOf(caught)).toBe(1);
  });
});
