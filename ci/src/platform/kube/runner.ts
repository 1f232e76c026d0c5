/**
 * The one way delivery code runs external commands (kubectl). Tests inject their own runner and assert
 * the exact argv; the real one goes through the process edge (every argument quoted, nothing interpolated)
 * and never echoes the environment (KUBECONFIG, tokens) anywhere.
 */
import { runProcess } from '../process/run.js';

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

/** kubectl (or any argv) through the process edge; a missing binary or a timeout is a result, not a throw. */
export function spawnRunner(env: NodeJS.ProcessEnv, cwd: string): CommandRunner {
  return async (cmd) => {
    const file = cmd.argv[0];
    if (!file) throw new Error('empty command');
    const r = await runProcess({
      argv: cmd.argv,
      env,
      cwd,
      input: cmd.stdin ?? '',
      ...(cmd.timeoutMs !== undefined ? { timeoutMs: cmd.timeoutMs } : {}),
    });
    if (r.exitCode === 127)
      return { exitCode: 127, stdout: r.stdout, stderr: `${r.stderr}${file} is not installed or not on PATH` };
    if (r.exitCode === null)
      return {
        exitCode: 124,
        stdout: r.stdout,
        stderr: `${r.stderr}${file} stopped by ${r.signal ?? 'a signal'} (timeout?)`,
      };
    return { exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr };
  };
}
