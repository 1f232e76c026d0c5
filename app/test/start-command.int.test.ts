/**
 * The README's way to start the service, run as written: the process it starts is the server itself, so
 * a SIGTERM sent to it (what a supervisor, a terminal or `kill` does) reaches the server's graceful shutdown.
 * `npx tsx ...` did not: npx took the signal and left the server running without a parent.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { startProcess } from '../../ci/src/platform/process/run.js';
import { REPO_ROOT } from '../../ci/src/platform/repo-root.js';
import { useEphemeralServices } from '../../testkit/services.js';
import { API_KEY } from './support.js';

const svc = useEphemeralServices();

/** The commands in fenced blocks of the README that start the server (`... && node app/dist/main.js`). */
function startCommands(): string[] {
  const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
  const blocks = [...readme.matchAll(/```(?:bash|sh)?\n([\s\S]*?)```/g)].map((m) => m[1]!);
  return blocks
    .flatMap((b) => b.split('\n'))
    .flatMap((l) => l.replace(/\s+#.*$/, '').split(/&&|;/))
    .map((c) => c.trim())
    .filter((c) => /(^|\s)app\/(src\/main\.ts|dist\/main\.js)$/.test(c));
}

/**
 * The same process as the README's command, run from source (tsx loads in-process: still one node process),
 * so the test never runs a stale app/dist.
 */
function runnable(command: string): string[] {
  const argv = command
    .replace(/^exec /, '')
    .split(/\s+/)
    .slice(1);
  const file = argv.at(-1)!;
  if (!file.startsWith('app/dist/')) return argv;
  return [...argv.slice(0, -1), '--import', 'tsx', file.replace('app/dist/', 'app/src/').replace(/\.js$/, '.ts')];
}

describe("the README's start command", () => {
  it('starts the server process itself (node), not a wrapper that keeps the signal (npx, npm exec)', () => {
    const commands = startCommands();
    expect(commands.length).toBeGreaterThan(0);
    for (const c of commands) expect(c).toMatch(/^(exec )?node /);
  });

  it('stops gracefully on SIGTERM sent to the process it starts: exit 0, shutdown complete', async () => {
    const [command] = startCommands();
    const child = await startProcess({
      argv: [process.execPath, ...runnable(command!)],
      cwd: REPO_ROOT,
      env: {
        PATH: process.env.PATH,
        ...svc.current.env,
        ENVIRONMENT: 'dev',
        API_KEYS: API_KEY,
        // Port 0: the kernel picks a free one, so a second copy of the suite never collides with this one.
        PORT: '0',
        HOST: '127.0.0.1',
        LOG_LEVEL: 'info',
        SHUTDOWN_DELAY_MS: '100',
      },
      input: '',
      maxOutputChars: 256 * 1024,
    });
    // Whatever fails below, the server this test started does not outlive it.
    let ended = false;
    void child.done.then(() => (ended = true));
    onTestFinished(() => {
      if (!ended) child.kill('SIGKILL');
    });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
    // tsx compiles the service first: on a busy machine (a second suite beside this one) that takes a while.
    const deadline = Date.now() + 110_000;
    while (!out.includes('service ready to accept requests') && Date.now() < deadline) {
      const exited = await Promise.race([child.done, new Promise((r) => setTimeout(() => r(undefined), 100))]);
      if (exited) throw new Error(`the service exited before it was ready:\n${out.slice(-2000)}`);
    }
    expect(out).toContain('service ready to accept requests');
    process.kill(child.pid!, 'SIGTERM');
    const result = await child.done;
    expect({ exitCode: result.exitCode, signal: result.signal }).toEqual({ exitCode: 0, signal: null });
    expect(out).toContain('shutdown: complete');
  }, 150_000);
});
