/**
 * CPU time of a process from /proc (user + system), for the benches that set a server's CPU per request
 * beside its throughput (app-latency, service-profile). 0 for a process that is gone.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

const CLOCK_TICKS = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout?.trim()) || 100;

export function cpuSeconds(pid: number): number {
  try {
    // Fields after the command name, which is in parentheses and may itself hold spaces or ')'.
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8')
      .replace(/^.*\) /s, '')
      .split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return 0;
  }
}
