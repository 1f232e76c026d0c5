/** The line-streaming start of the process edge (ci/src/platform/process/stream.ts), with real processes. */
import { describe, expect, it } from 'vitest';
import { streamProcess, type StreamName } from '../../../src/platform/process/stream.js';
import { alive } from '../../verify/runner/fixtures/steps.js';

const node = (code: string) => [process.execPath, '-e', code];

function collect() {
  const lines: [StreamName, string][] = [];
  return { lines, onLine: (stream: StreamName, line: string) => lines.push([stream, line]) };
}

describe('streamProcess', () => {
  it('joins partial writes into whole lines, per stream, and delivers a last line without a newline', async () => {
    const { lines, onLine } = collect();
    const p = streamProcess({
      argv: node(
        'process.stdout.write("par"); setTimeout(() => { process.stdout.write("tial\\nsecond\\nlast"); process.stderr.write("err line\\n"); }, 50)',
      ),
      onLine,
      capture: true,
    });
    const r = await p.done;
    expect(r.exitCode).toBe(0);
    expect(lines.filter(([s]) => s === 'stdout').map(([, l]) => l)).toEqual(['partial', 'second', 'last']);
    expect(lines.filter(([s]) => s === 'stderr').map(([, l]) => l)).toEqual(['err line']);
    expect(r.stdout).toBe('partial\nsecond\nlast');
    expect(r.stderr).toBe('err line\n');
  });

  it('reports a non-zero exit with every line printed before it', async () => {
    const { lines, onLine } = collect();
    const r = await streamProcess({ argv: node('console.error("failing"); process.exit(3)'), onLine }).done;
    expect(r).toMatchObject({ exitCode: 3, signal: null, timedOut: false, aborted: false });
    expect(r.spawnError).toBeUndefined();
    expect(lines).toEqual([['stderr', 'failing']]);
    expect(r.stdout).toBe(''); // not captured unless asked
  });

  it('kill() ends a running process with the signal given', async () => {
    const { lines, onLine } = collect();
    const p = streamProcess({ argv: node('console.log("up"); setInterval(() => {}, 1000)'), onLine });
    while (lines.length === 0) await new Promise((r) => setTimeout(r, 10));
    p.kill('SIGTERM');
    const r = await p.done;
    expect(r).toMatchObject({ exitCode: null, signal: 'SIGTERM', timedOut: false, aborted: false });
    p.kill(); // after the end: nothing, no throw
  });

  it('a command that cannot start is a result naming why, not a throw', async () => {
    const p = streamProcess({ argv: ['/nonexistent/kgraph-no-such-command'] });
    expect(p.pid).toBeUndefined();
    const r = await p.done;
    expect(r.exitCode).toBeNull();
    expect(r.spawnError).toMatch(/ENOENT/);
    expect((await streamProcess({ argv: [] }).done).spawnError).toBe('empty command');
  });

  it('a timeout stops it (SIGTERM) and says so', async () => {
    const r = await streamProcess({ argv: node('setInterval(() => {}, 1000)'), timeoutMs: 200 }).done;
    expect(r).toMatchObject({ timedOut: true, aborted: false, signal: 'SIGTERM', exitCode: null });
  });

  it('a stop that SIGTERM does not end becomes SIGKILL after the grace', async () => {
    const ac = new AbortController();
    const { lines, onLine } = collect();
    const p = streamProcess({
      argv: node(
        'process.on("SIGTERM", () => console.log("ignored")); console.log("ready"); setInterval(() => {}, 1000)',
      ),
      signal: ac.signal,
      onLine,
      killGraceMs: 200,
    });
    while (lines.length === 0) await new Promise((r) => setTimeout(r, 10)); // the handler is installed
    ac.abort();
    const r = await p.done;
    expect(r).toMatchObject({ aborted: true, timedOut: false, signal: 'SIGKILL' });
    expect(lines.map(([, l]) => l)).toEqual(['ready', 'ignored']);
  });

  it('an abort stops a detached process and its whole group, grandchildren included', async () => {
    const ac = new AbortController();
    const { lines, onLine } = collect();
    const p = streamProcess({
      argv: node(
        `const c = require("child_process").spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)"], { stdio: "ignore" }); console.log(c.pid); setInterval(() => {}, 1000)`,
      ),
      detached: true,
      signal: ac.signal,
      onLine,
      killGraceMs: 0,
    });
    while (lines.length === 0) await new Promise((r) => setTimeout(r, 10));
    const grandchild = Number(lines[0]![1]);
    expect(alive(grandchild)).toBe(true);
    ac.abort();
    const r = await p.done;
    expect(r).toMatchObject({ aborted: true, timedOut: false, signal: 'SIGKILL' });
    for (let i = 0; i < 100 && alive(grandchild); i++) await new Promise((res) => setTimeout(res, 20));
    expect(alive(grandchild)).toBe(false);
  });

  it('an already aborted signal stops the process at once', async () => {
    const ac = new AbortController();
    ac.abort();
    const r = await streamProcess({ argv: node('setInterval(() => {}, 1000)'), signal: ac.signal }).done;
    expect(r).toMatchObject({ aborted: true, signal: 'SIGTERM' });
  });
});
