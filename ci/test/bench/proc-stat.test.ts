/** bench/proc-stat: a process's CPU seconds from /proc. */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { cpuSeconds } from '../../../bench/proc-stat.js';

describe('cpuSeconds', () => {
  it("grows with this process's work and is 0 for a process that is gone", () => {
    const before = cpuSeconds(process.pid);
    const end = Date.now() + 200;
    let x = 0;
    while (Date.now() < end) x += Math.sqrt(x + 1);
    expect(x).toBeGreaterThan(0);
    expect(cpuSeconds(process.pid)).toBeGreaterThan(before);
    const gone = spawnSync(process.execPath, ['-e', '0']).pid!;
    expect(cpuSeconds(gone)).toBe(0);
  });
});
