/** The process edge (ci/src/platform/process/run.ts) on zx, with real processes. */
import { describe, expect, it } from 'vitest';
import { ProcessError, runChecked, runProcess, startProcess } from '../../../src/platform/process/run.js';

const node = (code: string, ...args: string[]) => [process.execPath, '-e', code, ...args];

describe('runProcess / runChecked', () => {
  it('passes every argument through as given: no word splitting, globbing or expansion', async () => {
    const tricky = ['a b', '$HOME', '`id`', "it's", '*', '"q"', '; rm -rf /', '$(echo x)', ''];
    const r = await runProcess({
      argv: node('process.stdout.write(JSON.stringify(process.argv.slice(1)))', ...tricky),
    });
    expect(r.exitCode).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual(tricky);
  });

  it('gives the process exactly the environment passed, stdin from input, and its cwd', async () => {
    const r = await runProcess({
      argv: node(
        'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>process.stdout.write(JSON.stringify([s,process.env.ONLY,process.env.HOME??null,process.cwd()])))',
      ),
      env: { PATH: process.env.PATH, ONLY: 'yes' },
      input: 'from stdin',
      cwd: '/tmp',
    });
    expect(JSON.parse(r.stdout)).toEqual(['from stdin', 'yes', null, '/tmp']);
  });

  it('a failure carries exit code and stderr; runChecked rejects with them', async () => {
    const spec = { argv: node('process.stderr.write("boom\\n"); process.exit(3)') };
    expect(await runProcess(spec)).toMatchObject({ exitCode: 3, stderr: 'boom\n' });
    const err = await runChecked(spec).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProcessError);
    expect(err).toMatchObject({ exitCode: 3, stderr: 'boom\n' });
    expect((err as Error).message).toMatch(/failed \(exit code 3\): boom/);
  });

  it('a command that does not exist is exit 127 with a message, not a throw', async () => {
    const r = await runProcess({ argv: ['kgraph-no-such-command-xyz', 'x'] });
    expect(r.exitCode).toBe(127);
    expect(r.stderr).toMatch(/not found/);
  });

  it('stops a process at its timeout', async () => {
    const t0 = Date.now();
    const r = await runProcess({ argv: node('setTimeout(() => {}, 20000)'), timeoutMs: 300 });
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(r.exitCode).toBeNull();
    expect(r.signal).toBe('SIGTERM');
  });

  it('keeps only the tail of the output when bounded', async () => {
    const r = await runProcess({
      argv: node('for (let i = 0; i < 2000; i++) console.log("line " + i)'),
      maxOutputChars: 1000,
    });
    expect(r.stdout.length).toBeLessThanOrEqual(1000 + 20);
    expect(r.stdout).toContain('line 1999');
    expect(r.stdout).not.toContain('line 10\n');
  });
});

describe('startProcess', () => {
  it('the pid is the program itself, so its own signal handling runs (graceful stop with its exit code)', async () => {
    const p = await startProcess({
      argv: node(
        'process.on("SIGTERM", () => { console.log("graceful"); process.exit(0) }); console.log("up"); setInterval(() => {}, 1000)',
      ),
    });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    while (!out.includes('up')) await new Promise((r) => setTimeout(r, 20));
    expect(p.pid).toBeGreaterThan(0);
    process.kill(p.pid!, 0); // alive
    p.kill('SIGTERM');
    const r = await p.done;
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain('graceful');
  });
});
