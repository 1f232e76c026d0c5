/**
 * The one way delivery code runs external commands (kubectl). Tests inject their own runner and assert
 * the exact argv; the real one spawns without a shell, so nothing is interpolated, and never echoes the
 * environment (KUBECONFIG, tokens) anywhere.
 */
import { spawn } from 'node:child_process';

export interface CommandSpec {
  readonly argv: readonly string[];
  /** Written to the command's stdin (`kubectl apply -f -`). */
  readonly stdin?: string;
  readonly timeoutMs?: number;
}

export interface CommandResult {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

export type CommandRunner = (cmd: CommandSpec) => Promise<CommandResult>;

export function spawnRunner(env: NodeJS.ProcessEnv, cwd: string): CommandRunner {
  return (cmd) =>
    new Promise((resolvePromise) => {
      const [file, ...args] = cmd.argv;
      if (!file) throw new Error('empty command');
      const child = spawn(file, args, { env, cwd, stdio: ['pipe', 'pipe', 'pipe'], timeout: cmd.timeoutMs });
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
      child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      child.on('error', (err: NodeJS.ErrnoException) => {
        const why = err.code === 'ENOENT' ? `${file} is not installed or not on PATH` : err.message;
        resolvePromise({ exitCode: 127, stdout, stderr: `${stderr}${why}` });
      });
      child.on('close', (code, signal) => {
        resolvePromise({ exitCode: code ?? (signal ? 124 : 1), stdout, stderr: signal ? `${stderr}${file} stopped by ${signal} (timeout?)` : stderr });
      });
      child.stdin.on('error', () => undefined);
      child.stdin.end(cmd.stdin ?? '');
    });
}
